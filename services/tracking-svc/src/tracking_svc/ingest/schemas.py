"""The event format partners send, and what ingest answers."""

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import Meta
from pledge_common.instants import INSTANT_MESSAGE, within_bounds
from pledge_common.instants import Instant as UtcInstant
from pydantic import BaseModel, Field

# The event format is checked by msgspec: one decoder for the single, bulk and NDJSON routes, which
# validates a 10 000-event array several times faster than a pydantic model would (bench/ingest.py).
SourceKey = Annotated[
    str,
    Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="the source system", examples=["crm"]),
]
Key = Annotated[str, Meta(pattern=r"^[^\s]{1,100}$")]
Text = Annotated[str, Meta(min_length=1, max_length=200)]
Instant = Annotated[datetime, Meta(tz=True, description="ISO 8601 / RFC 3339 with an offset")]

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


ATTRIBUTES_DOC = "free JSON object (size-limited); the latest event carrying it replaces it"


class TicketRefIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The ticket an event belongs to, as the source system knows it."""

    external_id: Annotated[Text, Meta(description="the source system's id of the work order (unique per source)")]
    process: Annotated[Key, Meta(description="process key (as defined in commitment-svc)")]
    segment: Annotated[Key, Meta(description="customer segment key; the latest event naming it wins")] | None = None
    customer_ref: Annotated[Text, Meta(description="the customer; the latest event naming it wins")] | None = (
        msgspec.field(default=None, name="customer")
    )
    attributes: Annotated[dict[str, Any], Meta(description=ATTRIBUTES_DOC)] | None = None


class EventIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One fact from a source system."""

    event_id: Annotated[Text, Meta(description="the source's own id of this event; unique per source")]
    type: EventType
    occurred_at: Annotated[Instant, Meta(description="when it happened at the source (ISO 8601 with offset)")]
    source: Annotated[SourceKey, Meta(description="the source system; must be one the caller may write")]
    ticket: TicketRefIn
    node: Annotated[Key, Meta(description="node key; required for node.* events, absent otherwise")] | None = None
    reason: Annotated[Text, Meta(description="required for node.paused; optional for cancellations")] | None = None
    department: Annotated[Key, Meta(description="responsible department (node events; default: node's)")] | None = None
    position: Annotated[Key, Meta(description="responsible position (node events; default: node's)")] | None = None


EVENT_EXAMPLE = {
    "event_id": "crm-000123-4",
    "type": "node.paused",
    "occurred_at": "2026-03-03T11:00:00+08:00",
    "source": "crm",
    "ticket": {"external_id": "WO-123", "process": "fault-repair"},
    "node": "dispatch",
    "reason": "awaiting-customer",
}

EVENT_DECODER = msgspec.json.Decoder(EventIn)
EVENT_ARRAY_DECODER = msgspec.json.Decoder(list[EventIn])
RAW_ARRAY_DECODER = msgspec.json.Decoder(list[msgspec.Raw])
_AT = re.compile(r" - at `\$(?:\[\d+\])?\.?(.*)`$")
_NAMED = re.compile(r"(?:missing required|unknown) field `([^`]+)`")


def decode_error(err: msgspec.DecodeError) -> tuple[str, str]:
    """(field, message) of a decoding failure: the dotted path of the field at fault (`body` when the item
    itself is not an event object) and msgspec's message without its location suffix."""
    text = str(err)
    at = _AT.search(text)
    path = at.group(1) if at else ""
    message = text[: at.start()] if at else text
    if not isinstance(err, msgspec.ValidationError):
        return "body", f"not a JSON value: {message}"
    named = _NAMED.search(message)
    if named:
        path = f"{path}.{named.group(1)}" if path else named.group(1)
    return path or "body", message


def openapi_components() -> dict[str, Any]:
    """JSON schemas of the event format, for the OpenAPI document (the routes read raw bodies)."""
    _, components = msgspec.json.schema_components((EventIn,), ref_template="#/components/schemas/{name}")
    components["EventIn"]["examples"] = [EVENT_EXAMPLE]
    return components


def shape_error(event: EventIn) -> tuple[str, str] | None:
    """Rules between fields of one event: (field, message) of the first one broken."""
    if not within_bounds(event.occurred_at):  # bulk items are read raw: the shared guard does not see them
        return "occurred_at", INSTANT_MESSAGE
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
    """The answer to an event: `accepted` (201), or `duplicate` (200) when the same event is sent again, with
    the ticket and the instant of its first receipt."""

    event_id: str
    source: str
    status: Literal["accepted", "duplicate"] = "accepted"
    ticket_id: UUID
    received_at: UtcInstant


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
