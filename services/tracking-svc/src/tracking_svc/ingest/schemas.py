"""The event format partners send, and what ingest answers."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

SourceKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"), Field(examples=["crm"])]
Key = Annotated[str, StringConstraints(pattern=r"^[^\s]{1,100}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]

EventType = Literal[
    "ticket.opened",
    "ticket.closed",
    "ticket.cancelled",
    "ticket.reopened",
    "node.started",
    "node.completed",
    "node.cancelled",
    "node.paused",
    "node.resumed",
]


class TicketRefIn(BaseModel):
    """The ticket an event belongs to, as the source system knows it."""

    model_config = ConfigDict(extra="forbid")

    external_id: Text = Field(description="the source system's id of the work order (unique per source)")
    process: Key = Field(description="process key (as defined in commitment-svc)")
    segment: Key | None = Field(default=None, description="customer segment key; the latest event naming it wins")
    customer_ref: Text | None = Field(default=None, description="the customer; the latest event naming it wins")
    attributes: dict[str, Any] | None = Field(
        default=None, description="free JSON object (size-limited); the latest event carrying it replaces it"
    )


class EventIn(BaseModel):
    """One fact from a source system."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "event_id": "crm-000123-4",
                    "type": "node.paused",
                    "occurred_at": "2026-03-03T11:00:00+08:00",
                    "source": "crm",
                    "ticket": {"external_id": "WO-123", "process": "fault-repair"},
                    "node": "dispatch",
                    "reason": "awaiting-customer",
                }
            ]
        },
    )

    event_id: Text = Field(description="the source's own id of this event; unique per source")
    type: EventType
    occurred_at: AwareDatetime = Field(description="when it happened at the source (ISO 8601 with offset)")
    source: SourceKey = Field(description="the source system; must be one the caller may write")
    ticket: TicketRefIn
    node: Key | None = Field(default=None, description="node key; required for node.* events, absent otherwise")
    reason: Text | None = Field(default=None, description="required for node.paused; optional for cancellations")
    department: Key | None = Field(default=None, description="responsible department (node events; default: node's)")
    position: Key | None = Field(default=None, description="responsible position (node events; default: node's)")


def shape_error(event: EventIn) -> tuple[str, str] | None:
    """Rules between fields of one event: (field, message) of the first one broken."""
    is_node = event.type.startswith("node.")
    if is_node and event.node is None:
        return "node", f"{event.type} needs the node key"
    if not is_node:
        for name in ("node", "department", "position"):
            if getattr(event, name) is not None:
                return name, f"{event.type} is a ticket event and takes no {name}"
    if event.type == "node.paused" and event.reason is None:
        return "reason", "node.paused needs a reason"
    if event.reason is not None and event.type not in ("node.paused", "node.cancelled", "ticket.cancelled"):
        return "reason", f"{event.type} takes no reason"
    return None


class EventAccepted(BaseModel):
    """The answer to an accepted event (the same answer when the same event is sent again)."""

    event_id: str
    source: str
    status: Literal["accepted"] = "accepted"
    ticket_id: UUID
    received_at: datetime


class ItemError(BaseModel):
    status: int = Field(description="the HTTP status this item would have had on its own (403, 409 or 422)")
    field: str
    detail: str


class BulkItemResult(BaseModel):
    index: int = Field(description="0-based position of the item in the array or among the NDJSON lines")
    event_id: str | None = None
    source: str | None = None
    status: Literal["accepted", "duplicate", "rejected"]
    ticket_id: UUID | None = None
    error: ItemError | None = None


class BulkResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    items: list[BulkItemResult] = Field(
        description="per item (JSON arrays: every item; NDJSON: only duplicates and rejections)"
    )
    items_truncated: bool = Field(default=False, description="NDJSON: more non-accepted items than listed")
