"""Public shapes of rankings, recommendations, what-if replays and agreement reviews."""

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pledge_common.durations import Duration
from pydantic import BaseModel, ConfigDict, Field

from evaluation_svc.reports.schemas import Rate

GroupDimension = Literal["process", "node", "segment", "department", "position", "source"]


class Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class RankedGroup(Out):
    rank: int | None
    key: str | None
    name: str | None
    runs: int
    judged: int
    normal: Rate


class Rankings(Out):
    by: str
    population: Literal["node", "end_to_end"] = Field(
        description="the population ranked: node runs (default) or tickets judged end to end, never both"
    )
    from_: datetime = Field(alias="from")
    to: datetime
    as_of: datetime
    min_sample: int
    ranked: list[RankedGroup] = Field(description="best first: highest share of normal runs")
    top: list[RankedGroup]
    bottom: list[RankedGroup] = Field(description="worst first")
    insufficient: list[RankedGroup] = Field(description="groups under the minimum sample, not ranked")


class Recommendation(Out):
    commitment_id: str
    commitment_key: str
    version: int
    process_key: str
    node_key: str | None
    segment_key: str
    limit_unit: str
    commitment_limit: str
    tolerance_limit: str
    judged: int
    completed: int
    achievement: Rate = Field(description="share of normal runs (within the commitment limit)")
    within_tolerance: Rate = Field(description="share of normal or acceptable runs")
    recommendation: Literal["raise", "improve", "keep", "insufficient_data"]
    reason: str
    suggested_commitment_limit: Duration | None = Field(
        description="counted time that `target_rate` of the completed runs met (the data-calibrated limit)"
    )
    suggested_tolerance_limit: Duration | None = Field(
        description="counted time that `tolerance_target_rate` of the completed runs met"
    )


class Recommendations(Out):
    from_: datetime = Field(alias="from")
    to: datetime
    as_of: datetime
    raise_at: float
    improve_at: float
    min_sample: int
    target_rate: float
    tolerance_target_rate: float
    items: list[Recommendation]


class CalendarSpec(BaseModel):
    """A proposed business calendar (same shape as commitment-svc's calendars)."""

    model_config = ConfigDict(extra="forbid")

    timezone: str
    weekly: dict[str, list[tuple[str, str]]]
    holidays: list[str] = Field(default_factory=list)
    extra_working_days: list[str] = Field(default_factory=list)
    extra_day_windows: list[tuple[str, str]] | None = None


def _by_node() -> list[GroupDimension]:
    return ["node"]


class WhatIfRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime
    commitment_key: str = Field(description="the commitment whose runs are replayed (all its versions)")
    commitment_limit: str | None = Field(default=None, description="proposed limit, ISO 8601 (PT4H, or P3D)")
    tolerance_limit: str | None = None
    limit_unit: Literal["duration", "business_days"] | None = None
    calendar: CalendarSpec | None = Field(default=None, description="a proposed calendar instead of the version's")
    allowed_pause_reasons: list[str] | None = None
    group_by: list[GroupDimension] = Field(default_factory=_by_node)


class Outcome(Out):
    judged: int
    normal: Rate
    acceptable: Rate
    warning: Rate


class WhatIfGroup(Out):
    group: dict[str, str | None]
    runs: int
    actual: Outcome
    proposed: Outcome


class WhatIfReport(Out):
    from_: datetime = Field(alias="from")
    to: datetime
    as_of: datetime
    commitment_key: str
    proposal: dict[str, Any]
    replayed_runs: int
    groups: list[WhatIfGroup]
    overall: WhatIfGroup


class CoveredCommitment(Out):
    commitment_key: str
    target_rate: float
    runs: int
    judged: int
    cancelled: int
    excluded: int = Field(description="runs excluded by force majeure")
    relieved_by_exemptions: int = Field(
        description="runs the agreement's exemption pause reasons moved to a better state"
    )
    normal: Rate
    met: bool | None = Field(description="share of normal runs ≥ target (null without judged runs)")


class ExcludedRun(Out):
    node_run_id: str
    ticket_id: str
    commitment_key: str | None
    reason: str


class PenaltyItem(Out):
    clause: int = Field(description="index of the penalty clause in the agreement")
    kind: str
    commitment_key: str | None
    node_run_id: str | None = None
    ticket_id: str | None = None
    amount: Decimal
    currency: str
    reason: str


class AgreementReview(Out):
    agreement: dict[str, Any]
    from_: datetime = Field(alias="from")
    to: datetime
    as_of: datetime
    commitments: list[CoveredCommitment]
    exemptions: dict[str, Any]
    excluded: list[ExcludedRun]
    penalties: list[PenaltyItem]
    totals: dict[str, Decimal] = Field(description="penalties due per currency")
