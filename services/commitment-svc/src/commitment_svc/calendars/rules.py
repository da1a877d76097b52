"""Pure rules of business calendars: parsing and checking working windows, building library calendars."""

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pledge_deadlines import Calendar, Window

_CLOCK = re.compile(r"^(?P<h>[01]\d|2[0-4]):(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d))?$")
WEEKDAY_KEYS = tuple(str(i) for i in range(7))
Pair = Sequence[str]


class CalendarError(ValueError):
    """A calendar definition is wrong; `field` says where (e.g. `weekly.1[0]`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _clock(text: str, field: str, *, is_end: bool) -> tuple[int, time]:
    match = _CLOCK.match(text) if isinstance(text, str) else None
    if match is None:
        raise CalendarError(field, f"{text!r} is not a clock time HH:MM (24:00 allowed as an end)")
    hours, minutes, seconds = int(match["h"]), int(match["m"]), int(match["s"] or 0)
    if hours == 24:
        if minutes or seconds or not is_end:
            raise CalendarError(field, "24:00 is only allowed as the end of a window")
        return 86_400, time(0)
    return hours * 3600 + minutes * 60 + seconds, time(hours, minutes, seconds)


def format_clock(value: time, *, is_end: bool) -> str:
    if is_end and value == time(0):
        return "24:00"
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def parse_windows(pairs: Sequence[Pair], field: str) -> list[Window]:
    """`[["09:00","12:00"], ["13:00","18:00"]]` → windows, sorted; refuses end ≤ start and overlaps."""
    parsed: list[tuple[int, int, int, Window]] = []
    for index, pair in enumerate(pairs):
        where = f"{field}[{index}]"
        if len(pair) != 2:
            raise CalendarError(where, "a window is a pair [start, end]")
        start_s, start = _clock(pair[0], where, is_end=False)
        end_s, end = _clock(pair[1], where, is_end=True)
        if end_s <= start_s:
            raise CalendarError(where, f"end {pair[1]} must be after start {pair[0]}")
        parsed.append((start_s, end_s, index, Window(start, end)))
    parsed.sort()
    for (_, earlier_end, earlier_index, _), (later_start, _, later_index, _) in itertools.pairwise(parsed):
        if later_start < earlier_end:
            raise CalendarError(f"{field}[{later_index}]", f"overlaps window {field}[{earlier_index}] of the same day")
    return [window for *_, window in parsed]


def check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise CalendarError("timezone", f"unknown IANA time zone {name!r} (e.g. Asia/Shanghai)") from None


def normalise_weekly(weekly: Mapping[str, Sequence[Pair]]) -> dict[str, list[list[str]]]:
    """Checked weekly windows in the canonical stored form: every weekday "0" (Mon) … "6" (Sun), sorted."""
    for key in weekly:
        if key not in WEEKDAY_KEYS:
            raise CalendarError(f"weekly.{key}", 'weekday keys are "0" (Monday) … "6" (Sunday)')
    return {day: windows_to_json(parse_windows(weekly.get(day, []), f"weekly.{day}")) for day in WEEKDAY_KEYS}


def windows_to_json(windows: Iterable[Window]) -> list[list[str]]:
    return [[format_clock(w.start, is_end=False), format_clock(w.end, is_end=True)] for w in windows]


def build_calendar(
    timezone: str,
    weekly: Mapping[str, Sequence[Pair]],
    holidays: Iterable[date],
    extra_working_days: Iterable[date],
    extra_day_windows: Sequence[Pair] | None,
) -> Calendar:
    """The library calendar of a definition; CalendarError naming the field when it is not valid."""
    check_timezone(timezone)
    holiday_set, extra_set = set(holidays), set(extra_working_days)
    both = sorted(holiday_set & extra_set)
    if both:
        raise CalendarError("extra_working_days", f"{both[0].isoformat()} is also listed as a holiday")
    by_day = {int(day): parse_windows(windows, f"weekly.{day}") for day, windows in normalise_weekly(weekly).items()}
    extra = None if extra_day_windows is None else parse_windows(extra_day_windows, "extra_day_windows")
    if extra_set and not extra and not any(by_day.values()):
        raise CalendarError("extra_day_windows", "extra working days need working windows")
    try:
        return Calendar(timezone, by_day, holiday_set, extra_set, extra)
    except ValueError as err:  # the library re-checks everything; report it on the definition
        raise CalendarError("weekly", str(err)) from None
