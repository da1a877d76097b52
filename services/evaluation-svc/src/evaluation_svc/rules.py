"""Pure evaluation rules: no I/O. Governing versions, judgments, exemptions, intervals, percentiles.

The deadline arithmetic itself (counted time, due instants, the seven-state classifier) lives in
`pledge_deadlines`; this module applies it to node runs and commitment versions.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import msgspec
from pledge_deadlines import Calendar, Pause, State, Window, business_days_limit, classify, counted_time, due_at
from pydantic import TypeAdapter

UNJUDGED = "unjudged"  # no commitment version was in force when the run started
STATES: tuple[str, ...] = (*(s.value for s in State), UNJUDGED)
GOVERNING_STATUSES = frozenset({"active", "retired"})
ALERT_LEVELS: tuple[str, ...] = ("prewarning", "acceptable", "warning")  # level n is ALERT_LEVELS[n - 1]
_DURATION = TypeAdapter(timedelta)


def parse_instant(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)  # 3.11 reads "Z" too
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_duration(value: str) -> timedelta:
    """An ISO 8601 duration (`PT6H`, `P1DT2H`); days are 24 hours of counted time."""
    return _parsed_duration(value) if isinstance(value, str) else _DURATION.validate_python(value)


@lru_cache(maxsize=4096)  # a handful of distinct limits, each parsed for every run judged
def _parsed_duration(value: str) -> timedelta:
    return _DURATION.validate_python(value)


def whole_days(value: str) -> int:
    """`P3D` → 3 (the business-days unit)."""
    duration = parse_duration(value)
    if duration.seconds or duration.microseconds or duration.days < 1:
        raise ValueError(f"a business-days limit must be a whole number of days, got {value}")
    return duration.days


# --- reference data ---------------------------------------------------------------------------------


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
        return cls(
            id=str(p["id"]),
            commitment_key=str(p["commitment_key"]),
            version=int(p.get("version") or 1),
            process_key=str(p["process_key"]),
            node_key=p.get("node_key"),
            segment_key=str(p.get("segment_key") or "default"),
            limit_unit=str(p.get("limit_unit") or "duration"),
            commitment_limit=str(p["commitment_limit"]),
            tolerance_limit=str(p["tolerance_limit"]),
            calendar_key=p.get("calendar_key"),
            allowed_pause_reasons=frozenset(p.get("allowed_pause_reasons") or ()),
            owner_department=p.get("owner_department"),
            owner_position=p.get("owner_position"),
            prewarning_fraction=p.get("prewarning_fraction"),
            status=str(p.get("status") or "active"),
            effective_from=parse_instant(p.get("effective_from")),
            effective_to=parse_instant(p.get("effective_to")),
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


def governing_version(
    versions: Iterable[CommitmentVersion], process_key: str, node_key: str | None, segment: str, start: datetime
) -> CommitmentVersion | None:
    """The version in force at the run's start for (process, node, segment), else for segment `default`."""
    exact: CommitmentVersion | None = None
    fallback: CommitmentVersion | None = None
    for v in versions:
        if v.process_key != process_key or v.node_key != node_key or not v.in_force_at(start):
            continue
        if v.segment_key == segment:
            if exact is None or v.version > exact.version:
                exact = v
        elif v.segment_key == "default" and (fallback is None or v.version > fallback.version):
            fallback = v
    return exact or fallback


# --- node runs --------------------------------------------------------------------------------------


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
    def from_node_run(cls, p: Mapping[str, Any]) -> "RunFacts":
        return cls(
            id=str(p["id"]),
            kind="node",
            ticket_id=str(p["ticket_id"]),
            source=str(p.get("source") or ""),
            external_id=p.get("external_id"),
            process_key=str(p["process_key"]),
            node_key=p.get("node_key"),
            segment=str(p.get("segment") or "default"),
            customer_ref=p.get("customer_ref"),
            cycle=int(p.get("cycle") or 1),
            department=p.get("department"),
            position=p.get("position"),
            status=str(p.get("status") or "pending"),
            started_at=parse_instant(p.get("started_at")),
            completed_at=parse_instant(p.get("completed_at")),
            cancelled_at=parse_instant(p.get("cancelled_at")),
            pauses=pauses_of(p),
            ended_by_ticket=bool(p.get("ended_by_ticket")),
        )

    @classmethod
    def from_ticket(cls, p: Mapping[str, Any]) -> "RunFacts":
        status = {"open": "in_progress", "closed": "completed", "cancelled": "cancelled"}.get(str(p.get("status")))
        return cls(
            id=ticket_run_id(str(p["id"])),
            kind="ticket",
            ticket_id=str(p["id"]),
            source=str(p.get("source") or ""),
            external_id=p.get("external_id"),
            process_key=str(p["process_key"]),
            node_key=None,
            segment=str(p.get("segment") or "default"),
            customer_ref=p.get("customer_ref"),
            cycle=1,
            department=None,
            position=None,
            status=status or "pending",
            started_at=parse_instant(p.get("opened_at")),
            completed_at=parse_instant(p.get("closed_at")),
            cancelled_at=parse_instant(p.get("cancelled_at")),
            pauses=pauses_of(p),
        )


def pauses_of(p: Mapping[str, Any]) -> tuple[PauseFacts, ...]:
    """The pauses of a feed payload (a node run's, or every pause of a ticket's node runs)."""
    return tuple(
        PauseFacts(start, parse_instant(q.get("end")), str(q.get("reason") or ""))
        for q in p.get("pauses") or ()
        if (start := parse_instant(q.get("start"))) is not None
    )


def ticket_run_id(ticket_id: str) -> str:
    return f"ticket:{ticket_id}"


class Judgment(msgspec.Struct, frozen=True, gc=False):
    commitment_id: str | None = None
    commitment_key: str | None = None
    prewarning_due_at: datetime | None = None
    commitment_due_at: datetime | None = None
    tolerance_due_at: datetime | None = None
    counted_seconds: float | None = None
    final_state: str | None = None  # set once the run has ended
    department: str | None = None
    position: str | None = None


def clock_stopping_pauses(run: RunFacts, reasons: frozenset[str]) -> list[Pause]:
    """The run's pauses whose reason is allowed (the others do not stop the clock). For an end-to-end run,
    the allowed pauses of all its node runs: the deadline arithmetic counts their union (overlaps once)."""
    if not run.pauses:
        return []
    return [Pause(p.start, p.end, p.reason) for p in run.pauses if p.reason in reasons]


def judge(
    run: RunFacts,
    version: CommitmentVersion | None,
    calendar: Calendar | None,
    *,
    extra_pause_reasons: frozenset[str] = frozenset(),
) -> Judgment:
    """Due instants (and, once completed, counted time and state) of a run under its governing version.

    Raises ValueError on facts the deadline arithmetic refuses (the caller leaves the run unjudged).
    """
    ended = run.ended_at
    if run.status == "cancelled":
        unjudged_final: str | None = State.CANCELLED.value
    else:
        unjudged_final = UNJUDGED if ended is not None else None
    if version is None or calendar is None or run.started_at is None:
        return Judgment(final_state=unjudged_final, department=run.department, position=run.position)
    start = run.started_at
    reasons = version.allowed_pause_reasons
    pauses = clock_stopping_pauses(run, reasons | extra_pause_reasons if extra_pause_reasons else reasons)
    commitment, tolerance = version.limits(calendar, start)
    commitment_due = due_at(calendar, start, commitment, pauses)
    tolerance_due = due_at(calendar, start, tolerance, pauses)
    prewarning_due = None
    if version.prewarning_fraction and 0 < version.prewarning_fraction < 1:
        prewarning_due = due_at(calendar, start, commitment * version.prewarning_fraction, pauses)
    counted: timedelta | None = None
    final: str | None = None
    if run.status == "cancelled":
        final = State.CANCELLED.value
    elif ended is not None:
        counted = counted_time(calendar, start, ended, pauses)
        final = classify(counted, commitment, tolerance, completed=True).value
    return Judgment(
        commitment_id=version.id,
        commitment_key=version.commitment_key,
        prewarning_due_at=prewarning_due,
        commitment_due_at=commitment_due,
        tolerance_due_at=tolerance_due,
        counted_seconds=None if counted is None else counted.total_seconds(),
        final_state=final,
        department=run.department or version.owner_department,
        position=run.position or version.owner_position,
    )


def state_as_of(
    t: datetime,
    *,
    started_at: datetime | None,
    ended_at: datetime | None,
    final_state: str | None,
    commitment_id: str | None,
    commitment_due_at: datetime | None,
    tolerance_due_at: datetime | None,
) -> str | None:
    """The state of a stored run as of `t` (None: not started by t). Mirrors the SQL of reports."""
    if started_at is None or started_at > t:
        return None
    if ended_at is not None and ended_at <= t:
        return final_state
    if commitment_id is None:
        return UNJUDGED
    if commitment_due_at is None or t <= commitment_due_at:
        return State.IN_PROGRESS_NORMAL.value
    if tolerance_due_at is None or t <= tolerance_due_at:
        return State.IN_PROGRESS_ACCEPTABLE.value
    return State.IN_PROGRESS_WARNING.value


@dataclass(frozen=True, slots=True)
class ForceMajeure:
    agreement_id: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    commitment_keys: frozenset[str]
    segments: frozenset[str]
    customer_refs: frozenset[str]

    def exempts(self, run: RunFacts, commitment_key: str | None, ended_at: datetime | None) -> bool:
        if commitment_key is None or commitment_key not in self.commitment_keys or run.started_at is None:
            return False
        if self.segments and run.segment not in self.segments:
            return False
        if self.customer_refs and run.customer_ref not in self.customer_refs:
            return False
        return run.started_at < self.ends_at and (ended_at is None or ended_at > self.starts_at)


def force_majeure_of(agreement: Mapping[str, Any]) -> list[ForceMajeure]:
    """The force-majeure windows of an agreement that binds (signed, or terminated after signing)."""
    if agreement.get("status") not in ("signed", "terminated"):
        return []
    scope = agreement.get("scope") or {}
    keys = frozenset(str(c["commitment_key"]) for c in agreement.get("covers") or ())
    windows = []
    for raw in (agreement.get("exemptions") or {}).get("force_majeure") or ():
        starts, ends = parse_instant(raw.get("from")), parse_instant(raw.get("to"))
        if starts is None or ends is None or ends <= starts:
            continue
        windows.append(
            ForceMajeure(
                agreement_id=str(agreement["id"]),
                starts_at=starts,
                ends_at=ends,
                reason=str(raw.get("reason") or ""),
                commitment_keys=keys,
                segments=frozenset(scope.get("segments") or ()),
                customer_refs=frozenset(scope.get("customer_refs") or ()),
            )
        )
    return windows


# --- statistics -------------------------------------------------------------------------------------


def wilson_interval(successes: int, trials: int, z: float = 1.959963984540054) -> tuple[float, float] | None:
    """The 95 % Wilson score interval of a proportion (None without trials)."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


# Counted durations are kept as a log-scale histogram (rollups cost by groups, not rows): bucket 0 holds
# durations under one second; bucket b >= 1 holds [BASE**(b-1), BASE**b) seconds.
HISTOGRAM_BASE = 1.02
_LOG_BASE = math.log(HISTOGRAM_BASE)


def duration_bucket(seconds: float) -> int:
    if seconds < 1:
        return 0
    return 1 + math.floor(math.log(seconds) / _LOG_BASE + 1e-12)


def bucket_bounds(bucket: int) -> tuple[float, float]:
    if bucket <= 0:
        return 0.0, 1.0
    return HISTOGRAM_BASE ** (bucket - 1), HISTOGRAM_BASE**bucket


def histogram_quantile(histogram: Mapping[int, int], q: float, *, upper: bool = False) -> float | None:
    """The q-quantile (nearest rank) of a histogram; inside the bucket, interpolated geometrically.

    `upper=True` gives the bucket's upper edge: a limit that at least a share q of the runs met.
    """
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for bucket in sorted(histogram):
        count = histogram[bucket]
        if seen + count >= rank:
            low, high = bucket_bounds(bucket)
            if upper:
                return high
            fraction = (rank - seen) / count
            if bucket == 0:
                return low + (high - low) * fraction
            return float(low * (high / low) ** fraction)
        seen += count
    return bucket_bounds(max(histogram))[1]


@dataclass
class StateCounts:
    """Counts of runs per state (and how many were exempted) for one group of a report."""

    counts: dict[str, int] = field(default_factory=dict)
    exempted: int = 0

    def add(self, state: str, n: int, *, exempted: bool) -> None:
        if exempted:
            self.exempted += n
        else:
            self.counts[state] = self.counts.get(state, 0) + n

    def level(self, level: str) -> int:
        return sum(n for s, n in self.counts.items() if s.endswith("_" + level))

    @property
    def judged(self) -> int:
        """Non-cancelled, non-exempted runs with a commitment: the denominator of the rates."""
        return sum(n for s, n in self.counts.items() if s not in (State.CANCELLED.value, UNJUDGED))
