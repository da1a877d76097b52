"""Benchmark of pledge_deadlines.due_at: 100 000 node runs on a business calendar and on 24x7.

Run: ``uv run python bench/deadlines.py [runs]``. Starts are random over 2026, limits random from 1 h to
15 working days (8 h each), one run in five has pauses (a few open-ended). The business calendar is
CN-like: Mon-Fri 09:00-12:00 and 13:00-18:00 Asia/Shanghai with the 2026 public holidays and make-up
working weekends. The first pass runs on a new Calendar object and includes building its tables; the
machine is shared, so the best of three passes is reported too.
"""

import random
import sys
import time as clock
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pledge_deadlines import Calendar, Pause, Window, business_days_due_at, counted_time, due_at

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOLIDAY_RANGES = [
    (date(2026, 1, 1), 3),  # New Year
    (date(2026, 2, 15), 9),  # Spring Festival
    (date(2026, 4, 4), 3),  # Qingming
    (date(2026, 5, 1), 5),  # Labour Day
    (date(2026, 6, 19), 3),  # Dragon Boat
    (date(2026, 9, 25), 3),  # Mid-Autumn
    (date(2026, 10, 1), 7),  # National Day
]
MAKE_UP_DAYS = [date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20)]
MAKE_UP_DAYS += [date(2026, 10, 10)]


def business_calendar() -> Calendar:
    hours = [Window(time(9), time(12)), Window(time(13), time(18))]
    holidays = [first + timedelta(days=offset) for first, length in HOLIDAY_RANGES for offset in range(length)]
    return Calendar(
        "Asia/Shanghai", {weekday: hours for weekday in range(5)}, holidays=holidays, extra_working_days=MAKE_UP_DAYS
    )


Run = tuple[datetime, timedelta, tuple[Pause, ...]]
Measure = Callable[[Calendar, list[Run]], float]


def node_runs(count: int, seed: int = 20260301) -> list[Run]:
    rng = random.Random(seed)
    year_start = datetime(2026, 1, 1, tzinfo=SHANGHAI)
    runs: list[Run] = []
    for _ in range(count):
        start = year_start + timedelta(seconds=rng.randrange(365 * 86_400))
        limit = timedelta(minutes=rng.randrange(60, 15 * 8 * 60 + 1))
        pauses: list[Pause] = []
        if rng.random() < 0.2:
            for _ in range(rng.randint(1, 2)):
                pause_start = start + timedelta(minutes=rng.randrange(-600, 5 * 1440))
                if rng.random() < 0.05:
                    pauses.append(Pause(pause_start, None, "awaiting-customer"))
                else:
                    length = timedelta(minutes=rng.randrange(10, 2 * 1440))
                    pauses.append(Pause(pause_start, pause_start + length, "awaiting-customer"))
        runs.append((start, limit, tuple(pauses)))
    return runs


def time_due_at(calendar: Calendar, runs: list[Run]) -> float:
    began = clock.perf_counter()
    for start, limit, pauses in runs:
        due_at(calendar, start, limit, pauses)
    return clock.perf_counter() - began


def time_counted(calendar: Calendar, runs: list[Run]) -> float:
    began = clock.perf_counter()
    for start, limit, pauses in runs:
        counted_time(calendar, start, start + limit * 2, pauses)
    return clock.perf_counter() - began


def time_business_days(calendar: Calendar, runs: list[Run]) -> float:
    began = clock.perf_counter()
    for index, (start, _, pauses) in enumerate(runs):
        business_days_due_at(calendar, start, 1 + index % 15, pauses)
    return clock.perf_counter() - began


def cold_and_best(make_calendar: Callable[[], Calendar], measure: Measure, runs: list[Run]) -> tuple[float, float]:
    """Seconds of a first pass on a new calendar (tables built on the way) and the best of three passes."""
    calendar = make_calendar()
    timings = [measure(calendar, runs) for _ in range(3)]
    return timings[0], min(timings)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    runs = node_runs(count)
    business_cold, business = cold_and_best(business_calendar, time_due_at, runs)
    always_cold, always = cold_and_best(Calendar.always, time_due_at, runs)
    counted = cold_and_best(business_calendar, time_counted, runs)[1]
    business_days = cold_and_best(business_calendar, time_business_days, runs)[1]
    out = sys.stdout.write
    out(f"due_at, {count} node runs                first pass   best of 3\n")
    out(f"  business calendar (CN-like)           {business_cold:7.3f} s   {business:7.3f} s\n")
    out(f"  24x7 calendar                         {always_cold:7.3f} s   {always:7.3f} s\n")
    out(f"  ratio business / 24x7                 {business_cold / always_cold:7.2f}     {business / always:7.2f}\n")
    out(f"counted_time, business calendar                     {counted:7.3f} s\n")
    out(f"business_days_due_at (1-15 days), business calendar {business_days:7.3f} s\n")


if __name__ == "__main__":
    main()
