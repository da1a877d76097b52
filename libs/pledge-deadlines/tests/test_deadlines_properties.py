"""Properties of counted time and deadline instants on random calendars, checked against naive references.

Calendars are random: a zone with or without changes of UTC offset (including 30-minute ones and changes
at midnight), 0-3 windows per weekday on half hours (night windows included, so windows meet the changes),
holidays and extra working days near the start, which is often a day of change.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from deadlines_support import (
    GRID,
    reference_business_deadline,
    reference_counted,
    reference_counted_by_days,
    reference_due_at,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from pledge_deadlines import (
    Calendar,
    Pause,
    Window,
    business_days_limit,
    classify,
    classify_by_deadline,
    counted_time,
    due_at,
    limit_reached_at,
)

ZONES = [
    "Asia/Shanghai",
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # changes by 30 minutes
    "America/Sao_Paulo",  # changed at midnight until 2019
]
DAYS_OF_CHANGE = [
    date(2026, 3, 29),
    date(2026, 10, 25),  # Berlin
    date(2026, 3, 8),
    date(2026, 11, 1),  # New York
    date(2026, 4, 5),
    date(2026, 10, 4),  # Lord Howe
    date(2018, 2, 17),
    date(2018, 11, 4),  # Sao Paulo
    date(2026, 12, 31),  # a year boundary
]
SLOTS_PER_DAY = 96
MICROSECOND = timedelta(microseconds=1)
HOUR = timedelta(hours=1)
PROPERTY = settings(max_examples=200, deadline=None)
FEWER = settings(max_examples=100, deadline=None)


@dataclass(frozen=True)
class Scenario:
    calendar: Calendar
    start: datetime
    pauses: tuple[Pause, ...]


def clock(half_hour: int) -> time:
    return time(0) if half_hour == 48 else time(half_hour // 2, 30 * (half_hour % 2))


windows = (
    st.lists(st.integers(0, 48), max_size=6, unique=True)
    .map(sorted)
    .map(lambda points: [Window(clock(a), clock(b)) for a, b in zip(points[0::2], points[1::2], strict=False)])
)


@st.composite
def calendars(draw: st.DrawFn, near: date) -> Calendar:
    weekly = {weekday: draw(windows) for weekday in range(7)}
    if not any(weekly.values()):
        weekly[draw(st.integers(0, 6))] = [Window(time(9), time(17))]
    nearby = st.integers(-3, 12).map(lambda days: near + timedelta(days=days))
    holidays = draw(st.sets(nearby, max_size=4))
    extra_days = draw(st.sets(nearby, max_size=3)) - holidays
    extra_windows = draw(st.one_of(st.none(), windows.filter(bool)))
    return Calendar(draw(st.sampled_from(ZONES)), weekly, holidays, extra_days, extra_windows)


@st.composite
def scenarios(draw: st.DrawFn, *, pauses: bool = True) -> Scenario:
    near = draw(st.one_of(st.sampled_from(DAYS_OF_CHANGE), st.dates(date(2017, 1, 1), date(2027, 12, 31))))
    calendar = draw(calendars(near))
    start = datetime(near.year, near.month, near.day, tzinfo=UTC) + GRID * draw(
        st.integers(-2 * SLOTS_PER_DAY, 2 * SLOTS_PER_DAY)
    )
    stops = []
    for _ in range(draw(st.integers(0, 3)) if pauses else 0):
        pause_start = start + GRID * draw(st.integers(-20, 300))
        length = draw(st.one_of(st.none(), st.integers(0, 200)))
        if length is None and draw(st.integers(0, 3)):  # open-ended pauses are the rarer kind
            length = 1
        pause_end = None if length is None else pause_start + GRID * length
        stops.append(Pause(pause_start, pause_end, "awaiting-customer"))
    return Scenario(calendar, start, tuple(stops))


limits_on_grid = st.integers(0, 48).map(lambda slots: GRID * slots)
limits = st.integers(0, 40 * 3600 * 10**6).map(lambda micros: timedelta(microseconds=micros))
offsets = st.integers(-(10**11), 6 * 86400 * 10**6).map(lambda micros: timedelta(microseconds=micros))


# ---- against the naive references ------------------------------------------------------------------------


@PROPERTY
@given(scenarios(), st.integers(0, 3 * SLOTS_PER_DAY))
def test_counted_time_equals_the_wall_clock_walk(scenario: Scenario, slots: int) -> None:
    at = scenario.start + GRID * slots

    expected = reference_counted(scenario.calendar, scenario.start, at, scenario.pauses)

    assert counted_time(scenario.calendar, scenario.start, at, scenario.pauses) == expected


@PROPERTY
@given(scenarios(), limits_on_grid)
def test_due_at_equals_the_wall_clock_walk(scenario: Scenario, limit: timedelta) -> None:
    horizon = timedelta(days=12)
    expected = reference_due_at(scenario.calendar, scenario.start, limit, scenario.pauses, horizon)

    found = due_at(scenario.calendar, scenario.start, limit, scenario.pauses)

    if expected is None:
        assert found is None or found >= scenario.start + horizon
    else:
        assert found == expected


@PROPERTY
@given(scenarios(), limits_on_grid.filter(bool))
def test_limit_reached_at_equals_the_wall_clock_walk(scenario: Scenario, limit: timedelta) -> None:
    horizon = timedelta(days=12)
    before_last_slot = reference_due_at(scenario.calendar, scenario.start, limit - GRID, scenario.pauses, horizon)

    found = limit_reached_at(scenario.calendar, scenario.start, limit, scenario.pauses)

    if before_last_slot is None:
        assert found is None or found >= scenario.start + horizon
    else:
        assert found == before_last_slot + GRID


@FEWER
@given(scenarios(pauses=False), st.integers(1, 4))
def test_business_days_end_with_the_working_hours_of_the_nth_working_day(scenario: Scenario, days: int) -> None:
    calendar, start = scenario.calendar, scenario.start
    expected = reference_business_deadline(calendar, start, days)

    limit = business_days_limit(calendar, start, days)

    assert limit == counted_time(calendar, start, expected)
    assert limit_reached_at(calendar, start, limit) == expected


@FEWER
@given(scenarios(pauses=False), st.integers(0, 2 * 366 * SLOTS_PER_DAY))
def test_long_spans_equal_the_day_by_day_walk(scenario: Scenario, slots: int) -> None:
    at = scenario.start + GRID * slots

    expected = reference_counted_by_days(scenario.calendar, scenario.start, at)

    assert counted_time(scenario.calendar, scenario.start, at) == expected


# ---- algebraic properties at microsecond precision ------------------------------------------------------


@PROPERTY
@given(scenarios(), offsets, limits)
def test_due_at_is_the_last_instant_within_the_limit(scenario: Scenario, shift: timedelta, limit: timedelta) -> None:
    calendar, start, pauses = scenario.calendar, scenario.start + shift, scenario.pauses

    due = due_at(calendar, start, limit, pauses)

    if due is not None:
        assert due >= start
        assert counted_time(calendar, start, due, pauses) == limit
        # The deadline is always working, unpaused time: one microsecond later the limit is exceeded.
        assert counted_time(calendar, start, due + MICROSECOND, pauses) == limit + MICROSECOND


@PROPERTY
@given(scenarios(), offsets, limits.filter(bool))
def test_limit_reached_at_is_the_first_instant_at_the_limit(
    scenario: Scenario, shift: timedelta, limit: timedelta
) -> None:
    calendar, start, pauses = scenario.calendar, scenario.start + shift, scenario.pauses

    reached = limit_reached_at(calendar, start, limit, pauses)

    if reached is not None:
        assert counted_time(calendar, start, reached, pauses) == limit
        assert counted_time(calendar, start, reached - MICROSECOND, pauses) == limit - MICROSECOND


@PROPERTY
@given(scenarios(), offsets, offsets)
def test_counted_time_is_monotonic_in_at(scenario: Scenario, first: timedelta, second: timedelta) -> None:
    calendar, start, pauses = scenario.calendar, scenario.start, scenario.pauses
    earlier, later = sorted((start + first, start + second))

    assert counted_time(calendar, start, earlier, pauses) <= counted_time(calendar, start, later, pauses)


@PROPERTY
@given(scenarios(), limits, limits)
def test_due_at_is_monotonic_in_the_limit(scenario: Scenario, first: timedelta, second: timedelta) -> None:
    calendar, start, pauses = scenario.calendar, scenario.start, scenario.pauses
    smaller, larger = sorted((first, second))
    never = datetime.max.replace(tzinfo=UTC)

    assert (due_at(calendar, start, smaller, pauses) or never) <= (due_at(calendar, start, larger, pauses) or never)


@PROPERTY
@given(scenarios(), offsets, limits, limits, st.booleans())
def test_classification_by_counted_time_and_by_deadline_agree(
    scenario: Scenario, shift: timedelta, first: timedelta, second: timedelta, completed: bool
) -> None:
    calendar, start, pauses = scenario.calendar, scenario.start, scenario.pauses
    commitment, tolerance = sorted((first, second))
    instant = start + shift

    by_counted = classify(counted_time(calendar, start, instant, pauses), commitment, tolerance, completed=completed)
    by_deadline = classify_by_deadline(
        instant,
        due_at(calendar, start, commitment, pauses),
        due_at(calendar, start, tolerance, pauses),
        completed=completed,
    )

    assert by_counted == by_deadline


@PROPERTY
@given(
    scenarios(pauses=False),
    st.integers(0, 3 * 366 * 86400 * 10**6),
    st.integers(0, 3 * 366 * 86400 * 10**6),
)
def test_counted_time_is_additive(scenario: Scenario, first: int, second: int) -> None:
    calendar, start = scenario.calendar, scenario.start
    middle, end = (start + timedelta(microseconds=micros) for micros in sorted((first, second)))

    assert counted_time(calendar, start, middle) + counted_time(calendar, middle, end) == counted_time(
        calendar, start, end
    )


@PROPERTY
@given(scenarios(), offsets, limits)
def test_always_counts_elapsed_time_outside_pauses(scenario: Scenario, shift: timedelta, limit: timedelta) -> None:
    always, start, pauses = Calendar.always(), scenario.start, scenario.pauses
    at = start + shift
    # The same calendar, but a holiday long ago keeps it off the closed form.
    whole_days = {weekday: [Window(time(0), time(0))] for weekday in range(7)}
    utc_calendar = Calendar("UTC", whole_days, holidays=[date(1990, 1, 1)])
    assert not utc_calendar.is_continuous

    assert counted_time(always, start, at) == max(shift, timedelta(0))
    assert due_at(always, start, limit) == start + limit
    assert counted_time(always, start, at, pauses) == counted_time(utc_calendar, start, at, pauses)
    assert due_at(always, start, limit, pauses) == due_at(utc_calendar, start, limit, pauses)
