"""Building calendars: validation, defaults, value semantics and the built-in 24x7 calendar."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from deadlines_support import OFFICE_HOURS
from pledge_deadlines import Calendar, Window, business_days_limit, counted_time

HOUR = timedelta(hours=1)


def test_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        Calendar("Mars/Olympus", {0: OFFICE_HOURS})
    with pytest.raises(ValueError, match="unknown time zone"):
        Calendar("../etc/passwd", {0: OFFICE_HOURS})


def test_overlapping_windows_are_rejected_naming_the_weekday_and_windows() -> None:
    with pytest.raises(ValueError, match="Tuesday: window 11:00-13:00 overlaps window 09:00-12:00"):
        Calendar("UTC", {1: [Window(time(11), time(13)), Window(time(9), time(12))]})


def test_touching_windows_are_allowed() -> None:
    calendar = Calendar("UTC", {0: [Window(time(9), time(12)), Window(time(12), time(13))]})

    monday = datetime(2026, 3, 2, tzinfo=UTC)
    assert counted_time(calendar, monday, monday + timedelta(days=1)) == 4 * HOUR


def test_window_ending_before_it_starts_is_rejected_naming_it() -> None:
    with pytest.raises(ValueError, match="window 18:00-09:00: end must be after start"):
        Window(time(18), time(9))
    with pytest.raises(ValueError, match="end must be after start"):
        Window(time(9), time(9))


def test_window_ending_at_midnight_runs_to_the_end_of_the_day() -> None:
    calendar = Calendar("UTC", {0: [Window(time(18), time(0))]})
    monday = datetime(2026, 3, 2, tzinfo=UTC)

    assert str(Window(time(18), time(0))) == "18:00-24:00"
    assert counted_time(calendar, monday, monday + timedelta(days=2)) == 6 * HOUR


def test_window_times_must_be_naive() -> None:
    with pytest.raises(ValueError, match="without tzinfo"):
        Window(time(9, tzinfo=UTC), time(17))


def test_weekday_out_of_range_is_rejected() -> None:
    with pytest.raises(ValueError, match="weekday must be an int from 0"):
        Calendar("UTC", {7: OFFICE_HOURS})


def test_a_day_cannot_be_holiday_and_extra_working_day() -> None:
    with pytest.raises(ValueError, match="2026-05-09 is both a holiday and an extra working day"):
        Calendar("UTC", {0: OFFICE_HOURS}, holidays=[date(2026, 5, 9)], extra_working_days=[date(2026, 5, 9)])


def test_extra_working_days_need_windows() -> None:
    with pytest.raises(ValueError, match="extra_day_windows"):
        Calendar("UTC", {}, extra_working_days=[date(2026, 5, 9)])


def test_extra_day_windows_default_to_the_first_working_weekday() -> None:
    calendar = Calendar("UTC", {2: [Window(time(10), time(11))], 4: OFFICE_HOURS})

    assert calendar.extra_day_windows == (Window(time(10), time(11)),)


def test_extra_working_day_on_a_working_weekday_keeps_its_own_windows() -> None:
    calendar = Calendar(
        "UTC",
        {0: OFFICE_HOURS},
        extra_working_days=[date(2026, 3, 2)],
        extra_day_windows=[Window(time(0), time(0))],
    )
    monday = datetime(2026, 3, 2, tzinfo=UTC)

    assert counted_time(calendar, monday, monday + timedelta(days=1)) == 8 * HOUR


def test_calendars_compare_by_value() -> None:
    first = Calendar("UTC", {0: OFFICE_HOURS}, holidays=[date(2026, 1, 1)])
    second = Calendar("UTC", {0: list(reversed(OFFICE_HOURS))}, holidays=(date(2026, 1, 1),))

    assert first == second
    assert hash(first) == hash(second)
    assert first != Calendar("UTC", {0: OFFICE_HOURS})
    assert first.weekly[0] == OFFICE_HOURS
    assert first.weekly[6] == ()


def test_always_is_one_continuous_utc_calendar() -> None:
    always = Calendar.always()

    assert always is Calendar.always()
    assert always.is_continuous
    assert always.timezone == "UTC"
    assert always == Calendar("UTC", {weekday: [Window(time(0), time(0))] for weekday in range(7)})


def test_whole_days_made_of_touching_windows_are_continuous_but_holidays_are_not() -> None:
    halves = [Window(time(0), time(12)), Window(time(12), time(0))]

    assert Calendar("Europe/Berlin", dict.fromkeys(range(7), halves)).is_continuous
    assert not Calendar("Europe/Berlin", dict.fromkeys(range(7), halves), holidays=[date(2026, 1, 1)]).is_continuous
    assert not Calendar("Europe/Berlin", dict.fromkeys(range(6), halves)).is_continuous


def test_a_skipped_local_day_has_no_working_time() -> None:
    # Samoa skipped Friday 2011-12-30 when it moved across the date line.
    calendar = Calendar("Pacific/Apia", {d: [Window(time(9), time(17))] for d in range(5)})
    thursday = datetime(2011, 12, 29, 9, tzinfo=ZoneInfo("Pacific/Apia"))

    assert counted_time(calendar, thursday, thursday + timedelta(days=5)) == 8 * HOUR + 8 * HOUR
    assert business_days_limit(calendar, thursday, 1) == 8 * HOUR + 8 * HOUR  # the next working day is Monday
