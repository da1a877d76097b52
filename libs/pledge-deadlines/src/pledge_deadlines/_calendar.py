"""Business calendars: a time zone, weekly working windows, holidays and extra working days."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import pairwise
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pledge_deadlines._engine import ContinuousEngine, Engine, Span, zone_facts
from pledge_deadlines._instants import DAY

WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MIDNIGHT: Final = time(0)


def _micros_of_day(value: time) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond


def _clock(value: time) -> str:
    return value.isoformat(timespec="minutes" if not (value.second or value.microsecond) else "auto")


@dataclass(frozen=True, slots=True)
class Window:
    """Working hours of one day, ``[start, end)`` on the local wall clock.

    ``end == time(0)`` means midnight at the *end* of the day (24:00), so ``Window(time(0), time(0))``
    is the whole day. Otherwise ``end`` must be later than ``start``: a window never crosses midnight
    (split a night shift into an evening window and a morning window of the next weekday).
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        if not isinstance(self.start, time) or not isinstance(self.end, time):
            raise TypeError("a window is made of two datetime.time values")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError(f"window {self}: times are local wall-clock times, without tzinfo")
        if self.end != MIDNIGHT and self.end <= self.start:
            raise ValueError(f"window {self}: end must be after start (use time(0) as end for 24:00)")

    @property
    def span(self) -> Span:
        """Microseconds since local midnight, ``[start, end)``; 24:00 is ``86_400_000_000``."""
        end = DAY if self.end == MIDNIGHT else _micros_of_day(self.end)
        return _micros_of_day(self.start), end

    def __str__(self) -> str:
        end = "24:00" if self.end == MIDNIGHT else _clock(self.end)
        return f"{_clock(self.start)}-{end}"


def _day(value: object, name: str) -> date:
    if not isinstance(value, date):
        raise TypeError(f"{name} must hold dates, got {value!r}")
    return value.date() if isinstance(value, datetime) else value


def _checked_windows(windows: Iterable[Window], where: str) -> tuple[Window, ...]:
    given = list(windows)
    for window in given:
        if not isinstance(window, Window):
            raise TypeError(f"{where}: expected Window, got {window!r}")
    ordered = sorted(given, key=lambda window: window.span)
    for earlier, later in pairwise(ordered):
        if later.span[0] < earlier.span[1]:
            raise ValueError(f"{where}: window {later} overlaps window {earlier}")
    return tuple(ordered)


class Calendar:
    """When the clock runs: a time zone, weekly windows, holidays and extra (make-up) working days.

    - ``weekly`` maps a weekday (0 = Monday … 6 = Sunday) to its windows; missing weekdays do not work.
    - ``holidays`` are dates without working time, whatever their weekday.
    - ``extra_working_days`` are dates worked although their weekday has no windows (China's 调休
      make-up weekends); they use ``extra_day_windows``, by default the windows of the first weekday,
      Monday to Sunday, that has any. An extra day that is a working weekday anyway keeps its own windows.
    - Windows are wall-clock times of ``timezone``. An instant is working time when the local clock shows
      a time inside a window of a working day; counted time is real elapsed time, so across a change of
      UTC offset a window can last less or more than its wall-clock length.

    Calendars are immutable, hashable and compare by value. Each keeps its precomputed tables (weekly
    prefix sums, special days per year, resolved days) so that it pays to reuse one object per calendar.
    """

    __slots__ = ("_engine", "_extra_day_windows", "_extra_working_days", "_holidays", "_timezone", "_weekly")

    def __init__(
        self,
        timezone: str,
        weekly: Mapping[int, Sequence[Window]],
        holidays: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
        extra_day_windows: Sequence[Window] | None = None,
    ) -> None:
        try:
            tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
            raise ValueError(f"unknown time zone {timezone!r}") from error
        by_weekday: list[tuple[Window, ...]] = [() for _ in WEEKDAYS]
        for weekday, windows in weekly.items():
            if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
                raise ValueError(f"weekday must be an int from 0 (Monday) to 6 (Sunday), got {weekday!r}")
            by_weekday[weekday] = _checked_windows(windows, WEEKDAYS[weekday])
        holiday_set = frozenset(_day(value, "holidays") for value in holidays)
        extra_set = frozenset(_day(value, "extra_working_days") for value in extra_working_days)
        both = sorted(holiday_set & extra_set)
        if both:
            raise ValueError(f"{both[0].isoformat()} is both a holiday and an extra working day")
        if extra_day_windows is None:
            extra = next((windows for windows in by_weekday if windows), ())
        else:
            extra = _checked_windows(extra_day_windows, "extra working day")
        if extra_set and not extra:
            raise ValueError("extra working days need windows: pass extra_day_windows")

        self._timezone = timezone
        self._weekly = tuple(by_weekday)
        self._holidays = holiday_set
        self._extra_working_days = extra_set
        self._extra_day_windows = extra
        spans = tuple(tuple(window.span for window in windows) for windows in by_weekday)
        continuous = not holiday_set and all(_covers_whole_day(day_spans) for day_spans in spans)
        engine_class = ContinuousEngine if continuous else Engine
        self._engine: Engine = engine_class(
            zone_facts(tz),
            spans,
            frozenset(day.toordinal() for day in holiday_set),
            frozenset(day.toordinal() for day in extra_set),
            tuple(window.span for window in extra),
        )

    @classmethod
    def always(cls) -> "Calendar":
        """The 24x7 calendar: every instant counts, no holidays (business days are UTC dates)."""
        return _ALWAYS

    @property
    def timezone(self) -> str:
        return self._timezone

    @property
    def weekly(self) -> Mapping[int, tuple[Window, ...]]:
        return MappingProxyType(dict(enumerate(self._weekly)))

    @property
    def holidays(self) -> frozenset[date]:
        return self._holidays

    @property
    def extra_working_days(self) -> frozenset[date]:
        return self._extra_working_days

    @property
    def extra_day_windows(self) -> tuple[Window, ...]:
        return self._extra_day_windows

    @property
    def is_continuous(self) -> bool:
        """True when every instant is working time (counted time equals elapsed time)."""
        return isinstance(self._engine, ContinuousEngine)

    def _key(self) -> tuple[object, ...]:
        return (
            self._timezone,
            self._weekly,
            self._holidays,
            self._extra_working_days,
            self._extra_day_windows if self._extra_working_days else (),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Calendar):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        weekly = ", ".join(
            f"{WEEKDAYS[weekday][:3]} " + " ".join(str(window) for window in windows)
            for weekday, windows in enumerate(self._weekly)
            if windows
        )
        return (
            f"<Calendar {self._timezone} [{weekly}] holidays={len(self._holidays)}"
            f" extra_working_days={len(self._extra_working_days)}>"
        )


def _covers_whole_day(spans: tuple[Span, ...]) -> bool:
    reached = 0
    for start, end in spans:
        if start > reached:
            return False
        reached = max(reached, end)
    return reached == DAY


_ALWAYS: Final = Calendar("UTC", {weekday: [Window(MIDNIGHT, MIDNIGHT)] for weekday in range(7)})
