"""The HTTP contract of complaints."""

import uuid
from typing import Annotated, Literal

from pledge_common.instants import Instant
from pydantic import BaseModel, Field

from feedback_svc.common import AwareDatetime, Input, Key, LongText, Text200
from feedback_svc.complaints.workflow import Severity, Status, TransitionTarget
from feedback_svc.practices.schemas import PracticeSummary

Reason = Annotated[str, Field(min_length=1, max_length=2000)]


class Party(Input):
    department: Key
    person: Text200 | None = None


class ComplaintCreate(Input):
    channel: Key = Field(description="phone, counter, web, letter, regulator…")
    customer_ref: Text200 = Field(alias="customer")
    ticket_id: Text200 | None = Field(default=None, description="the ticket in tracking-svc it is about")
    process_key: Key | None = Field(
        alias="process", default=None, description="the process it is about (default: the ticket's)"
    )
    node_key: Key | None = Field(
        alias="node", default=None, description="the node of that process it is attributed to (needs the process)"
    )
    category: Key
    severity: Severity
    description: LongText
    received_by: Party = Field(description="the first receiver, who owns it until it is closed (首问负责)")
    received_at: AwareDatetime | None = Field(default=None, description="default: now")


class ComplaintTransitionCreate(Input):
    to: TransitionTarget
    by: Text200 | None = Field(default=None, description="who (default: the caller)")
    at: AwareDatetime | None = Field(default=None, description="when (default: now)")
    reason: Reason | None = Field(default=None, description="why; required to reopen")
    resolution: LongText | None = Field(default=None, description="required to resolve")
    root_cause: Key | None = Field(default=None, description="root-cause category; required to resolve")
    node_key: Key | None = Field(
        alias="node",
        default=None,
        description="when resolving: the node of its process the complaint is attributed to (default: as filed)",
    )
    customer_confirmed: bool | None = Field(default=None, description="required to close")
    confirmation_note: Reason | None = None


class ComplaintTransferCreate(Input):
    to: Party
    by: Text200 | None = None
    at: AwareDatetime | None = None
    reason: Reason


class TransitionPublic(BaseModel):
    seq: int
    from_status: str | None
    to_status: str
    at: Instant
    by: str
    reason: str | None


class OwnerPublic(BaseModel):
    seq: int
    department: str
    person: str | None
    since: Instant
    until: Instant | None
    assigned_by: str
    reason: str | None


class PartyPublic(BaseModel):
    department: str
    person: str | None


class ConfirmationPublic(BaseModel):
    confirmed: bool
    note: str | None


class TrackingPublic(BaseModel):
    process_key: str = Field(serialization_alias="process")
    segment: str
    ticket_id: str | None = Field(description="tracking-svc's ticket id, once the first event is delivered")
    pending_events: int
    last_error: str | None


class ComplaintPublic(BaseModel):
    id: uuid.UUID
    status: Status
    channel: str
    customer_ref: str = Field(serialization_alias="customer")
    ticket_id: str | None
    source: str | None = Field(description="the source system of that ticket (null without a ticket)")
    process_key: str | None = Field(serialization_alias="process")
    node_key: str | None = Field(serialization_alias="node", description="the process node it is attributed to")
    category: str
    severity: Severity
    description: str
    received_at: Instant
    received_by: PartyPublic
    owner: PartyPublic
    resolution: str | None
    root_cause: str | None
    acknowledged_at: Instant | None
    resolved_at: Instant | None
    closed_at: Instant | None
    customer_confirmation: ConfirmationPublic | None
    repeat_of: uuid.UUID | None = Field(description="the earlier complaint of the same customer and category")
    repeated_by: list[uuid.UUID]
    transfers: int
    reopens: int
    allowed_transitions: list[str]
    history: list[TransitionPublic]
    ownership: list[OwnerPublic]
    tracking: TrackingPublic
    suggested_practices: list[PracticeSummary] = Field(
        default=[], description="practices about the same root cause, newest first (at most 5)"
    )
    created_at: Instant
    updated_at: Instant


class ComplaintSummary(BaseModel):
    id: uuid.UUID
    status: Status
    severity: Severity
    category: str
    customer_ref: str = Field(serialization_alias="customer")
    source: str | None
    process_key: str | None = Field(serialization_alias="process")
    node_key: str | None = Field(serialization_alias="node")
    owner: PartyPublic
    received_at: Instant
    repeat_of: uuid.UUID | None


class MetricsRow(BaseModel):
    period: Instant | None = None
    process_key: str | None = Field(default=None, serialization_alias="process")
    node_key: str | None = Field(default=None, serialization_alias="node")
    severity: str | None = None
    category: str | None = None
    root_cause: str | None = None
    department: str | None = Field(default=None, description="the owning department")
    received: int
    closed: int
    closure_rate: float | None = Field(description="closed / received")
    resolved: int = Field(description="ever resolved")
    first_contact_resolved: int
    first_contact_resolution_rate: float | None = Field(
        description="resolved by the first receiver, never transferred, investigated or reopened / resolved"
    )
    reopened: int = Field(description="reopened at least once")
    reopen_rate: float | None = Field(description="reopened / resolved")
    repeats: int
    repeat_rate: float | None = Field(
        default=None, description="repeats / received (same customer and category within the repeat window)"
    )
    judged: int = Field(description="resolved complaints whose handling evaluation-svc has judged")
    on_time: int = Field(description="judged complaints whose every node run ended within its commitment")
    on_time_rate: float | None


class ProcessRate(BaseModel):
    process_key: str = Field(serialization_alias="process")
    complaints: int
    tickets: int | None = Field(description="tickets of the process opened in the period (tracking-svc)")
    per_1000_tickets: float | None


class ComplaintMetrics(BaseModel):
    start: Instant | None = Field(serialization_alias="from")
    end: Instant | None = Field(serialization_alias="to")
    group_by: Literal["period", "process", "node", "severity", "category", "root_cause", "department", "none"]
    bucket: str
    timezone: str
    totals: MetricsRow
    groups: list[MetricsRow]
    per_1000_tickets: list[ProcessRate]


ParetoDimension = Literal["category", "root_cause", "process", "node", "department", "severity"]


class ParetoRow(BaseModel):
    key: str | None = Field(description="the value on the dimension (null: none yet, e.g. no root cause)")
    count: int
    share: float = Field(description="count / total")
    cumulative_share: float = Field(description="share of this row and every row above it")
    vital: bool = Field(
        description="among the vital few: the rows up to the first whose cumulative share reaches the threshold"
    )


class ComplaintPareto(BaseModel):
    by: ParetoDimension
    start: Instant | None = Field(serialization_alias="from")
    end: Instant | None = Field(serialization_alias="to")
    threshold: float
    total: int
    rows: list[ParetoRow]


class AdjustmentRow(BaseModel):
    group: str = Field(description="the group's value, `(none)` for no value, `(total)` for the totals")
    measure: str
    as_closed: int
    current: int
    delta: int


class ClosedComplaintMetrics(BaseModel):
    taken_at: Instant = Field(description="when the figures were frozen: the first read after the period closed")
    as_closed: ComplaintMetrics = Field(description="the figures as they stood then, never changed afterwards")
    current: ComplaintMetrics = Field(description="the same figures computed now")
    adjustments: list[AdjustmentRow] = Field(description="every count that changed since, per group")
