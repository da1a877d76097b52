"""The service fact format sources send (checked by msgspec, one item at a time like ticket events), and
what the fact routes answer."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import Meta
from pledge_common.instants import Instant as UtcInstant
from pledge_common.pagination import Page
from pydantic import BaseModel, Field

SourceKey = Annotated[
    str,
    Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="the source system", examples=["monitoring"]),
]
Key = Annotated[str, Meta(pattern=r"^[^\s]{1,100}$")]
ExternalId = Annotated[
    str, Meta(min_length=1, max_length=200, description="the source's own id of this fact; unique per source")
]
Text = Annotated[str, Meta(min_length=1, max_length=200)]
Evidence = Annotated[str, Meta(min_length=1, max_length=2000, description="a link or reference to the evidence")]
Instant = Annotated[datetime, Meta(tz=True, description="when it happened (RFC 3339 with an offset)")]


class _Fact(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, tag_field="type", kw_only=True):
    source: SourceKey
    external_id: ExternalId
    service: Annotated[Key, Meta(description="a service key (commitment-svc's /v1/services)")]
    occurred_at: Instant


class OutageStartedIn(_Fact, tag="outage.started"):
    """The service went down (or degraded: weight below 1)."""

    outage_ref: Annotated[Text, Meta(description="the outage's id at the source; its end names it too")]
    planned: Annotated[bool, Meta(description="planned maintenance")] = False
    weight: Annotated[float, Meta(gt=0, le=1, description="share of the service lost (1: all of it)")] = 1.0
    summary: Text | None = None


class OutageEndedIn(_Fact, tag="outage.ended"):
    """The service is back; may arrive before its start."""

    outage_ref: Text


class SampleRecordedIn(_Fact, tag="sample.recorded"):
    """A measured value of an obligation (e.g. peak concurrent users)."""

    obligation: Key
    value: float


class OccurrenceRecordedIn(_Fact, tag="occurrence.recorded"):
    """A recurring obligation was performed (e.g. a backup)."""

    obligation: Key
    evidence: Evidence | None = None


class DeliverableDeliveredIn(_Fact, tag="deliverable.delivered"):
    """A dated deliverable was delivered, with its evidence."""

    obligation: Key
    evidence: Evidence


class DeliverableSignedOffIn(_Fact, tag="deliverable.signed_off"):
    """The customer signed a deliverable off."""

    obligation: Key
    signed_by: Text


FactIn = (
    OutageStartedIn
    | OutageEndedIn
    | SampleRecordedIn
    | OccurrenceRecordedIn
    | DeliverableDeliveredIn
    | DeliverableSignedOffIn
)
FACT_DECODER = msgspec.json.Decoder(FactIn)
FACT_DEPTH = 1  # a fact is a flat object


def fact_type(fact: FactIn) -> str:
    return str(type(fact).__struct_config__.tag)


def openapi_components() -> dict[str, Any]:
    """JSON schemas of the fact format, for the OpenAPI document (the routes read raw bodies)."""
    _, components = msgspec.json.schema_components((FactIn,), ref_template="#/components/schemas/{name}")
    return components


FACT_UNION_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"$ref": f"#/components/schemas/{name}"}
        for name in (
            "OutageStartedIn",
            "OutageEndedIn",
            "SampleRecordedIn",
            "OccurrenceRecordedIn",
            "DeliverableDeliveredIn",
            "DeliverableSignedOffIn",
        )
    ],
}  # no `discriminator`: its implicit mapping would be by schema name, and `type` holds `outage.started`...


class FactAccepted(BaseModel):
    """The answer to one fact: `accepted` (201), or `duplicate` (200) when it changes nothing."""

    source: str
    external_id: str
    type: str
    service: str
    status: Literal["accepted", "duplicate"]


class FactError(BaseModel):
    status: int = Field(description="the HTTP status this item would have had on its own (403, 409 or 422)")
    field: str
    detail: str


class FactItemResult(BaseModel):
    index: int = Field(description="0-based position of the item in the array")
    source: str | None = None
    external_id: str | None = None
    status: Literal["accepted", "duplicate", "rejected"]
    error: FactError | None = None


class FactBulkResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    items: list[FactItemResult]


class OutagePublic(BaseModel):
    id: UUID
    service: str
    outage_ref: str
    started_at: UtcInstant | None = Field(description="null: its start has not arrived yet")
    ended_at: UtcInstant | None = Field(description="null: still down (or its end has not arrived yet)")
    planned: bool
    weight: float
    summary: str | None


OutagePage = Page[OutagePublic]
