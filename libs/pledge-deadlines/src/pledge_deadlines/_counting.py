"""Counted time of a node run and the deadline instants derived from a limit."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pledge_deadlines._calendar import Calendar
from pledge_deadlines._engine import Engine
from pledge_deadlines._instants import ONE_MICROSECOND, to_datetime, to_micros


@dataclass(frozen=True, slots=True)
class Pause:
    """A stop of the clock, ``[start, end)``; ``end=None`` means still paused (open-ended)."""

    start: datetime
    end: datetime | None
    reason: str
    _start: int = field(init=False, repr=False, compare=False)
    _end: int | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        start = to_micros(self.start, "pause start")
        end = None if self.end is None else to_micros(self.end, "pause end")
        if end is not None and end < start:
            raise ValueError(f"pause ends ({self.end}) before it starts ({self.start})")
        object.__setattr__(self, "_start", start)
        object.__setattr__(self, "_end", end)


Stops = list[tuple[int, int | None]]


def _stops(pauses: Iterable[Pause]) -> Stops:
    """The union of the pauses as disjoint, ordered ``(start, end)`` spans (so overlaps count once)."""
    spans: Stops = []
    for pause in pauses:
        if not isinstance(pause, Pause):
            raise TypeError(f"expected Pause, got {pause!r}")
        spans.append((pause._start, pause._end))
    if len(spans) < 2:
        return spans
    spans.sort(key=lambda span: span[0])
    merged: Stops = [spans[0]]
    for start, end in spans[1:]:
        last_start, last_end = merged[-1]
        if last_end is None:
            break
        if start <= last_end:
            merged[-1] = (last_start, None if end is None else max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def _limit(limit: timedelta) -> int:
    if not isinstance(limit, timedelta):
        raise TypeError(f"limit must be a timedelta, got {limit!r}")
    amount = limit // ONE_MICROSECOND
    if amount < 0:
        raise ValueError(f"limit must not be negative, got {limit}")
    return amount


def _engine(calendar: Calendar) -> Engine:
    if not isinstance(calendar, Calendar):
        raise TypeError(f"expected Calendar, got {calendar!r}")
    return calendar._engine


def _counted(engine: Engine, begin: int, end: int, stops: Stops) -> int:
    if end <= begin:
        return 0
    total = engine.between(engine.position(begin), engine.position(end))
    for stop_start, stop_end in stops:
        low = max(stop_start, begin)
        high = end if stop_end is None else min(stop_end, end)
        if low < high:
            total -= engine.between(engine.position(low), engine.position(high))
    return total


def _last_instant(engine: Engine, begin: int, limit: int, stops: Stops) -> int | None:
    """The last instant at which counted time is at most ``limit``: the working, unpaused instant that
    ``limit`` of counted time precedes. None when counted time never exceeds ``limit``."""
    position = engine.position(begin)
    remaining = limit
    for stop_start, stop_end in stops:
        if stop_end is not None and stop_end <= begin:
            continue
        if stop_start > begin:
            stop_position = engine.position(stop_start)
            available = engine.between(position, stop_position)
            if remaining < available:
                return engine.instant(position, remaining)
            remaining -= available
        if stop_end is None:
            return None
        position = engine.position(stop_end)
    return engine.instant(position, remaining)


def counted_time(calendar: Calendar, start: datetime, at: datetime, pauses: Iterable[Pause] = ()) -> timedelta:
    """Working time of ``calendar`` in ``[start, at)`` not covered by any of ``pauses``.

    Pass only the pauses that stop the clock (whose reason the commitment allows). Overlapping pauses
    count once; pauses outside ``[start, at)`` or in non-working time subtract nothing. ``at <= start``
    gives zero.
    """
    engine = _engine(calendar)
    begin, end = to_micros(start, "start"), to_micros(at, "at")
    return timedelta(microseconds=_counted(engine, begin, end, _stops(pauses)))


def due_at(calendar: Calendar, start: datetime, limit: timedelta, pauses: Iterable[Pause] = ()) -> datetime | None:
    """The deadline instant: the last instant ``t`` with ``counted_time(calendar, start, t, pauses) <= limit``.

    That instant is always working, unpaused time: counted time reaches ``limit`` at the end of working
    hours and stays there until work resumes, so the deadline is the moment work resumes (start Tue 12:00,
    limit 5 h on 09:00-12:00/13:00-18:00 gives Wed 09:00, not Tue 18:00). One microsecond later the limit
    is exceeded. Returns None when counted time never exceeds the limit (an open-ended pause stops the
    clock first, or the calendar has no more working time). The result is in UTC.
    """
    engine = _engine(calendar)
    begin, amount = to_micros(start, "start"), _limit(limit)
    if pauses:
        found = _last_instant(engine, begin, amount, _stops(pauses))
    else:  # the common case, kept short
        found = engine.instant(engine.position(begin), amount)
    return None if found is None else to_datetime(found)


def limit_reached_at(
    calendar: Calendar, start: datetime, limit: timedelta, pauses: Iterable[Pause] = ()
) -> datetime | None:
    """The first instant at which counted time equals ``limit`` (for display: "due by Mon 18:00").

    Classification uses :func:`due_at`; this is the other end of the same flat stretch of counted time
    (Tue 18:00 in the example of :func:`due_at`). None when counted time never reaches the limit.
    """
    engine = _engine(calendar)
    begin, amount, stops = to_micros(start, "start"), _limit(limit), _stops(pauses)
    if amount == 0:
        return to_datetime(begin)
    found = _last_instant(engine, begin, amount - 1, stops)
    return None if found is None else to_datetime(found + 1)


def business_days_limit(calendar: Calendar, start: datetime, days: int) -> timedelta:
    """A limit of ``days`` business days as counted time, to be used like any other limit.

    The deadline is the end of the working hours of the ``days``-th working day after the start day (a
    day is working when it has working time); the limit is the counted time from ``start`` to it. Pauses
    then shift a business-day deadline by the working time they cover.
    """
    if isinstance(days, bool) or not isinstance(days, int):
        raise TypeError(f"days must be an int, got {days!r}")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    engine = _engine(calendar)
    begin = to_micros(start, "start")
    day = engine.nth_working_day_after(engine.day_of(begin).ordinal, days)
    if day is None:
        raise ValueError(f"the calendar has fewer than {days} working days after {start.isoformat()}")
    deadline = day.intervals[-1][1]
    return timedelta(microseconds=engine.between(engine.position(begin), engine.position(deadline)))


def business_days_due_at(
    calendar: Calendar, start: datetime, days: int, pauses: Iterable[Pause] = ()
) -> datetime | None:
    """:func:`due_at` of :func:`business_days_limit`."""
    return due_at(calendar, start, business_days_limit(calendar, start, days), pauses)
