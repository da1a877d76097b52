"""Typed answers of the API: the fields partners use, each model keeping every other field it was sent.

Field names follow docs/api-guide.md (`process`, `customer`, `next_cursor`).
"""

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Model(BaseModel):
    """Answers may grow fields: they are kept (`model_extra`), never refused."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Page(Model, Generic[T]):
    """One page of a list; pass `next_cursor` as `cursor` for the next (null on the last page)."""

    items: list[T]
    next_cursor: str | None = None


# --- events -------------------------------------------------------------------------------------------

Event = dict[str, Any]
EventOutcome = Literal["accepted", "duplicate", "rejected"]


class EventResult(Model):
    """The answer to one event: `accepted` (new) or `duplicate` (already applied)."""

    event_id: str
    source: str
    status: EventOutcome | str = "accepted"
    ticket_id: str | None = None
    received_at: datetime | None = None
    replayed: bool = Field(default=False, description="true when the same event had been sent before")


class ItemError(Model):
    status: int
    field: str | None = None
    detail: str | None = None


class BulkItem(Model):
    index: int = Field(description="position of the event in the request (non-blank lines of a stream)")
    event_id: str | None = None
    source: str | None = None
    status: EventOutcome | str
    ticket_id: str | None = None
    error: ItemError | None = None


class BulkResult(Model):
    """Counts of one bulk request; `items` lists each event (a stream lists only those not accepted)."""

    accepted: int
    duplicates: int
    rejected: int
    items: list[BulkItem] = Field(default_factory=list)
    items_truncated: bool = False


# --- tickets ------------------------------------------------------------------------------------------


class Pause(Model):
    start: datetime
    end: datetime | None = None
    reason: str


class TicketNodeRun(Model):
    id: str
    node: str
    cycle: int
    status: str
    started_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    pauses: list[Pause] = Field(default_factory=list)
    department: str | None = None
    position: str | None = None
    ended_by_ticket: bool = False


class Ticket(Model):
    id: str
    source: str
    external_id: str
    process: str
    customer: str | None = None
    segment: str | None = None
    status: str
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class TicketDetail(Ticket):
    node_runs: list[TicketNodeRun] = Field(default_factory=list)
    events: list[dict[str, Any]] = Field(default_factory=list)


# --- reports ------------------------------------------------------------------------------------------

STATES = (
    "completed_normal",
    "completed_acceptable",
    "completed_warning",
    "in_progress_normal",
    "in_progress_acceptable",
    "in_progress_warning",
    "cancelled",
)


class StatusRow(Model):
    population: str | None = None
    group: dict[str, str | None]
    counts: dict[str, int]
    total: int
    links: dict[str, str] = Field(default_factory=dict)


class StatusReport(Model):
    """The seven-state table: a row per group, `totals` per population (never summed across them)."""

    as_of: datetime
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    group_by: list[str]
    states: list[str] = Field(default_factory=lambda: list(STATES))
    rows: list[StatusRow]
    totals: list[StatusRow] = Field(default_factory=list)


class StatusRun(Model):
    id: str
    kind: str
    ticket_id: str
    source: str
    external_id: str | None = None
    process: str
    node: str | None = None
    segment: str | None = None
    status: str
    state: str | None = None
    counted: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    commitment_due_at: datetime | None = None
    tolerance_due_at: datetime | None = None
    ended_by_ticket: bool = False


class Rate(Model):
    count: int
    share: float | None
    interval: tuple[float, float] | None = None


class AchievementGroup(Model):
    population: str | None = None
    group: dict[str, str | None]
    runs: int
    judged: int
    normal: Rate
    acceptable: Rate
    warning: Rate
    counted_duration: dict[str, Any] = Field(default_factory=dict)


class AchievementReport(Model):
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None
    as_of: datetime
    group_by: list[str]
    groups: list[AchievementGroup]
    overall: list[AchievementGroup] = Field(default_factory=list)


class RankedGroup(Model):
    rank: int | None = None
    key: str | None = None
    name: str | None = None
    runs: int
    judged: int
    normal: Rate


class Rankings(Model):
    by: str
    population: str
    from_: datetime = Field(alias="from")
    to: datetime
    min_sample: int
    ranked: list[RankedGroup]
    insufficient: list[RankedGroup] = Field(default_factory=list)


class CoveredCommitment(Model):
    commitment: str
    target_rate: float | None = None
    judged: int
    normal: Rate
    met: bool | None = None


class AgreementReview(Model):
    agreement: dict[str, Any]
    from_: datetime = Field(alias="from")
    to: datetime
    commitments: list[CoveredCommitment]
    penalties: list[dict[str, Any]] = Field(default_factory=list)
    totals: dict[str, Any] = Field(default_factory=dict, description="credits per currency (decimal strings)")


# --- alerts and keys ----------------------------------------------------------------------------------


class Alert(Model):
    id: str
    level: str
    state: str
    process: str | None = None
    node: str | None = None
    department: str | None = None
    raised_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None


class ApiKey(Model):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    sources: list[str] | None = None
    status: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    replaced_by: str | None = None
    owner_id: str | None = None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="the whole key: shown only in this answer")
