"""How a run is judged: its governing version, due instants, counted time and state, as of an instant, and
which agreements exempt it. Pure: no I/O.

The deadline arithmetic itself (counted time, due instants, the seven-state classifier) lives in
`pledge_deadlines`; this module applies it to node runs and commitment versions.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
from pledge_deadlines import Calendar, Pause, State, classify, counted_time, due_at

from evaluation_svc.rules.payloads import CommitmentVersion, RunFacts, parse_instant

UNJUDGED = "unjudged"  # no commitment version was in force when the run started
STATES: tuple[str, ...] = (*(s.value for s in State), UNJUDGED)
ALERT_LEVELS: tuple[str, ...] = ("prewarning", "acceptable", "warning")  # level n is ALERT_LEVELS[n - 1]


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
