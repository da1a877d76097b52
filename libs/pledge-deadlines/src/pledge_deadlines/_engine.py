"""Working time of one calendar as a cumulative function, evaluated and inverted without looping over days.

Terms:

- *ordinal*: a proleptic Gregorian day number (``date.toordinal()``); its weekday is ``(ordinal - 1) % 7``
  with Monday = 0.
- *day o* of a calendar covers the instants ``[start(o), start(o + 1))``, where ``start(o)`` is the first
  instant at which the local clock shows day o.
- *W_y(o)*: working microseconds from the first day of local year y up to (not including) day o. Between
  *special days* it grows by the weekday's nominal (wall-clock) working time, so it is evaluated with
  whole-week arithmetic and a per-weekday prefix sum. Special days are the holidays, the extra working
  days and the days whose length is not 24 h (a UTC-offset change); each year keeps them in a sorted list
  with prefix sums of their deviation from nominal, so that one ``bisect`` corrects the weekly figure.
- *position* of an instant: ``(year, W_y(day) + working time of its day before it)``, i.e. the cumulative
  working time counted from the start of a local year. Years are built lazily and cached, so numbers stay
  small and a calendar can be used for any year without a precomputed horizon.
"""

from bisect import bisect_left, bisect_right
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pledge_deadlines._instants import DAY, EPOCH_ORDINAL, ONE_MICROSECOND, to_datetime

Span = tuple[int, int]
"""A window as microseconds since local midnight: ``[start, end)``, ``end <= DAY``."""

_NAIVE_EPOCH = datetime(1970, 1, 1)
_CACHE_LIMIT = 200_000
_RECENT = 1_735_689_600_000_000  # 2025-01-01T00:00Z


def _micros(offset: timedelta | None) -> int:
    if offset is None:  # pragma: no cover - ZoneInfo always answers
        raise ValueError("time zone without a UTC offset")
    return offset // ONE_MICROSECOND


class ZoneFacts:
    """What the engine needs from a time zone, cached: where each local day starts, which days are odd."""

    __slots__ = ("_day_starts", "_odd_days", "tz")

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._day_starts: dict[int, int] = {}
        self._odd_days: dict[int, tuple[int, ...]] = {}

    def offset_at(self, instant: int) -> int:
        return _micros(to_datetime(instant).astimezone(self.tz).utcoffset())

    def day_start(self, ordinal: int) -> int:
        start = self._day_starts.get(ordinal)
        if start is None:
            if len(self._day_starts) > _CACHE_LIMIT:
                self._day_starts.clear()
            start = self._first_instant_of(ordinal)
            self._day_starts[ordinal] = start
        return start

    def _first_instant_of(self, ordinal: int) -> int:
        wall = (ordinal - EPOCH_ORDINAL) * DAY
        local = (_NAIVE_EPOCH + timedelta(microseconds=wall)).replace(tzinfo=self.tz)
        before = _micros(local.utcoffset())  # fold=0: the offset in force before a transition
        after = _micros(local.replace(fold=1).utcoffset())
        if before >= after:  # midnight exists once, or twice and the first occurrence starts the day
            return wall - before
        # Midnight falls in a spring-forward gap: the day starts at the jump. Find it by bisection.
        low, high = wall - after, wall - before
        while high - low > 1:
            middle = (low + high) // 2
            if self.offset_at(middle) == after:
                high = middle
            else:
                low = middle
        return high

    def odd_days(self, year: int) -> tuple[int, ...]:
        """Ordinals of the local days of ``year`` that do not last exactly 24 hours."""
        found = self._odd_days.get(year)
        if found is None:
            first = date(year, 1, 1).toordinal()
            following = date(year + 1, 1, 1).toordinal()
            starts = [self.day_start(ordinal) for ordinal in range(first, following + 1)]
            found = tuple(
                first + index for index in range(following - first) if starts[index + 1] - starts[index] != DAY
            )
            self._odd_days[year] = found
        return found

    def pieces(self, start: int, end: int) -> list[tuple[int, int, int]]:
        """``[start, end)`` cut where the UTC offset changes: ``(from, to, offset)`` triples."""
        offset = self.offset_at(start)
        if end - start == DAY and self.offset_at(end - 1) == offset:
            return [(start, end, offset)]
        found = []
        while self.offset_at(end - 1) != offset:
            low, high = start, end - 1  # offset at low is `offset`, at high it differs
            while high - low > 1:
                middle = (low + high) // 2
                if self.offset_at(middle) == offset:
                    low = middle
                else:
                    high = middle
            found.append((start, high, offset))
            start, offset = high, self.offset_at(high)
        found.append((start, end, offset))
        return found


_ZONES: dict[str, ZoneFacts] = {}


def zone_facts(tz: ZoneInfo) -> ZoneFacts:
    facts = _ZONES.get(tz.key)
    if facts is None:
        facts = _ZONES[tz.key] = ZoneFacts(tz)
    return facts


class Day:
    """One local day of a calendar: its instants and its working intervals ``(from, to, worked before)``."""

    __slots__ = ("end", "intervals", "ordinal", "start", "work", "year", "year_offset")

    def __init__(self, ordinal: int, start: int, end: int, intervals: tuple[tuple[int, int, int], ...]) -> None:
        self.ordinal = ordinal
        self.start = start
        self.end = end
        self.intervals = intervals
        self.work = intervals[-1][2] + intervals[-1][1] - intervals[-1][0] if intervals else 0
        self.year = date.fromordinal(ordinal).year
        self.year_offset = -1  # W_y(ordinal), filled in on first use


class Year:
    """Special days of one local year and the prefix sums that correct the weekly arithmetic for them."""

    __slots__ = (
        "count_at",
        "count_delta",
        "count_length",
        "first",
        "specials",
        "total_count",
        "total_work",
        "work_at",
        "work_delta",
        "work_length",
    )

    def __init__(self, first: int) -> None:
        self.first = first
        self.specials: list[int] = []
        # *_at[j]: W_y (or working-day count) before special j; *_length[j]: its own amount;
        # *_delta[j]: sum of deviations from nominal of the specials before j (one more entry than specials).
        self.work_at: list[int] = []
        self.work_length: list[int] = []
        self.work_delta: list[int] = [0]
        self.count_at: list[int] = []
        self.count_length: list[int] = []
        self.count_delta: list[int] = [0]
        self.total_work = 0
        self.total_count = 0


class Engine:
    """Working time of a business calendar. All instants are microseconds since the epoch."""

    def __init__(
        self,
        zone: ZoneFacts,
        weekly: tuple[tuple[Span, ...], ...],
        holidays: frozenset[int],
        extra_days: frozenset[int],
        extra_windows: tuple[Span, ...],
    ) -> None:
        self.zone = zone
        self.weekly = weekly
        self.holidays = holidays
        self.extra_days = extra_days
        self.extra_windows = extra_windows
        self.exceptions = sorted(holidays | extra_days)
        self.last_extra_year = date.fromordinal(max(extra_days)).year if extra_days else None
        nominal = [sum(end - start for start, end in weekly[weekday]) for weekday in range(7)]
        self.work_prefix = [sum(nominal[:weekday]) for weekday in range(8)]
        self.count_prefix = [sum(1 for amount in nominal[:weekday] if amount) for weekday in range(8)]
        self.nominal_work = nominal
        # Local days are found from a guessed UTC offset, then corrected; any recent offset guesses well.
        self.guess_offset = zone.offset_at(_RECENT)
        self._days: dict[int, Day] = {}
        self._years: dict[int, Year] = {}

    # ---- days -------------------------------------------------------------------------------------------

    def windows_of(self, ordinal: int) -> tuple[Span, ...]:
        if ordinal in self.holidays:
            return ()
        regular = self.weekly[(ordinal - 1) % 7]
        if not regular and ordinal in self.extra_days:
            return self.extra_windows
        return regular

    def day(self, ordinal: int) -> Day:
        found = self._days.get(ordinal)
        if found is None:
            if len(self._days) > _CACHE_LIMIT:
                self._days.clear()
            found = self._days[ordinal] = self._build_day(ordinal)
        return found

    def _build_day(self, ordinal: int) -> Day:
        zone = self.zone
        start, end = zone.day_start(ordinal), zone.day_start(ordinal + 1)
        windows = self.windows_of(ordinal)
        spans: list[Span] = []
        if windows:
            wall = (ordinal - EPOCH_ORDINAL) * DAY
            # An instant works when the local clock shows a time inside a window: within a piece of
            # constant UTC offset that is a plain shift of the window.
            for piece_start, piece_end, offset in zone.pieces(start, end):
                base = wall - offset
                for window_start, window_end in windows:
                    low, high = max(base + window_start, piece_start), min(base + window_end, piece_end)
                    if low < high:
                        spans.append((low, high))
            spans.sort()
        intervals: list[tuple[int, int, int]] = []
        worked = 0
        for low, high in spans:
            if intervals and low <= intervals[-1][1]:  # touching or overlapping (a repeated hour): merge
                last_start, last_end, before = intervals[-1]
                if high > last_end:
                    intervals[-1] = (last_start, high, before)
                    worked += high - last_end
                continue
            intervals.append((low, high, worked))
            worked += high - low
        return Day(ordinal, start, end, tuple(intervals))

    def day_of(self, instant: int) -> Day:
        ordinal = (instant + self.guess_offset) // DAY + EPOCH_ORDINAL
        day = self.day(ordinal)
        while instant < day.start:
            day = self.day(day.ordinal - 1)
        while instant >= day.end:
            day = self.day(day.ordinal + 1)
        return day

    # ---- years ------------------------------------------------------------------------------------------

    def _nominal_work(self, ordinal: int) -> int:
        weeks, weekday = divmod(ordinal - 1, 7)
        return weeks * self.work_prefix[7] + self.work_prefix[weekday]

    def _nominal_count(self, ordinal: int) -> int:
        weeks, weekday = divmod(ordinal - 1, 7)
        return weeks * self.count_prefix[7] + self.count_prefix[weekday]

    def year(self, year: int) -> Year:
        found = self._years.get(year)
        if found is None:
            found = self._years[year] = self._build_year(year)
        return found

    def _build_year(self, year: int) -> Year:
        first, following = date(year, 1, 1).toordinal(), date(year + 1, 1, 1).toordinal()
        low, high = bisect_left(self.exceptions, first), bisect_left(self.exceptions, following)
        table = Year(first)
        work_first, count_first = self._nominal_work(first), self._nominal_count(first)
        work_delta = count_delta = 0
        for ordinal in sorted(set(self.exceptions[low:high]).union(self.zone.odd_days(year))):
            work = self.day(ordinal).work
            nominal = self.nominal_work[(ordinal - 1) % 7]
            count, nominal_count = int(work > 0), int(nominal > 0)
            if work == nominal and count == nominal_count:
                continue
            table.specials.append(ordinal)
            table.work_at.append(self._nominal_work(ordinal) - work_first + work_delta)
            table.work_length.append(work)
            table.count_at.append(self._nominal_count(ordinal) - count_first + count_delta)
            table.count_length.append(count)
            work_delta += work - nominal
            count_delta += count - nominal_count
            table.work_delta.append(work_delta)
            table.count_delta.append(count_delta)
        table.total_work = self._nominal_work(following) - work_first + work_delta
        table.total_count = self._nominal_count(following) - count_first + count_delta
        return table

    def _year_offset(self, day: Day) -> int:
        table = self.year(day.year)
        offset = (
            self._nominal_work(day.ordinal)
            - self._nominal_work(table.first)
            + table.work_delta[bisect_left(table.specials, day.ordinal)]
        )
        day.year_offset = offset
        return offset

    def _no_work_after(self, year: int) -> bool:
        if year >= date.max.year - 1:
            raise OverflowError("the deadline falls after the last representable year")
        return self.work_prefix[7] == 0 and (self.last_extra_year is None or year >= self.last_extra_year)

    @staticmethod
    def _locate(
        specials: list[int],
        at: list[int],
        length: list[int],
        first: int,
        amount: int,
        prefix: list[int],
    ) -> tuple[int, int]:
        """The day holding the ``amount``-th unit (0-based) of a year, and how many of its units precede it."""
        index = bisect_right(at, amount) - 1 if at else -1
        if index >= 0:
            into = amount - at[index]
            if into < length[index]:
                return specials[index], into
            base, rest = specials[index] + 1, into - length[index]
        else:
            base, rest = first, amount
        # Between special days every day is nominal: whole weeks, then a weekday by its prefix sum.
        week = prefix[7]
        weeks, weekday = divmod(base - 1, 7)
        weeks, within = divmod(weeks * week + prefix[weekday] + rest, week)
        weekday = bisect_right(prefix, within) - 1
        return weeks * 7 + weekday + 1, within - prefix[weekday]

    # ---- the cumulative function and its inverse --------------------------------------------------------

    def position(self, instant: int) -> tuple[int, int]:
        # The hot path of every operation: a guessed day usually holds the instant.
        day = self._days.get((instant + self.guess_offset) // DAY + EPOCH_ORDINAL)
        if day is None or not day.start <= instant < day.end:
            day = self.day_of(instant)
        offset = day.year_offset
        if offset < 0:
            offset = self._year_offset(day)
        for start, end, before in day.intervals:
            if instant < end:
                return day.year, offset + before + (instant - start if instant > start else 0)
        return day.year, offset + day.work

    def between(self, earlier: tuple[int, int], later: tuple[int, int]) -> int:
        """Working time between two positions (the later one not before the earlier one)."""
        year, worked = earlier
        later_year, later_worked = later
        if year == later_year:
            return later_worked - worked
        total = self.year(year).total_work - worked + later_worked
        for between_year in range(year + 1, later_year):
            total += self.year(between_year).total_work
        return total

    def instant(self, position: tuple[int, int], amount: int) -> int | None:
        """The working instant preceded by ``amount`` working time after ``position``; None if never."""
        year, worked = position
        worked += amount
        table = self._years.get(year) or self.year(year)
        while worked >= table.total_work:
            if self._no_work_after(year):
                return None
            worked -= table.total_work
            year += 1
            table = self.year(year)
        ordinal, into = self._locate(
            table.specials, table.work_at, table.work_length, table.first, worked, self.work_prefix
        )
        day = self._days.get(ordinal) or self.day(ordinal)
        for start, end, before in day.intervals:
            if into < before + end - start:
                return start + into - before
        raise AssertionError("worked time beyond the day")  # pragma: no cover

    def nth_working_day_after(self, ordinal: int, count: int) -> Day | None:
        """The ``count``-th day (1-based) after day ``ordinal`` that has working time; None if none."""
        base = ordinal + 1
        year = date.fromordinal(base).year
        table = self.year(year)
        amount = (
            self._nominal_count(base)
            - self._nominal_count(table.first)
            + table.count_delta[bisect_left(table.specials, base)]
            + count
            - 1
        )
        while amount >= table.total_count:
            if self._no_work_after(year):
                return None
            amount -= table.total_count
            year += 1
            table = self.year(year)
        found, _ = self._locate(
            table.specials, table.count_at, table.count_length, table.first, amount, self.count_prefix
        )
        return self.day(found)


class ContinuousEngine(Engine):
    """A calendar in which every instant is working time: counted time is elapsed time (closed form)."""

    def position(self, instant: int) -> tuple[int, int]:
        return 0, instant

    def between(self, earlier: tuple[int, int], later: tuple[int, int]) -> int:
        return later[1] - earlier[1]

    def instant(self, position: tuple[int, int], amount: int) -> int | None:
        return position[1] + amount
