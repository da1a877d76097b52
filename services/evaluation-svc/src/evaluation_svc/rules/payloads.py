"""The facts evaluation reads from its feeds, as typed values: commitment versions, calendars, node runs and
tickets, instants and durations. Pure: no I/O."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import msgspec
from pledge_common import durations
from pledge_deadlines import Calendar, Window, business_days_limit

from evaluation_svc.upstream import CommitmentIn, NodeRunIn, PauseIn, TicketIn

GOVERNING_STATUSES = frozenset({"active", "retired"})


def parse_instant(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)  # 3.11 reads "Z" too
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@lru_cache(maxsize=4096)  # a handful of distinct limits, each parsed for every run judged
def parse_duration(value: str) -> timedelta:
    """An ISO 8601 duration (`PT6H`, `P1DT2H`); days are 24 hours of counted time."""
    return durations.parse_duration(value)


def whole_days(value: str) -> int:
    """`P3D` → 3 (the business-days unit)."""
    duration = parse_duration(value)
    if duration.seconds or duration.microseconds or duration.days < 1:
        raise ValueError(f"a business-days limit must be a whole number of days, got {value}")
    return duration.days


@dataclass(frozen=True, slots=True)
class CommitmentVersion:
    id: str
    commitment_key: str
    version: int
    process_key: str
    node_key: str | None
    segment_key: str
    limit_unit: str
    commitment_limit: str
    tolerance_limit: str
    calendar_key: str | None
    allowed_pause_reasons: frozenset[str]
    owner_department: str | None
    owner_position: str | None
    prewarning_fraction: float | None
    status: str
    effective_from: datetime | None
    effective_to: datetime | None

    @classmethod
    def from_payload(cls, p: Mapping[str, Any]) -> "CommitmentVersion":
        """A `commitment.upserted` payload (msgspec.ValidationError when it does not fit the decoder)."""
        return cls.from_feed(msgspec.convert(p, CommitmentIn, strict=False))

    @classmethod
    def from_feed(cls, c: CommitmentIn) -> "CommitmentVersion":
        """A version governing node runs (ValueError for another kind: it has no process or run limits)."""
        if c.kind != "duration" or c.process_key is None or c.commitment_limit is None or c.tolerance_limit is None:
            raise ValueError(f"a {c.kind} commitment governs no node run")
        return cls(
            id=c.id,
            commitment_key=c.commitment_key,
            version=c.version,
            process_key=c.process_key,
            node_key=c.node_key,
            segment_key=c.segment_key or "default",
            limit_unit=c.limit_unit,
            commitment_limit=c.commitment_limit,
            tolerance_limit=c.tolerance_limit,
            calendar_key=c.calendar_key,
            allowed_pause_reasons=frozenset(c.allowed_pause_reasons),
            owner_department=c.owner_department,
            owner_position=c.owner_position,
            prewarning_fraction=c.prewarning_fraction,
            status=c.status,
            effective_from=parse_instant(c.effective_from),
            effective_to=parse_instant(c.effective_to),
        )

    def in_force_at(self, instant: datetime) -> bool:
        if self.status not in GOVERNING_STATUSES:
            return False
        if self.effective_from is not None and instant < self.effective_from:
            return False
        return self.effective_to is None or instant < self.effective_to

    def limits(self, calendar: Calendar, start: datetime) -> tuple[timedelta, timedelta]:
        """(commitment, tolerance) as counted time for a run starting at `start`."""
        if self.limit_unit == "business_days":
            return (
                business_days_limit(calendar, start, whole_days(self.commitment_limit)),
                business_days_limit(calendar, start, whole_days(self.tolerance_limit)),
            )
        return parse_duration(self.commitment_limit), parse_duration(self.tolerance_limit)


def _clock(value: str) -> time:
    return time(0) if value in ("24:00", "24:00:00") else time.fromisoformat(value)


def _windows(raw: Iterable[Sequence[str]]) -> list[Window]:
    return [Window(_clock(start), _clock(end)) for start, end in raw]


def calendar_from_payload(p: Mapping[str, Any]) -> Calendar:
    """A `calendar.upserted` payload (or its stored copy) as a pledge_deadlines Calendar."""
    weekly = {int(day): _windows(windows) for day, windows in (p.get("weekly") or {}).items()}
    extra = p.get("extra_day_windows")
    return Calendar(
        str(p["timezone"]),
        weekly,
        holidays=[date.fromisoformat(d) for d in p.get("holidays") or ()],
        extra_working_days=[date.fromisoformat(d) for d in p.get("extra_working_days") or ()],
        extra_day_windows=None if extra is None else _windows(extra),
    )


class PauseFacts(msgspec.Struct, frozen=True, gc=False):
    start: datetime
    end: datetime | None
    reason: str


class RunFacts(msgspec.Struct, frozen=True, gc=False):
    """What tracking-svc says about one node run (or one ticket, judged end to end)."""

    id: str
    kind: str  # "node" | "ticket"
    ticket_id: str
    source: str
    external_id: str | None
    process_key: str
    node_key: str | None
    segment: str
    customer_ref: str | None
    cycle: int
    department: str | None
    position: str | None
    status: str  # pending | in_progress | completed | cancelled
    started_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    # a node run's own pauses; a ticket's: every pause of its node runs (which ones stop its clock is
    # the end-to-end commitment's rule, as for a node run; overlapping ones count once)
    pauses: tuple[PauseFacts, ...] = ()
    ended_by_ticket: bool = False  # a node run ended by its ticket's close or cancellation

    @property
    def ended_at(self) -> datetime | None:
        end = self.completed_at if self.status == "completed" else None
        if self.status == "cancelled":
            end = self.cancelled_at or self.started_at
        if end is not None and self.started_at is not None and end < self.started_at:
            end = self.started_at  # an end reported before the start: the run took no time
        return end

    @classmethod
    def from_node_run(cls, r: NodeRunIn) -> "RunFacts":
        return cls(
            id=r.id,
            kind="node",
            ticket_id=r.ticket_id,
            source=r.source,
            external_id=r.external_id,
            process_key=r.process_key,
            node_key=r.node_key,
            segment=r.segment or "default",
            customer_ref=r.customer_ref,
            cycle=r.cycle,
            department=r.department,
            position=r.position,
            status=r.status,
            started_at=parse_instant(r.started_at),
            completed_at=parse_instant(r.completed_at),
            cancelled_at=parse_instant(r.cancelled_at),
            pauses=_pauses(r.pauses),
            ended_by_ticket=r.ended_by_ticket,
        )

    @classmethod
    def from_ticket(cls, t: TicketIn) -> "RunFacts":
        status = {"open": "in_progress", "closed": "completed", "cancelled": "cancelled"}.get(t.status)
        return cls(
            id=ticket_run_id(t.id),
            kind="ticket",
            ticket_id=t.id,
            source=t.source,
            external_id=t.external_id,
            process_key=t.process_key,
            node_key=None,
            segment=t.segment or "default",
            customer_ref=t.customer_ref,
            cycle=1,
            department=None,
            position=None,
            status=status or "pending",
            started_at=parse_instant(t.opened_at),
            completed_at=parse_instant(t.closed_at),
            cancelled_at=parse_instant(t.cancelled_at),
            pauses=_pauses(t.pauses),
        )


def _pauses(pauses: Iterable[PauseIn]) -> tuple[PauseFacts, ...]:
    return tuple(
        PauseFacts(start, parse_instant(q.end), q.reason)
        for q in pauses
        if (start := parse_instant(q.start)) is not None
    )


def pauses_of(p: Mapping[str, Any]) -> tuple[PauseFacts, ...]:
    """The pauses of a stored run (a node run's, or every pause of a ticket's node runs)."""
    return tuple(
        PauseFacts(start, parse_instant(q.get("end")), str(q.get("reason") or ""))
        for q in p.get("pauses") or ()
        if (start := parse_instant(q.get("start"))) is not None
    )


def ticket_run_id(ticket_id: str) -> str:
    return f"ticket:{ticket_id}"
