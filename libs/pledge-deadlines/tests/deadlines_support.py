"""Helpers of the pledge_deadlines tests: calendars, local instants and a naive reference implementation.

The reference walks a 15-minute grid and asks the wall clock of every slot whether it is working time. It
is exact when every boundary is on that grid (windows on half hours, UTC offsets and their changes on
quarter hours, starts, pauses and limits on the grid), which the property tests arrange.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pledge_deadlines import Calendar, Pause, Window

SHANGHAI = ZoneInfo("Asia/Shanghai")
GRID = timedelta(minutes=15)
COMMITMENT = timedelta(hours=6)
TOLERANCE = timedelta(hours=10)
OFFICE_HOURS = (Window(time(9), time(12)), Window(time(13), time(18)))


def shanghai(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def calendar_w() -> Calendar:
    """Calendar *W* of DESIGN.md: Mon-Fri 09:00-12:00 and 13:00-18:00 Asia/Shanghai, holiday 2026-05-01,
    make-up working day Sat 2026-05-09."""
    return Calendar(
        "Asia/Shanghai",
        {weekday: OFFICE_HOURS for weekday in range(5)},
        holidays=[date(2026, 5, 1)],
        extra_working_days=[date(2026, 5, 9)],
    )


def windows_on(calendar: Calendar, day: date) -> tuple[Window, ...]:
    if day in calendar.holidays:
        return ()
    regular = calendar.weekly[day.weekday()]
    if not regular and day in calendar.extra_working_days:
        return calendar.extra_day_windows
    return regular


def is_working(calendar: Calendar, instant: datetime) -> bool:
    """The definition itself: the local wall clock shows a time inside a window of a working day."""
    local = instant.astimezone(ZoneInfo(calendar.timezone))
    clock = local.time()
    return any(
        window.start <= clock and (window.end == time(0) or clock < window.end)
        for window in windows_on(calendar, local.date())
    )


def is_paused(pauses: Sequence[Pause], instant: datetime) -> bool:
    return any(pause.start <= instant and (pause.end is None or instant < pause.end) for pause in pauses)


def reference_counted(calendar: Calendar, start: datetime, at: datetime, pauses: Sequence[Pause] = ()) -> timedelta:
    slots = 0
    slot = start.astimezone(UTC)  # step in real time, not wall-clock time
    while slot < at:
        if is_working(calendar, slot) and not is_paused(pauses, slot):
            slots += 1
        slot += GRID
    return slots * GRID


def reference_due_at(
    calendar: Calendar,
    start: datetime,
    limit: timedelta,
    pauses: Sequence[Pause] = (),
    horizon: timedelta = timedelta(days=12),
) -> datetime | None:
    """The first counted slot preceded by ``limit`` of counted time; None if not within ``horizon``."""
    counted = timedelta(0)
    slot = start.astimezone(UTC)  # step in real time, not wall-clock time
    while slot < start + horizon:
        if is_working(calendar, slot) and not is_paused(pauses, slot):
            if counted == limit:
                return slot
            counted += GRID
        slot += GRID
    return None


def reference_business_deadline(calendar: Calendar, start: datetime, days: int) -> datetime:
    """End of the working hours of the ``days``-th day with working time after the start day."""
    zone = ZoneInfo(calendar.timezone)
    day = start.astimezone(zone).date()
    found = 0
    while True:
        day += timedelta(days=1)
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
        slot, last_working = midnight - timedelta(hours=3), None
        while slot < midnight + timedelta(hours=28):  # in UTC: real time
            if slot.astimezone(zone).date() == day and is_working(calendar, slot):
                last_working = slot
            slot += GRID
        if last_working is not None:
            found += 1
            if found == days:
                return last_working + GRID


def reference_counted_by_days(calendar: Calendar, start: datetime, at: datetime) -> timedelta:
    """Day by day over long spans: window ends converted to instants on ordinary days, the 15-minute
    walk on days whose UTC offset changes. ``start`` and ``at`` must be on the grid."""
    zone = ZoneInfo(calendar.timezone)
    start, at = start.astimezone(UTC), at.astimezone(UTC)
    total = timedelta(0)
    day, last = start.astimezone(zone).date() - timedelta(days=1), at.astimezone(zone).date() + timedelta(days=1)
    while day <= last:
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        following = day + timedelta(days=1)
        next_midnight = datetime(following.year, following.month, following.day, tzinfo=zone)
        if midnight.utcoffset() == next_midnight.utcoffset():
            for window in windows_on(calendar, day):
                low = datetime.combine(day, window.start, zone).astimezone(UTC)
                end_day = following if window.end == time(0) else day
                high = datetime.combine(end_day, window.end, zone).astimezone(UTC)
                low, high = max(low, start), min(high, at)
                if low < high:
                    total += high - low
        else:
            slot = midnight.astimezone(UTC) - timedelta(hours=3)
            while slot < midnight.astimezone(UTC) + timedelta(hours=28):
                if start <= slot < at and slot.astimezone(zone).date() == day and is_working(calendar, slot):
                    total += GRID
                slot += GRID
        day = following
    return total
