"""Public shape of a settlement: one agreement, one billing period. Amounts are decimal strings in the
settlement's `currency`, to the cent."""

from typing import Literal

from pledge_common.instants import Instant
from pledge_common.money import Amount
from pledge_common.pagination import Page
from pydantic import BaseModel, ConfigDict, Field

from evaluation_svc.reports.schemas import Rate


class Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class SettledRunOut(Out):
    node_run_id: str
    ticket_id: str
    source: str
    work_order: str | None = Field(description="the work order's number in its source system (external id)")
    kind: str = Field(description="node: a node run; ticket: the ticket judged end to end")
    commitment_key: str = Field(alias="commitment")
    ended_at: Instant | None
    state: str | None = Field(description="as of the period's close, under the agreement's exemptions")
    reason: str | None = Field(default=None, description="why it is excluded (force majeure)")


class CommitmentAchievement(Out):
    commitment_key: str = Field(alias="commitment")
    target_rate: float
    runs: int = Field(description="covered runs that ended in the period (force majeure apart)")
    judged: int
    normal: Rate
    acceptable: int
    warning: int
    cancelled: int
    excluded: int = Field(description="runs that ended in the period, excluded by force majeure")
    pending: int = Field(description="runs open past tolerance at the period's close (charged when they end)")
    relieved_by_exemptions: int = Field(description="runs the agreement's exemptions moved to a better level")
    met: bool | None = Field(description="share of normal runs ≥ target (null without judged runs)")


class Charge(Out):
    clause: int = Field(description="index of the penalty clause in the agreement")
    kind: str
    commitment_key: str | None = Field(alias="commitment")
    node_run_id: str | None = None
    ticket_id: str | None = None
    source: str | None = None
    work_order: str | None = Field(default=None, description="a run's work order; an outage's reference")
    outage_id: str | None = Field(default=None, description="per_outage_over_limit: the outage charged")
    service: str | None = Field(default=None, description="the lines of availability commitments: the service")
    amount: Amount
    reason: str


class PendingOutage(Out):
    id: str
    ref: str
    state: str


class AvailabilityAchievement(Out):
    """A covered availability commitment and service in the period: a population apart from the runs."""

    commitment_key: str = Field(alias="commitment")
    service: str
    availability: float | None = Field(description="as of the period's close (min(to, now)); docs/kinds.md")
    target: float | None
    met: bool | None
    outages: int = Field(description="non-exempt outages overlapping the period")
    warning: int = Field(description="of them, how many lasted longer than the tolerance limit")
    pending: list[PendingOutage] = Field(description="outages open past tolerance at the close: charged when they end")


class AdjustmentOut(Out):
    period: str = Field(description="the approved period the late change belongs to")
    settled_credit: Amount = Field(description="what had been settled for it")
    recomputed_credit: Amount = Field(description="the period recomputed now")
    amount: Amount = Field(description="recomputed - settled: credited (or taken back) in this period")
    added: list[Charge]
    removed: list[Charge]
    lines: list[Charge] = Field(description="the period's charges as recomputed (settled from now on)")


class Satisfaction(Out):
    responses: int
    csat_responses: int
    csat: float | None = Field(description="share of CSAT answers that are 4 or 5")
    nps_responses: int
    nps: float | None
    processes: list[str] = Field(description="the covered processes whose feedback is counted")


class SettlementTotals(Out):
    penalties: Amount = Field(description="sum of this period's charges")
    cap: Amount | None
    capped_off: Amount = Field(description="penalties above the cap, not credited")
    credit: Amount = Field(description="this period's penalties, at most the cap")
    adjustments: Amount = Field(description="late changes to earlier approved periods")
    credits: Amount = Field(description="credit + adjustments: what the provider owes for this settlement")
    base_fee: Amount | None
    amount_due: Amount | None = Field(description="base fee - credits")


class Settlement(Out):
    agreement: dict[str, object]
    period: str = Field(description="2026-11 (monthly) or 2026-Q4 (quarterly)")
    from_: Instant = Field(alias="from")
    to: Instant
    as_of: Instant = Field(description="runs are judged as of min(to, computed_at)")
    status: Literal["preview", "draft", "approved"] = Field(
        description="preview: computed now, not recorded; draft: recorded, may be recomputed; approved: frozen"
    )
    currency: str | None
    billing_period: str
    billing_timezone: str
    computed_at: Instant
    drafted_at: Instant | None = None
    drafted_by: str | None = None
    approved_at: Instant | None = None
    approved_by: str | None = None
    commitments: list[CommitmentAchievement]
    satisfaction: Satisfaction | None = Field(description="CSAT and NPS of the period (feedback-svc)")
    satisfaction_unavailable: str | None = Field(default=None, description="why satisfaction is missing")
    charges: list[Charge]
    availability: list[AvailabilityAchievement] = Field(
        default_factory=list, description="covered availability commitments, per service (never summed with runs)"
    )
    pending: list[SettledRunOut]
    excluded: list[SettledRunOut]
    adjustments: list[AdjustmentOut]
    totals: SettlementTotals


class SettlementList(Page[Settlement]):
    """The page envelope (recorded settlements, latest period first), with the agreement beside it."""

    model_config = ConfigDict(populate_by_name=True)
    agreement: dict[str, object]


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expected_credits: Amount | None = Field(
        default=None, description="the credits the approver read: refused (409) if the draft says otherwise"
    )
