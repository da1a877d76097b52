"""commitment-svc's feed contract: the payload of every event type it writes, as typed models.

Every event goes through `payload()` before it reaches the outbox, so what is written is exactly these shapes;
`python -m commitment_svc.feed` writes their JSON Schema to `docs/feeds/commitment-svc.schema.json` (a test
checks it is current). Consumers keep their own decoders, checked against that file. Payloads carry the full
current state of a resource (upsert semantics); new optional fields may be added, none removed or retyped.
"""

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from pledge_common import feedschema
from pydantic import BaseModel, ConfigDict, Field

SERVICE = "commitment-svc"


class FeedPayload(BaseModel):
    # built from the public shapes, which carry more than the feed does
    model_config = ConfigDict(extra="ignore")


class KeyOnly(FeedPayload):
    key: str


class Position(FeedPayload):
    key: str
    name: str


class DepartmentUpserted(FeedPayload):
    key: str
    name: str
    parent_key: str | None
    positions: list[Position]


class SegmentUpserted(FeedPayload):
    key: str
    name: str


class CalendarUpserted(FeedPayload):
    key: str
    name: str
    timezone: str = Field(description="IANA time zone")
    weekly: dict[str, list[list[str]]] = Field(
        description='windows per weekday, "0" = Monday … "6" = Sunday, each ["HH:MM", "HH:MM"]; "24:00" may end one'
    )
    holidays: list[date]
    extra_working_days: list[date]
    extra_day_windows: list[list[str]] | None = Field(description="null: those of the first working weekday")
    version: int


class Node(FeedPayload):
    key: str
    name: str
    position: int
    department: str | None
    position_key: str | None


class ProcessUpserted(FeedPayload):
    key: str
    name: str
    description: str
    owner_department: str | None
    nodes: list[Node] = Field(description="ordered by position")


class ServiceUpserted(FeedPayload):
    key: str
    name: str
    customer_ref: str | None
    segment: str
    owner_department: str | None
    status: Literal["active", "retired"]


class ObjectiveShape(BaseModel):
    # exactly one shape fits an objective: each has a field the others lack, and none takes others' fields
    model_config = ConfigDict(extra="forbid")


class AvailabilityObjective(ObjectiveShape):
    max_outages: int | None = Field(description="most outages per billing period (null: no limit)")
    max_downtime: str | None = Field(
        json_schema_extra={"format": "duration"}, description="most downtime per billing period (null: no limit)"
    )
    planned_maintenance_exempt: bool


class CountObjective(ObjectiveShape):
    direction: Literal["at_most", "at_least"]
    limit: float
    tolerance: float = Field(description="on the looser side of `limit`")
    unit: str


class FrequencyObjective(ObjectiveShape):
    first_due_at: datetime | None = Field(description="null: effective_from + the commitment limit")


class ClauseObjective(ObjectiveShape):
    due_at: datetime
    tolerance_due_at: datetime | None
    requires_sign_off: bool


class CommitmentUpserted(FeedPayload):
    id: UUID
    commitment_key: str
    version: int
    kind: Literal["duration", "availability", "count", "frequency", "clause"] = Field(
        description="what is promised; consumers judging node runs read `duration` versions only"
    )
    process_key: str | None = Field(description="duration: the process; null for the other kinds")
    node_key: str | None = Field(description="null: the whole process, end to end (or not a duration)")
    service_key: str | None = Field(description="the other kinds: the service promised; null for duration")
    obligation_key: str | None = Field(description="count, frequency, clause: what is measured or owed")
    segment_key: str
    limit_unit: Literal["duration", "business_days"]
    commitment_limit: str | None = Field(
        json_schema_extra={"format": "duration"},
        description="availability: the longest single outage; frequency: the gap; null for count and clause",
    )
    tolerance_limit: str | None = Field(json_schema_extra={"format": "duration"})
    objective: AvailabilityObjective | CountObjective | FrequencyObjective | ClauseObjective | None = Field(
        description="per kind (docs/kinds.md); null for duration"
    )
    calendar_key: str
    allowed_pause_reasons: list[str]
    owner_department: str | None
    owner_position: str | None
    prewarning_fraction: float
    status: Literal["draft", "negotiating", "active", "retired"]
    effective_from: datetime | None
    effective_to: datetime | None = Field(description="null: open")


class CommitmentDeleted(FeedPayload):
    id: UUID
    commitment_key: str


class Scope(FeedPayload):
    customer_refs: list[str] = Field(description="empty: every customer")
    segments: list[str] = Field(description="empty: every segment")


class Cover(FeedPayload):
    commitment_key: str
    target_rate: float


class ForceMajeure(FeedPayload):
    from_: datetime = Field(alias="from")
    to: datetime
    reason: str


class Exemptions(FeedPayload):
    pause_reasons: list[str]
    force_majeure: list[ForceMajeure]


class HistoryEntry(FeedPayload):
    status: str
    at: datetime
    by: str
    reason: str | None = None


class AgreementUpserted(FeedPayload):
    id: UUID
    key: str
    version: int
    kind: Literal["sla", "ola"]
    title: str
    provider: str
    customer: str
    scope: Scope
    covers: list[Cover]
    exemptions: Exemptions
    penalties: list[dict[str, Any]] = Field(
        description="`per_warning_run`, `under_target`, `availability_credit` or `per_outage_over_limit`"
        " (docs/contracts.md, docs/kinds.md)"
    )
    billing: dict[str, Any]
    glossary: dict[str, str]
    status: Literal["draft", "negotiating", "signed", "terminated"]
    history: list[HistoryEntry]
    signed_at: datetime | None
    terminated_at: datetime | None


class RejudgementRequested(FeedPayload):
    id: UUID
    commitment_key: str
    version_id: UUID
    version: int
    effective_from: datetime
    requested_by: str
    requested_at: datetime
    reason: str | None
    runs_expected: int
    versions: list[CommitmentUpserted] = Field(description="the versions as they are after the change")


EVENTS: dict[str, type[FeedPayload]] = {
    "department.upserted": DepartmentUpserted,
    "department.deleted": KeyOnly,
    "segment.upserted": SegmentUpserted,
    "segment.deleted": KeyOnly,
    "service.upserted": ServiceUpserted,
    "calendar.upserted": CalendarUpserted,
    "calendar.deleted": KeyOnly,
    "process.upserted": ProcessUpserted,
    "process.deleted": KeyOnly,
    "commitment.upserted": CommitmentUpserted,
    "commitment.deleted": CommitmentDeleted,
    "agreement.upserted": AgreementUpserted,
    "rejudgement.requested": RejudgementRequested,
}


def payload(event_type: str, data: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    """The payload of an event of `event_type`, exactly as the contract shapes it (a missing or mistyped field
    raises: a producer bug, never written)."""
    model = EVENTS[event_type]
    source = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    return model.model_validate(source).model_dump(mode="json", by_alias=True)


def schema() -> dict[str, Any]:
    return feedschema.feed_schema(
        SERVICE,
        "Events of GET /internal/v1/events on commitment-svc (docs/contracts.md): definitions and commitments.",
        EVENTS,
    )


if __name__ == "__main__":
    print(feedschema.write(SERVICE, schema(), Path(__file__).resolve()))
