"""Public shapes of rankings, recommendations, what-if replays and agreement reviews."""

from typing import Any, Literal

from pledge_common.durations import Duration, LimitText
from pledge_common.instants import Instant
from pledge_common.money import Amount
from pledge_common.pagination import Page
from pydantic import BaseModel, ConfigDict, Field

from evaluation_svc.reports.schemas import Rate
from evaluation_svc.settlement.schemas import (
    AvailabilityAchievement,
    CommitmentAchievement,
    Satisfaction,
    SettledRunOut,
)

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
    from_: Instant = Field(alias="from")
    to: Instant
    as_of: Instant
    min_sample: int
    ranked: list[RankedGroup] = Field(description="best first: highest share of normal runs")
    top: list[RankedGroup]
    bottom: list[RankedGroup] = Field(description="worst first")
    insufficient: list[RankedGroup] = Field(description="groups under the minimum sample, not ranked")


class HandlingTime(Out):
    """Counted time of the completed runs, exact (nearest-rank percentiles, never interpolated)."""

    completed: int
    mean: Duration | None
    median: Duration | None
    p90: Duration | None
    mean_seconds: float | None
    median_seconds: float | None
    p90_seconds: float | None


class Recommendation(Out):
    commitment_id: str
    commitment_key: str = Field(alias="commitment")
    version: int
    process_key: str = Field(alias="process")
    node_key: str | None = Field(alias="node")
    segment_key: str = Field(alias="segment")
    limit_unit: str
    commitment_limit: LimitText
    tolerance_limit: LimitText
    judged: int
    completed: int
    achievement: Rate = Field(description="share of normal runs (within the commitment limit)")
    within_tolerance: Rate = Field(description="share of normal or acceptable runs")
    handling_time: HandlingTime
    recommendation: Literal["raise", "improve", "keep", "insufficient_data"]
    reason: str
    suggested_commitment_limit: LimitText | None = Field(
        description="in the commitment's own unit (`limit_unit`): a duration rounded up to the minute (PT25M), "
        "or business days (P3D); the counted time `target_rate` of the completed runs did not exceed (exact)"
    )
    suggested_tolerance_limit: LimitText | None = Field(
        description="likewise for `tolerance_target_rate`; never below the suggested commitment limit"
    )
    suggestion_capped: bool = Field(
        description="a raise whose percentile was looser than today's limit: today's limit is suggested instead"
    )


class Recommendations(Page[Recommendation]):
    """The page envelope (by process, node, commitment, version), with the report's window and thresholds."""

    model_config = ConfigDict(populate_by_name=True)
    from_: Instant = Field(alias="from")
    to: Instant
    as_of: Instant
    raise_at: float
    improve_at: float
    min_sample: int
    target_rate: float
    tolerance_target_rate: float


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

    from_: Instant = Field(alias="from")
    to: Instant
    commitment_key: str = Field(
        alias="commitment", description="the commitment whose runs are replayed (all its versions)"
    )
    commitment_limit: LimitText | None = Field(default=None, description="proposed limit, ISO 8601 (PT4H, or P3D)")
    tolerance_limit: LimitText | None = None
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
    from_: Instant = Field(alias="from")
    to: Instant
    as_of: Instant
    commitment_key: str = Field(alias="commitment")
    proposal: dict[str, Any]
    replayed_runs: int
    groups: list[WhatIfGroup]
    overall: WhatIfGroup


class CoveredCommitment(Out):
    commitment_key: str = Field(alias="commitment")
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
    period: str = Field(description="the billing period in which the run ended")
    node_run_id: str
    ticket_id: str
    work_order: str | None = Field(description="the work order's number in its source system (external id)")
    commitment_key: str | None = Field(alias="commitment")
    reason: str


class PenaltyItem(Out):
    period: str = Field(description="the billing period that charges it")
    clause: int = Field(description="index of the penalty clause in the agreement")
    kind: str
    commitment_key: str | None = Field(alias="commitment")
    node_run_id: str | None = None
    ticket_id: str | None = None
    work_order: str | None = Field(default=None, description="the work order's number in its source system")
    outage_id: str | None = Field(default=None, description="per_outage_over_limit: the outage charged")
    service: str | None = Field(default=None, description="the lines of availability commitments: the service")
    amount: Amount
    currency: str
    reason: str


class ReviewedPeriod(Out):
    period: str
    from_: Instant = Field(alias="from")
    to: Instant
    status: str = Field(description="approved: the frozen settlement; draft or preview: computed from the data")
    achievement: list[CommitmentAchievement]
    availability: list[AvailabilityAchievement] = Field(
        default_factory=list, description="covered availability commitments per service: a population apart"
    )
    satisfaction: Satisfaction | None
    satisfaction_unavailable: str | None = None
    pending: list[SettledRunOut] = Field(description="runs open past tolerance at the period's close: 0 charged")
    penalties: Amount
    credit: Amount = Field(description="penalties, at most the cap")
    adjustments: Amount
    credits: Amount
    amount_due: Amount | None


class AgreementReview(Out):
    agreement: dict[str, Any]
    from_: Instant = Field(alias="from")
    to: Instant
    as_of: Instant
    billing: dict[str, Any] = Field(description="the agreement's billing period, time zone, fee and cap")
    periods: list[ReviewedPeriod] = Field(description="each billing period the review overlaps, settled whole")
    commitments: list[CoveredCommitment]
    exemptions: dict[str, Any]
    excluded: list[ExcludedRun]
    penalties: list[PenaltyItem]
    totals: dict[str, Amount] = Field(description="credits per currency: the sum of the periods' credits")
