"""Public shapes of the reports (responses; the inputs are query parameters, see router.py)."""

import math
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, Literal

from pledge_common.durations import Duration, LimitText
from pledge_common.instants import Instant
from pledge_common.pagination import Page
from pydantic import BaseModel, ConfigDict, Field

from evaluation_svc.reports.instants import Reached, as_of
from evaluation_svc.reports.populations import Population, counts_as_exempted
from evaluation_svc.reports.query import agreement_key


class Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class BucketPublic(Out):
    start: Instant | None = Field(description="start of the period (null: every run started by as_of)")
    end: Instant | None = Field(description="end of the period, exclusive")
    as_of: Instant = Field(description="the instant runs are judged at: min(end, now)")


class AgreementRef(Out):
    """An agreement a report is grouped by (the version the groups follow)."""

    id: str = Field(description="id of the version")
    key: str = Field(description="the value of `agreement` in the groups")
    version: int
    kind: str = Field(description="`sla` or `ola`")
    title: str
    status: str

    @classmethod
    def from_payload(cls, agreement: Mapping[str, Any]) -> "AgreementRef":
        return cls(
            id=str(agreement["id"]),
            key=agreement_key(agreement),
            version=int(agreement.get("version") or 1),
            kind=str(agreement.get("kind") or "sla"),
            title=str(agreement.get("title") or ""),
            status=str(agreement.get("status") or "draft"),
        )


AGREEMENTS = "with `group_by=agreement`: the agreements of the groups, by key (otherwise empty)"


POPULATION_DESCRIPTION = (
    "`node`: node runs; `end_to_end`: tickets judged as a whole (a commitment without a node). The two are"
    " different populations: no row, total or share ever holds both"
)


class StatusRow(Out):
    bucket: BucketPublic
    population: Population = Field(description=POPULATION_DESCRIPTION)
    group: dict[str, str | None]
    counts: dict[str, int] = Field(description="runs per state (the seven states, and `unjudged`)")
    total: int
    exempted: int = Field(
        description="of the runs counted, how many an agreement's force majeure exempts (never a cancelled run:"
        " cancelled comes first, see docs/reports.md)"
    )
    links: dict[str, str] = Field(description="per state: the node runs behind the cell (cursor-paginated)")


ServicePopulation = Literal["availability", "count", "frequency", "clause"]


class ServiceStatusRow(Out):
    """One service commitment in one bucket: its judged units (outages, samples, intervals, the deliverable)
    per state, a population of its own (docs/kinds.md): never summed with runs nor with another kind."""

    bucket: BucketPublic
    population: ServicePopulation = Field(description="the commitment's kind: what a unit is")
    group: dict[str, str | None] = Field(description="`commitment` and `service`")
    counts: dict[str, int] = Field(description="units per state (the seven states)")
    total: int
    exempted: int = Field(description="availability: planned outages the objective exempts (not in counts)")


class StatusReport(Out):
    as_of: Instant
    from_: Instant | None = Field(alias="from")
    to: Instant | None
    bucket: str | None
    timezone: str
    group_by: list[str]
    states: list[str]
    rows: list[StatusRow]
    totals: list[StatusRow] = Field(
        description="per process and population (and bucket): the sum of its rows of that population; with"
        " `group_by=agreement`, per agreement, process and population"
    )
    agreements: list[AgreementRef] = Field(default_factory=list, description=AGREEMENTS)
    services: list[ServiceStatusRow] = Field(
        default_factory=list,
        description="per period bucket, the service commitments (availability, count, frequency, clause) as"
        " populations of their own; empty for a report as of an instant, grouped or filtered by what only runs"
        " have (process, node, position, source, ticket, agreement, scope)",
    )


class Rate(Out):
    count: int
    share: float | None = Field(description="count / judged (null without judged runs)")
    interval: tuple[float, float] | None = Field(description="95 % Wilson score interval of the share")


class DurationBounds(Out):
    from_: Duration = Field(alias="from", description="the lower bound (floor of the bucket's, whole seconds)")
    to: Duration = Field(description="the upper bound, exclusive (ceiling of the bucket's, whole seconds)")


PERCENTILE = (
    "the mean counted time of the completed runs in the histogram bucket holding the percentile's rank"
    " (nearest rank; runs of equal duration give exactly their value)"
)
BOUNDS = "the true nearest-rank value lies within these, at most 2 % apart (its histogram bucket)"


class DurationStats(Out):
    completed: int = Field(description="completed, non-exempted runs behind the mean and percentiles")
    mean: Duration | None = Field(description="the exact mean counted time (sum of counted seconds / completed)")
    median: Duration | None = Field(description=PERCENTILE)
    p90: Duration | None = Field(description=PERCENTILE)
    mean_seconds: float | None
    median_seconds: float | None
    p90_seconds: float | None
    median_bounds: DurationBounds | None = Field(description=BOUNDS)
    p90_bounds: DurationBounds | None = Field(description=BOUNDS)


class AchievementGroup(Out):
    bucket: BucketPublic
    population: Population = Field(description=POPULATION_DESCRIPTION)
    group: dict[str, str | None]
    runs: int = Field(description="every run active in the period, whatever its state")
    judged: int = Field(description="runs the rates are over: not cancelled, not exempted, with a commitment")
    normal: Rate
    acceptable: Rate
    warning: Rate
    completed: int
    in_progress: int
    cancelled: int
    exempted: int
    unjudged: int
    counted_duration: DurationStats


class AchievementReport(Out):
    from_: Instant | None = Field(alias="from")
    to: Instant | None
    as_of: Instant
    bucket: str | None
    timezone: str
    group_by: list[str]
    groups: list[AchievementGroup]
    overall: list[AchievementGroup] = Field(
        description="all groups together, per bucket and population (node runs, then end-to-end runs, as the"
        " `scope` keeps them), each run once (a run in several agreements' groups too)"
    )
    agreements: list[AgreementRef] = Field(default_factory=list, description=AGREEMENTS)


class ReportPausePublic(Out):
    start: Instant
    end: Instant | None
    reason: str


class ReportRunPublic(Out):
    id: str
    kind: str = Field(description="`node`, or `ticket` for a ticket judged end to end")
    ticket_id: str
    source: str
    external_id: str | None
    process_key: str = Field(alias="process")
    node_key: str | None = Field(alias="node")
    segment: str
    customer_ref: str | None = Field(alias="customer")
    cycle: int
    department: str | None
    position: str | None
    status: str = Field(description="status as of the report's as_of: a run that ended later is `in_progress`")
    current_status: str = Field(description="status now (`pending`, `in_progress`, `completed`, `cancelled`)")
    started_at: Instant | None
    completed_at: Instant | None
    cancelled_at: Instant | None
    pauses: list[ReportPausePublic]
    commitment_id: str | None
    commitment_key: str | None = Field(alias="commitment")
    limit_unit: str | None = Field(default=None, description="`duration` or `business_days` (of the version)")
    commitment_limit: LimitText | None = Field(default=None, description="the version's commitment limit (ISO 8601)")
    tolerance_limit: LimitText | None = Field(default=None, description="the version's tolerance limit (ISO 8601)")
    prewarning_due_at: Instant | None
    commitment_due_at: Instant | None = Field(
        description="judging instant: the last instant at which counted time does not exceed the commitment limit"
    )
    tolerance_due_at: Instant | None = Field(description="likewise for the tolerance limit")
    prewarning_reached_at: Instant | None = Field(
        default=None, description="when counted time first reaches the pre-warning point"
    )
    commitment_reached_at: Instant | None = Field(
        default=None,
        description="the deadline a person reads: when counted time first equals the commitment limit (for 3"
        " business days, the end of the third working day); `commitment_due_at` may be later, when work resumes",
    )
    tolerance_reached_at: Instant | None = Field(
        default=None, description="when counted time first equals the tolerance limit"
    )
    counted: Duration | None = Field(
        description="counted time at completion as of the report's as_of (null for a run not completed by then),"
        " rounded up to whole seconds"
    )
    state: str | None = Field(description="state as of the report's as_of")
    exempted: bool = Field(description="an agreement's force majeure exempts it (never a cancelled run)")
    ended_by_ticket: bool = Field(
        default=False, description="ended by its ticket's close (completed) or cancellation, not by a node event"
    )

    @classmethod
    def from_row(
        cls, row: dict[str, Any], t: datetime | None = None, reached: Reached | None = None
    ) -> "ReportRunPublic":
        """A stored run as of `t` (`row["status"]` is its status now; without `t`, as it is now)."""
        status, seconds = row["status"], row.get("counted_seconds")
        if t is not None:
            seen = as_of(t, status=status, ended_at=row.get("ended_at"), counted_seconds=seconds)
            status, seconds = seen.status, seen.counted_seconds
        skip = {"counted", "pauses", "exempted", "status"}
        return cls(
            **{k: v for k, v in row.items() if k in cls.model_fields and k not in skip},
            **asdict(reached or Reached()),
            status=status,
            current_status=row["status"],
            pauses=[ReportPausePublic(**p) for p in row.get("pauses") or ()],
            exempted=counts_as_exempted(row.get("state"), bool(row.get("exempted"))),
            # Rounded up: against whole-second limits the judgment is unchanged (<= stays <=, > stays >), and
            # the value is a valid ISO 8601 / RFC 3339 duration (no fractional seconds).
            counted=None if seconds is None else timedelta(seconds=math.ceil(seconds)),
        )


class NodeRunPage(Page[ReportRunPublic]):
    """The page envelope, with a data-quality count of the whole cell beside it."""

    model_config = ConfigDict(populate_by_name=True)
    ended_by_ticket: int = Field(
        default=0,
        description="data quality: of the runs behind this cell (every page), how many were ended by their "
        "ticket's close or cancellation instead of an event of their node",
    )
