"""Public shapes of the reports of the kinds of commitment (docs/kinds.md "Reports")."""

from typing import Literal

from pledge_common.durations import Duration
from pledge_common.instants import Instant
from pydantic import BaseModel, ConfigDict, Field

STATES_DESCRIPTION = "units per state (the seven states); exempted units are counted apart"


class Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class ReportedService(Out):
    key: str
    name: str
    customer_ref: str | None = Field(alias="customer")
    segment: str


class JudgedOutage(Out):
    id: str
    ref: str = Field(description="the outage's reference in its source (Alertmanager: fingerprint@startsAt)")
    started_at: Instant
    ended_at: Instant | None = Field(description="null: not ended as of the report's as_of")
    counted: Duration = Field(description="its whole counted duration in service hours as of as_of (not clipped)")
    state: str = Field(description="against the max single outage (commitment / tolerance limits)")
    planned: bool
    exempt: bool = Field(description="planned maintenance the objective exempts: no state counted, no penalty")
    weight: float


class CountCheck(Out):
    limit: float | None = Field(description="the limit (null: none set)")
    actual: float
    met: bool | None = Field(description="null: no limit set")


class DowntimeCheck(Out):
    limit: Duration | None = Field(description="the limit (null: none set)")
    actual: Duration
    met: bool | None = Field(description="null: no limit set")


class AvailabilityLimits(Out):
    max_outages: CountCheck
    max_downtime: DowntimeCheck
    max_single_outage: DowntimeCheck = Field(
        description="met when no non-exempt outage lasted longer than the commitment limit"
    )


class BurnRatesPublic(Out):
    rates: dict[str, float] = Field(description="per window ending at as_of: (downtime share / (1 - target))")
    alert: Literal["page", "ticket"] | None = Field(
        description="page: 1 h & 5 min >= 14.4x or 6 h & 30 min >= 6x; ticket: 3 d & 6 h >= 1x"
    )
    reason: str | None


class AvailabilityForecast(Out):
    downtime: Duration = Field(description="downtime so far + the rest of the period burning at the 3-day rate")
    availability: float | None
    meets_target: bool | None
    certain: bool = Field(description="the budget is already spent: the target cannot be met any more")


class AvailabilityRow(Out):
    commitment_key: str = Field(alias="commitment")
    commitment_id: str
    version: int
    service: ReportedService
    calendar: str | None = Field(description="the service hours (null: 24x7)")
    target: float | None = Field(
        description="the availability target: the highest target_rate of the signed agreements covering it"
    )
    judged: bool = Field(description="false when the commitment cannot be judged (its calendar is unknown)")
    service_time: Duration | None = Field(description="counted time of the period less exempt planned maintenance")
    downtime: Duration | None = Field(description="counted outage time x weight, overlaps once")
    availability: float | None = Field(description="1 - downtime / service time (null without service time)")
    target_met: bool | None
    outages: int = Field(description="non-exempt outages overlapping the period")
    exempted: int = Field(description="planned outages the objective exempts")
    states: dict[str, int] = Field(description=STATES_DESCRIPTION)
    longest_outage: JudgedOutage | None
    mttr: Duration | None = Field(description="mean counted duration of the outages ended by as_of")
    mtbf: Duration | None = Field(description="(service time - downtime) / outages")
    error_budget: Duration | None = Field(description="(1 - target) x service time")
    budget_remaining_seconds: float | None = Field(description="budget - downtime, in seconds (negative: overspent)")
    limits: AvailabilityLimits | None
    burn: BurnRatesPublic | None = Field(description="burn rates as of as_of (null without a target)")
    forecast: AvailabilityForecast | None = Field(
        description="the period's end as forecast (null once the period is over)"
    )


class AvailabilityReport(Out):
    from_: Instant = Field(alias="from")
    to: Instant
    as_of: Instant = Field(description="the instant outages are judged at: min(to, now)")
    rows: list[AvailabilityRow]


class ObligationRow(Out):
    commitment_key: str = Field(alias="commitment")
    commitment_id: str
    version: int
    kind: Literal["count", "frequency", "clause"]
    service: ReportedService
    obligation: str | None
    target: float | None = Field(description="the highest target_rate of the signed agreements covering it")
    judged: bool = Field(description="false when the commitment cannot be judged (calendar or objective unusable)")
    units: int = Field(description="samples, intervals or deliverables judged in the period")
    states: dict[str, int] = Field(description=STATES_DESCRIPTION)
    share_within_limit: float | None = Field(
        description="count: samples within the limit; frequency: intervals within the commitment; clause: 1 or 0"
    )
    target_met: bool | None
    worst: float | None = Field(default=None, description="count: the worst sample (highest at_most, lowest at_least)")
    unit: str | None = Field(default=None, description="count: the unit of the values")
    next_due_at: Instant | None = Field(
        default=None, description="frequency: when the open interval's occurrence is due (the missing alert)"
    )
    due_at: Instant | None = Field(default=None, description="clause: the due instant")
    outcome: Literal["on_time", "late", "missing", "pending"] | None = Field(default=None, description="clause")
    delivered_at: Instant | None = Field(default=None, description="clause")
    signed_off: bool | None = Field(default=None, description="clause: signed off by as_of")
    awaiting_sign_off: bool | None = Field(default=None, description="clause: delivered, sign-off required, not given")


class ObligationsReport(Out):
    from_: Instant = Field(alias="from")
    to: Instant
    as_of: Instant
    rows: list[ObligationRow]
