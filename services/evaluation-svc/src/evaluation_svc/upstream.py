"""What evaluation reads from the feeds of commitment-svc and tracking-svc: typed decoders of the fields it
uses, its own (a service never imports another's package). `tests/test_feed_contract.py` checks each against
the producer's JSON Schema (`docs/feeds/`): every field read here is one the producer writes, with a type
accepted here, and the producer's sample events decode. Fields with a default here are read leniently (older
copies); unknown fields are ignored (producers may add fields).

Instants stay text here and are read by `rules.parse_instant` (an offset is always written; UTC is assumed for
the rare copy without one)."""

from typing import Any

import msgspec
from pledge_common.outbox import FeedEvent


class _In(msgspec.Struct, frozen=True, kw_only=True):
    pass


# --- commitment-svc ------------------------------------------------------------------------------------------


class PositionIn(_In, frozen=True, kw_only=True):
    key: str
    name: str


class DepartmentIn(_In, frozen=True, kw_only=True):
    key: str
    name: str
    parent_key: str | None = None
    positions: list[PositionIn] = []


class SegmentIn(_In, frozen=True, kw_only=True):
    key: str
    name: str


class ServiceIn(_In, frozen=True, kw_only=True):
    """A service (configuration item) the kinds other than duration are about; not projected yet."""

    key: str
    name: str = ""
    customer_ref: str | None = None
    segment: str = "default"
    owner_department: str | None = None
    status: str = "active"


class CalendarIn(_In, frozen=True, kw_only=True):
    key: str
    name: str
    timezone: str
    weekly: dict[str, list[list[str]]]
    holidays: list[str] = []
    extra_working_days: list[str] = []
    extra_day_windows: list[list[str]] | None = None
    version: int = 1


class NodeIn(_In, frozen=True, kw_only=True):
    key: str
    name: str
    position: int
    department: str | None = None
    position_key: str | None = None


class ProcessIn(_In, frozen=True, kw_only=True):
    key: str
    name: str
    owner_department: str | None = None
    nodes: list[NodeIn] = []


class CommitmentIn(_In, frozen=True, kw_only=True):
    id: str
    commitment_key: str
    version: int = 1
    kind: str = "duration"  # only `duration` versions govern node runs; the other kinds have no process
    process_key: str | None = None
    node_key: str | None = None
    segment_key: str = "default"
    limit_unit: str = "duration"
    commitment_limit: str | None = None
    tolerance_limit: str | None = None
    calendar_key: str | None = None
    allowed_pause_reasons: list[str] = []
    owner_department: str | None = None
    owner_position: str | None = None
    prewarning_fraction: float | None = None
    status: str = "active"
    effective_from: str | None = None
    effective_to: str | None = None


class CommitmentDeletedIn(_In, frozen=True, kw_only=True):
    id: str


class KeyIn(_In, frozen=True, kw_only=True):
    key: str


class ScopeIn(_In, frozen=True, kw_only=True):
    customer_refs: list[str] = []
    segments: list[str] = []


class CoverIn(_In, frozen=True, kw_only=True):
    commitment_key: str
    target_rate: float


class ForceMajeureIn(_In, frozen=True, kw_only=True):
    from_: str = msgspec.field(name="from")
    to: str
    reason: str = ""


class ExemptionsIn(_In, frozen=True, kw_only=True):
    pause_reasons: list[str] = []
    force_majeure: list[ForceMajeureIn] = []


class AgreementIn(_In, frozen=True, kw_only=True):
    """Kept whole as evaluation's copy: reports and settlements read its terms (`penalties` and `billing` are
    interpreted by settlement/rules.py, which also reads copies stored before today's shapes)."""

    id: str
    key: str
    version: int = 1
    kind: str = "sla"
    title: str = ""
    provider: str = ""
    customer: str = ""
    scope: ScopeIn = ScopeIn()
    covers: list[CoverIn] = []
    exemptions: ExemptionsIn = ExemptionsIn()
    penalties: list[dict[str, Any]] = []
    billing: dict[str, Any] = {}
    status: str = "draft"
    signed_at: str | None = None
    terminated_at: str | None = None


class RejudgementIn(_In, frozen=True, kw_only=True):
    id: str
    version_id: str
    effective_from: str
    requested_by: str = "unknown"
    requested_at: str
    reason: str | None = None
    runs_expected: int = 0
    versions: list[CommitmentIn]


# --- tracking-svc --------------------------------------------------------------------------------------------


class PauseIn(_In, frozen=True, kw_only=True):
    start: str
    end: str | None = None
    reason: str = ""


class NodeRunIn(_In, frozen=True, kw_only=True):
    id: str
    ticket_id: str
    source: str = ""
    external_id: str | None = None
    process_key: str
    node_key: str | None = None
    segment: str | None = None
    customer_ref: str | None = None
    cycle: int = 1
    department: str | None = None
    position: str | None = None
    status: str = "pending"
    started_at: str | None = None
    completed_at: str | None = None
    cancelled_at: str | None = None
    pauses: list[PauseIn] = []
    ended_by_ticket: bool = False


class TicketIn(_In, frozen=True, kw_only=True):
    id: str
    source: str = ""
    external_id: str | None = None
    process_key: str
    segment: str | None = None
    customer_ref: str | None = None
    status: str
    opened_at: str | None = None
    closed_at: str | None = None
    cancelled_at: str | None = None
    pauses: list[PauseIn] = []


COMMITMENT_FEED: dict[str, type[_In]] = {
    "department.upserted": DepartmentIn,
    "department.deleted": KeyIn,
    "segment.upserted": SegmentIn,
    "segment.deleted": KeyIn,
    "service.upserted": ServiceIn,
    "calendar.upserted": CalendarIn,
    "calendar.deleted": KeyIn,
    "process.upserted": ProcessIn,
    "process.deleted": KeyIn,
    "commitment.upserted": CommitmentIn,
    "commitment.deleted": CommitmentDeletedIn,
    "agreement.upserted": AgreementIn,
    "rejudgement.requested": RejudgementIn,
}
TRACKING_FEED: dict[str, type[_In]] = {"node_run.upserted": NodeRunIn, "ticket.upserted": TicketIn}
DECODERS = {**COMMITMENT_FEED, **TRACKING_FEED}


def decode(event: FeedEvent) -> Any:
    """The event's payload as its decoder's struct; msgspec.ValidationError when it does not fit, None for
    a type evaluation does not read."""
    decoder = DECODERS.get(event.type)
    return None if decoder is None else msgspec.convert(event.payload, decoder, strict=False)


def plain(value: Any) -> Any:
    """A decoded payload as plain JSON values, for set-based SQL (`jsonb_to_recordset`)."""
    return msgspec.to_builtins(value)
