"""What a run looks like as of an instant, and the deadlines a person reads (pure: no I/O).

**As of means as of.** In the runs list as of T every figure of a run is the one at T: its `status` (a run
that ended after T is still `in_progress`), its `state`, and its `counted` time (the counted time at completion,
so null for a run not completed by T). The status it has now is given beside them, as `current_status`.

**Two kinds of deadline instant.** `commitment_due_at` judges: the last instant at which counted time does not
exceed the limit. `commitment_reached_at` is the one a person reads: the first instant at which counted time
equals the limit. They differ when the limit is reached at the end of working hours: a limit of 3 business
days from Wed 2026-03-04 15:00 (working hours 09:00-12:00, 13:00-18:00) is reached Mon 2026-03-09 18:00, the end
of the third working day, while the run is judged late only from Tue 2026-03-10 09:00 on.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pledge_deadlines import Calendar, Pause, limit_reached_at

from evaluation_svc.rules import CommitmentVersion, parse_instant

IN_PROGRESS = "in_progress"


@dataclass(frozen=True, slots=True)
class AsOf:
    status: str
    counted_seconds: float | None


def as_of(t: datetime, *, status: str, ended_at: datetime | None, counted_seconds: float | None) -> AsOf:
    """A started run's status and counted time at completion as of `t` (`status` is the current one)."""
    if ended_at is not None and ended_at <= t:
        return AsOf(status, counted_seconds)
    return AsOf(IN_PROGRESS, None)


@dataclass(frozen=True, slots=True)
class Reached:
    prewarning_reached_at: datetime | None = None
    commitment_reached_at: datetime | None = None
    tolerance_reached_at: datetime | None = None


def _pauses(raw: Iterable[Mapping[str, Any]], reasons: frozenset[str]) -> list[Pause]:
    pauses = []
    for p in raw:
        start = parse_instant(p.get("start"))
        if start is not None and str(p.get("reason") or "") in reasons:
            pauses.append(Pause(start, parse_instant(p.get("end")), str(p.get("reason"))))
    return pauses


def reached(
    version: CommitmentVersion, calendar: Calendar, started_at: datetime, pauses: Iterable[Mapping[str, Any]]
) -> Reached:
    """When counted time first equals the pre-warning point, the commitment and the tolerance limits (the same
    limits and clock-stopping pauses the judgment uses)."""
    stops = _pauses(pauses, version.allowed_pause_reasons)
    commitment, tolerance = version.limits(calendar, started_at)
    prewarning = None
    fraction = version.prewarning_fraction
    if fraction and 0 < fraction < 1:
        prewarning = limit_reached_at(calendar, started_at, commitment * fraction, stops)
    return Reached(
        prewarning_reached_at=prewarning,
        commitment_reached_at=limit_reached_at(calendar, started_at, commitment, stops),
        tolerance_reached_at=limit_reached_at(calendar, started_at, tolerance, stops),
    )
