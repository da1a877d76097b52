"""How a service's outages and deliverables follow from its facts: pure functions, no I/O.

Facts are keyed by `(source, external_id)`: the same key again is a duplicate and changes nothing (the same
key with another content is a conflict, as for ticket events). Samples and occurrences are one row per fact
and need no derivation. Outages and deliverables gather several facts, and any arrival order of the same
facts gives the same row:

Outages (per service and `outage_ref`):
- `outage.started` at s gives the outage its start, with `planned`, `weight` and `summary`. A start may
  arrive after the end (out of order): the row keeps the end it has and takes the start.
- `outage.ended` at e gives the outage its end; it may arrive before its start (the row then has an end
  and no start yet, until the start arrives).
- A second start at the same instant with the same attributes, or a second end at the same instant, changes
  nothing (answered `duplicate`). A start or an end at another instant than the one the outage already has
  contradicts it: refused (409) — which of two contradicting facts is refused depends on arrival, and the
  one stored first stays.
- An end before the start is refused (422 on `occurred_at`), whichever arrives second.
Deliverables (per service and obligation):
- `deliverable.delivered` at d: `delivered_at` is the earliest delivery (what is judged on time or late);
  `evidence` is that of the latest delivery (evidence may be completed or corrected later).
- `deliverable.signed_off` at s: `signed_off_at` is the earliest sign-off, with its `signed_by`. A
  sign-off may arrive before the delivery (out of order): both are kept.
Ties between facts at the same instant are broken by external id, so the result never depends on arrival.
"""

from dataclasses import dataclass, replace
from datetime import UTC, datetime

OUTAGE_TYPES = frozenset({"outage.started", "outage.ended"})
DELIVERABLE_TYPES = frozenset({"deliverable.delivered", "deliverable.signed_off"})
FACT_TYPES = OUTAGE_TYPES | DELIVERABLE_TYPES | {"sample.recorded", "occurrence.recorded"}


class Contradiction(Exception):
    """The fact contradicts what is known of its outage: refused with `status` (409 or 422) on `field`."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class OutageState:
    started_at: datetime | None = None
    ended_at: datetime | None = None
    planned: bool = False
    weight: float = 1.0
    summary: str | None = None


@dataclass(frozen=True, slots=True)
class OutageStart:
    at: datetime
    planned: bool = False
    weight: float = 1.0
    summary: str | None = None


@dataclass(frozen=True, slots=True)
class OutageEnd:
    at: datetime


def _at(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def apply_outage(state: OutageState | None, fact: OutageStart | OutageEnd) -> OutageState | None:
    """The outage with `fact` added, or None when the fact changes nothing (a repeat). Raises Contradiction."""
    current = state or OutageState()
    if isinstance(fact, OutageStart):
        if current.started_at is not None:
            same = (current.started_at, current.planned, current.weight, current.summary) == (
                fact.at,
                fact.planned,
                fact.weight,
                fact.summary,
            )
            if same:
                return None
            if current.started_at == fact.at:
                raise Contradiction(409, "type", "the outage already started at this instant with other attributes")
            raise Contradiction(
                409, "occurred_at", f"the outage already started at {_at(current.started_at)}, not {_at(fact.at)}"
            )
        if current.ended_at is not None and current.ended_at < fact.at:
            raise Contradiction(
                422, "occurred_at", f"the outage ended at {_at(current.ended_at)}, before this start {_at(fact.at)}"
            )
        return replace(current, started_at=fact.at, planned=fact.planned, weight=fact.weight, summary=fact.summary)
    if current.ended_at is not None:
        if current.ended_at == fact.at:
            return None
        raise Contradiction(
            409, "occurred_at", f"the outage already ended at {_at(current.ended_at)}, not {_at(fact.at)}"
        )
    if current.started_at is not None and fact.at < current.started_at:
        raise Contradiction(
            422, "occurred_at", f"the outage started at {_at(current.started_at)}, after this end {_at(fact.at)}"
        )
    return replace(current, ended_at=fact.at)


@dataclass(frozen=True, slots=True)
class DeliverableState:
    delivered_at: datetime | None = None
    evidence: str | None = None
    evidence_version: str | None = None  # `<instant>|<external id>` of the delivery the evidence comes from
    signed_off_at: datetime | None = None
    signed_by: str | None = None
    signed_version: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    at: datetime
    external_id: str
    evidence: str


@dataclass(frozen=True, slots=True)
class SignOff:
    at: datetime
    external_id: str
    signed_by: str


def version_of(at: datetime, external_id: str) -> str:
    """Fixed-width UTC text then the external id: such versions sort as the facts do."""
    return f"{at.astimezone(UTC).isoformat(timespec='microseconds')}|{external_id}"


def apply_deliverable(state: DeliverableState | None, fact: Delivery | SignOff) -> DeliverableState | None:
    """The deliverable with `fact` added, or None when it changes nothing. Never refuses."""
    current = state or DeliverableState()
    version = version_of(fact.at, fact.external_id)
    if isinstance(fact, Delivery):
        delivered_at = fact.at if current.delivered_at is None else min(current.delivered_at, fact.at)
        newer = current.evidence_version is None or version > current.evidence_version
        changed = replace(
            current,
            delivered_at=delivered_at,
            evidence=fact.evidence if newer else current.evidence,
            evidence_version=version if newer else current.evidence_version,
        )
    else:
        earlier = current.signed_version is None or version < current.signed_version
        if not earlier:
            return None
        changed = replace(current, signed_off_at=fact.at, signed_by=fact.signed_by, signed_version=version)
    return None if changed == current and state is not None else changed
