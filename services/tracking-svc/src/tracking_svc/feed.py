"""tracking-svc's feed contract: the payload of every event type it writes, as typed structs.

Ingest builds most payloads in SQL (`to_json` of the row it just wrote, set-based: see ingest/repository.py)
and the rest by encoding `NodeRunUpserted` (runs created by COPY); the producer's tests check what both
write against this contract. `python -m tracking_svc.feed` writes its JSON Schema to
`docs/feeds/tracking-svc.schema.json` (a test checks it is current). Instants are ISO 8601 in UTC (`to_json`
writes `+00:00`). New optional fields may be added, none removed or retyped.
"""

from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import msgspec
from pledge_common import feedschema

SERVICE = "tracking-svc"

Instant = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})]
_INSTANT_OR_NULL: dict[str, Any] = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]}
_PAUSE_FIELDS: dict[str, Any] = {
    "start": {"type": "string", "format": "date-time"},
    "end": {**_INSTANT_OR_NULL, "description": "null: still paused"},
    "reason": {"type": "string"},
}
_RUN_PAUSE = {"type": "object", "required": ["start", "end", "reason"], "properties": _PAUSE_FIELDS}
_TICKET_PAUSE = {
    "type": "object",
    "required": ["node_key", "cycle", "start", "end", "reason"],
    "properties": {"node_key": {"type": "string"}, "cycle": {"type": "integer"}, **_PAUSE_FIELDS},
}
# pauses are passed through as the JSON text stored with the row (never parsed on the way to the feed)
RunPauses = Annotated[
    msgspec.Raw,
    msgspec.Meta(extra_json_schema={"type": "array", "items": _RUN_PAUSE, "description": "in instant order"}),
]
TicketPauses = Annotated[
    msgspec.Raw,
    msgspec.Meta(
        extra_json_schema={"type": "array", "items": _TICKET_PAUSE, "description": "every pause of its node runs"}
    ),
]


class TicketUpserted(msgspec.Struct):
    """A ticket, as `to_json` of its row writes it."""

    id: UUID
    source: str
    external_id: str
    process_key: str
    customer_ref: str | None
    segment: str | None
    status: Annotated[str, msgspec.Meta(extra_json_schema={"enum": ["open", "closed", "cancelled"]})]
    opened_at: Instant | None
    closed_at: Instant | None
    cancelled_at: Instant | None
    attributes: dict[str, Any]
    pauses: TicketPauses


class NodeRunUpserted(msgspec.Struct):
    """A node run, with what it repeats of its ticket: the fields, in order, of `to_json` of the row
    `upsert_runs` emits (ingest/repository.py), and what `insert_new_runs` encodes."""

    id: UUID
    ticket_id: UUID
    source: str
    external_id: str
    process_key: str
    node_key: str
    segment: str | None
    customer_ref: str | None
    cycle: int
    department: str | None
    position: str | None
    status: Annotated[
        str, msgspec.Meta(extra_json_schema={"enum": ["pending", "in_progress", "completed", "cancelled"]})
    ]
    started_at: Instant | None
    completed_at: Instant | None
    cancelled_at: Instant | None
    pauses: RunPauses
    ended_by_ticket: Annotated[
        bool, msgspec.Meta(description="ended by its ticket's close or cancellation, not by a node event")
    ]


class OutageUpserted(msgspec.Struct):
    """An outage of a service, with its start and its end as known so far (either may arrive first)."""

    id: UUID
    service_key: str
    outage_ref: str
    started_at: Annotated[Instant | None, msgspec.Meta(description="null: its start has not arrived yet")]
    ended_at: Annotated[Instant | None, msgspec.Meta(description="null: still down, or its end not arrived yet")]
    planned: Annotated[bool, msgspec.Meta(description="planned maintenance")]
    weight: Annotated[float, msgspec.Meta(gt=0, le=1, description="share of the service lost (1: all of it)")]


class SampleRecorded(msgspec.Struct):
    """A measured value of a count obligation."""

    id: UUID
    service_key: str
    obligation_key: str
    at: Instant
    value: float


class OccurrenceRecorded(msgspec.Struct):
    """A recurring obligation performed."""

    id: UUID
    service_key: str
    obligation_key: str
    at: Instant


class DeliverableUpserted(msgspec.Struct):
    """A dated deliverable: its earliest delivery, the latest evidence, its earliest sign-off."""

    id: UUID
    service_key: str
    obligation_key: str
    delivered_at: Instant | None
    signed_off_at: Instant | None
    signed_by: str | None
    evidence: str | None


EVENTS: dict[str, type[msgspec.Struct]] = {
    "ticket.upserted": TicketUpserted,
    "node_run.upserted": NodeRunUpserted,
    "outage.upserted": OutageUpserted,
    "sample.recorded": SampleRecorded,
    "occurrence.recorded": OccurrenceRecorded,
    "deliverable.upserted": DeliverableUpserted,
}


def schema() -> dict[str, Any]:
    return feedschema.feed_schema(
        SERVICE,
        "Events of GET /internal/v1/events on tracking-svc (docs/contracts.md): tickets and node runs, and the facts"
        " of services (outages, samples, occurrences, deliverables).",
        EVENTS,
    )


if __name__ == "__main__":
    print(feedschema.write(SERVICE, schema(), Path(__file__).resolve()))
