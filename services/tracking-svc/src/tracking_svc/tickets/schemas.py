"""What ticket queries answer."""

from typing import Any, Literal
from uuid import UUID

from pledge_common.instants import Instant
from pledge_common.pagination import Page
from pydantic import BaseModel, Field


class PausePublic(BaseModel):
    start: Instant
    end: Instant | None = Field(description="null while the pause is open")
    reason: str


class NodeRunPublic(BaseModel):
    id: UUID
    node_key: str = Field(serialization_alias="node")
    cycle: int = Field(description="1 for the first passage; a reopened node starts the next cycle")
    status: Literal["pending", "in_progress", "completed", "cancelled"]
    started_at: Instant | None
    completed_at: Instant | None
    cancelled_at: Instant | None
    pauses: list[PausePublic]
    department: str | None
    position: str | None
    ended_by_ticket: bool = Field(
        description="ended by its ticket's close (completed) or cancellation (cancelled) at that instant, "
        "not by an event of its node: a count of these shows how often a source skips a node's completion"
    )


class RawEventPublic(BaseModel):
    event_id: str
    type: str
    occurred_at: Instant
    node_key: str | None = Field(serialization_alias="node")
    received_at: Instant
    request_id: str | None
    body: dict[str, Any] = Field(description="the event as received (normalised JSON)")


class TicketPublic(BaseModel):
    id: UUID
    source: str
    external_id: str
    process_key: str = Field(serialization_alias="process")
    customer_ref: str | None = Field(serialization_alias="customer")
    segment: str | None
    status: Literal["open", "closed", "cancelled"]
    opened_at: Instant | None
    closed_at: Instant | None
    cancelled_at: Instant | None
    attributes: dict[str, Any]


class TicketDetailPublic(TicketPublic):
    node_runs: list[NodeRunPublic]
    events: list[RawEventPublic]


TicketPage = Page[TicketPublic]


class TicketCount(BaseModel):
    count: int = Field(description="tickets visible to the caller that match the filters")
