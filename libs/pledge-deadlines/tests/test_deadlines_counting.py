"""Counted time and deadline instants in the situations a real calendar meets."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from deadlines_support import OFFICE_HOURS, shanghai
from pledge_deadlines import (
    Calendar,
    Pause,
    Window,
    business_days_due_at,
    business_days_limit,
    counted_time,
    due_at,
    limit_reached_at,
)

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def sunday_night(zone: str, window: Window) -> Calendar:
    return Calendar(zone, {6: [window]})


# ---- start outside working hours, holidays, make-up days, lunch ----------------------------------------


def test_start_before_opening_counts_from_opening(calendar_w: Calendar) -> None:
    start = shanghai(2026, 3, 3, 7)

    assert counted_time(calendar_w, start, shanghai(2026, 3, 3, 9, 30)) == 30 * MINUTE
    assert due_at(calendar_w, start, HOUR) == shanghai(2026, 3, 3, 10)


def test_start_on_a_weekend_counts_from_monday(calendar_w: Calendar) -> None:
    start = shanghai(2026, 3, 7, 10)

    assert counted_time(calendar_w, start, shanghai(2026, 3, 9, 10)) == HOUR
    assert due_at(calendar_w, start, 2 * HOUR) == shanghai(2026, 3, 9, 11)


def test_start_on_a_holiday_counts_from_the_next_working_day(calendar_w: Calendar) -> None:
    start = shanghai(2026, 5, 1, 10)

    assert counted_time(calendar_w, start, shanghai(2026, 5, 4, 10)) == HOUR
    assert due_at(calendar_w, start, 2 * HOUR) == shanghai(2026, 5, 4, 11)


def test_make_up_saturday_works_the_windows_of_monday(calendar_w: Calendar) -> None:
    assert calendar_w.extra_day_windows == OFFICE_HOURS
    assert counted_time(calendar_w, shanghai(2026, 5, 9, 10), shanghai(2026, 5, 9, 14)) == 3 * HOUR
    assert due_at(calendar_w, shanghai(2026, 5, 8, 17), 3 * HOUR) == shanghai(2026, 5, 9, 11)


def test_make_up_saturday_is_a_business_day(calendar_w: Calendar) -> None:
    start = shanghai(2026, 5, 8, 10)

    limit = business_days_limit(calendar_w, start, 1)

    assert limit == 7 * HOUR + 8 * HOUR  # rest of Friday, then the whole make-up Saturday
    assert limit_reached_at(calendar_w, start, limit) == shanghai(2026, 5, 9, 18)


def test_a_holiday_is_not_a_business_day(calendar_w: Calendar) -> None:
    # Thu 2026-04-30: the 1st working day after it is Mon 2026-05-04 (Fri is a holiday).
    start = shanghai(2026, 4, 30, 17)

    assert business_days_limit(calendar_w, start, 1) == HOUR + 8 * HOUR
    assert business_days_due_at(calendar_w, start, 1) == shanghai(2026, 5, 5, 9)


def test_lunch_break_is_not_counted(calendar_w: Calendar) -> None:
    assert counted_time(calendar_w, shanghai(2026, 3, 3, 11), shanghai(2026, 3, 3, 14)) == 2 * HOUR
    assert due_at(calendar_w, shanghai(2026, 3, 3, 11, 30), HOUR) == shanghai(2026, 3, 3, 13, 30)


def test_limit_reached_at_lunch_is_due_when_work_resumes(calendar_w: Calendar) -> None:
    start = shanghai(2026, 3, 3, 11, 30)

    assert limit_reached_at(calendar_w, start, 30 * MINUTE) == shanghai(2026, 3, 3, 12)
    assert due_at(calendar_w, start, 30 * MINUTE) == shanghai(2026, 3, 3, 13)


def test_zero_limit_is_due_at_the_first_working_instant(calendar_w: Calendar) -> None:
    assert due_at(calendar_w, shanghai(2026, 3, 3, 20), timedelta(0)) == shanghai(2026, 3, 4, 9)
    assert due_at(calendar_w, shanghai(2026, 3, 3, 10), timedelta(0)) == shanghai(2026, 3, 3, 10)


def test_counted_time_is_zero_when_at_is_not_after_start(calendar_w: Calendar) -> None:
    start = shanghai(2026, 3, 3, 10)

    assert counted_time(calendar_w, start, start) == timedelta(0)
    assert counted_time(calendar_w, start, shanghai(2026, 3, 2, 10)) == timedelta(0)


def test_results_are_utc_and_inputs_in_any_offset_agree(calendar_w: Calendar) -> None:
    start = shanghai(2026, 3, 3, 16)

    due = due_at(calendar_w, start, 6 * HOUR)

    assert due is not None
    assert due.tzinfo is UTC
    assert due == due_at(calendar_w, start.astimezone(NEW_YORK), 6 * HOUR)


# ---- year boundary and long spans ------------------------------------------------------------------------


def test_counting_across_the_new_year_skips_the_holiday() -> None:
    calendar = Calendar("Asia/Shanghai", {d: OFFICE_HOURS for d in range(5)}, holidays=[date(2027, 1, 1)])
    start = shanghai(2026, 12, 31, 17)

    assert counted_time(calendar, start, shanghai(2027, 1, 4, 10)) == 2 * HOUR
    assert due_at(calendar, start, 3 * HOUR) == shanghai(2027, 1, 4, 11)


def test_a_whole_year_counts_every_weekday() -> None:
    calendar = Calendar("Asia/Shanghai", {d: OFFICE_HOURS for d in range(5)})

    # 2026 starts on a Thursday: 52 weeks and one Thursday, 261 weekdays.
    assert counted_time(calendar, shanghai(2026, 1, 1), shanghai(2027, 1, 1)) == 261 * 8 * HOUR
    assert due_at(calendar, shanghai(2026, 1, 1), 261 * 8 * HOUR) == shanghai(2027, 1, 1, 9)


def test_a_century_is_counted_like_a_day_by_day_walk() -> None:
    holidays = [date(year, 10, 1) for year in range(2000, 2100)]
    calendar = Calendar("Asia/Shanghai", {d: OFFICE_HOURS for d in range(5)}, holidays=holidays)
    day, working_days = date(2000, 1, 1), 0
    while day < date(2100, 1, 1):
        working_days += day.weekday() < 5 and day not in holidays
        day += timedelta(days=1)

    counted = counted_time(calendar, shanghai(2000, 1, 1), shanghai(2100, 1, 1))

    assert counted == working_days * 8 * HOUR
    assert due_at(calendar, shanghai(2000, 1, 1), counted) == shanghai(2100, 1, 1, 9)


# ---- changes of UTC offset -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "night", "hours"),
    [
        ("Europe/Berlin", date(2026, 3, 29), 2),  # 02:00 -> 03:00
        ("Europe/Berlin", date(2026, 10, 25), 4),  # 03:00 -> 02:00
        ("America/New_York", date(2026, 3, 8), 2),  # 02:00 -> 03:00
        ("America/New_York", date(2026, 11, 1), 4),  # 02:00 -> 01:00
    ],
    ids=["berlin-spring", "berlin-autumn", "new-york-spring", "new-york-autumn"],
)
def test_window_around_the_change_of_offset_lasts_its_real_time(zone: str, night: date, hours: int) -> None:
    calendar = sunday_night(zone, Window(time(1), time(4)))
    midnight = datetime(night.year, night.month, night.day, tzinfo=ZoneInfo(zone))

    assert counted_time(calendar, midnight, midnight + timedelta(days=1)) == hours * HOUR
    assert due_at(calendar, midnight, hours * HOUR - MINUTE) == datetime(
        night.year, night.month, night.day, 3, 59, tzinfo=ZoneInfo(zone)
    )


def test_window_ending_inside_the_spring_gap_ends_at_the_jump() -> None:
    calendar = sunday_night("Europe/Berlin", Window(time(1), time(2, 30)))
    start = datetime(2026, 3, 29, tzinfo=BERLIN)

    assert counted_time(calendar, start, start + timedelta(hours=12)) == HOUR
    assert limit_reached_at(calendar, start, HOUR) == datetime(2026, 3, 29, 3, tzinfo=BERLIN)


def test_window_starting_inside_the_spring_gap_starts_at_the_jump() -> None:
    calendar = sunday_night("Europe/Berlin", Window(time(2, 30), time(4)))
    start = datetime(2026, 3, 29, tzinfo=BERLIN)

    assert counted_time(calendar, start, start + timedelta(hours=12)) == HOUR
    assert due_at(calendar, start, timedelta(0)) == datetime(2026, 3, 29, 3, tzinfo=BERLIN)  # 01:00Z


def test_window_starting_inside_the_repeated_hour_counts_both_times_the_clock_shows_it() -> None:
    # 01:30-03:00 on 2026-11-01 in New York: 01:30-02:00 EDT, then the clock shows 01:00 EST again and
    # works from 01:30 EST to 03:00 EST: 30 min + 90 min, with a non-working hole 01:00-01:30 EST.
    calendar = sunday_night("America/New_York", Window(time(1, 30), time(3)))
    first_half_past_one = utc(2026, 11, 1, 5, 30)  # 01:30 EDT

    assert counted_time(calendar, utc(2026, 11, 1), utc(2026, 11, 2)) == 2 * HOUR
    assert limit_reached_at(calendar, first_half_past_one, 30 * MINUTE) == utc(2026, 11, 1, 6)  # 01:00 EST
    assert due_at(calendar, first_half_past_one, 30 * MINUTE) == utc(2026, 11, 1, 6, 30)  # 01:30 EST


@pytest.mark.parametrize(
    ("zone", "friday", "monday_ten_utc"),
    [
        (BERLIN, date(2026, 3, 27), utc(2026, 3, 30, 8)),  # CET on Friday, CEST on Monday
        (BERLIN, date(2026, 10, 23), utc(2026, 10, 26, 9)),  # CEST on Friday, CET on Monday
        (NEW_YORK, date(2026, 3, 6), utc(2026, 3, 9, 14)),  # EST -> EDT
        (NEW_YORK, date(2026, 10, 30), utc(2026, 11, 2, 15)),  # EDT -> EST
    ],
    ids=["berlin-spring", "berlin-autumn", "new-york-spring", "new-york-autumn"],
)
def test_office_hours_across_a_change_of_offset_follow_the_local_clock(
    zone: ZoneInfo, friday: date, monday_ten_utc: datetime
) -> None:
    calendar = Calendar(zone.key, {d: [Window(time(9), time(17))] for d in range(5)})
    friday_four = datetime(friday.year, friday.month, friday.day, 16, tzinfo=zone)

    assert counted_time(calendar, friday_four, monday_ten_utc) == 2 * HOUR
    assert due_at(calendar, friday_four, 2 * HOUR) == monday_ten_utc
    assert due_at(calendar, friday_four, HOUR) == monday_ten_utc - HOUR  # Monday 09:00 local


def test_all_day_calendar_in_berlin_counts_elapsed_time_over_a_short_day() -> None:
    calendar = Calendar("Europe/Berlin", {d: [Window(time(0), time(0))] for d in range(7)})
    saturday_noon = datetime(2026, 3, 28, 12, tzinfo=BERLIN)

    assert calendar.is_continuous
    assert counted_time(calendar, saturday_noon, datetime(2026, 3, 30, tzinfo=BERLIN)) == 35 * HOUR
    # One business day: the end of Sunday, which lasts 23 hours.
    assert business_days_limit(calendar, saturday_noon, 1) == 12 * HOUR + 23 * HOUR


def test_changes_of_offset_cancel_out_over_whole_years() -> None:
    calendar = sunday_night("Europe/Berlin", Window(time(1, 30), time(2, 30)))
    sundays_in_2026 = 52

    assert counted_time(calendar, utc(2026, 1, 1), utc(2027, 1, 1)) == sundays_in_2026 * HOUR
    # Up to summer only the spring night has happened: 01:30-02:00, half an hour short.
    first_half = counted_time(calendar, utc(2026, 1, 1), utc(2026, 7, 1))
    assert first_half == 26 * HOUR - 30 * MINUTE


# ---- pauses ----------------------------------------------------------------------------------------------


def test_pause_over_the_night_subtracts_only_its_working_time(calendar_w: Calendar) -> None:
    pause = Pause(shanghai(2026, 3, 3, 17), shanghai(2026, 3, 4, 10), "awaiting-customer")
    start, end = shanghai(2026, 3, 3, 10), shanghai(2026, 3, 4, 12)

    assert counted_time(calendar_w, start, end, [pause]) == 10 * HOUR - 2 * HOUR


def test_pause_in_non_working_time_changes_nothing(calendar_w: Calendar) -> None:
    pause = Pause(shanghai(2026, 3, 3, 19), shanghai(2026, 3, 4, 8), "awaiting-customer")
    start = shanghai(2026, 3, 3, 10)

    assert counted_time(calendar_w, start, shanghai(2026, 3, 4, 12), [pause]) == 10 * HOUR
    assert due_at(calendar_w, start, 6 * HOUR, [pause]) == due_at(calendar_w, start, 6 * HOUR)


def test_pause_outside_the_run_changes_nothing(calendar_w: Calendar) -> None:
    before = Pause(shanghai(2026, 3, 2, 10), shanghai(2026, 3, 3, 10), "awaiting-customer")
    after = Pause(shanghai(2026, 3, 5, 10), shanghai(2026, 3, 5, 11), "awaiting-customer")
    start, end = shanghai(2026, 3, 3, 10), shanghai(2026, 3, 4, 12)

    assert counted_time(calendar_w, start, end, [before, after]) == 10 * HOUR


def test_pause_started_before_the_run_stops_the_clock_from_the_start(calendar_w: Calendar) -> None:
    pause = Pause(shanghai(2026, 3, 3, 8), shanghai(2026, 3, 3, 11), "awaiting-customer")
    start = shanghai(2026, 3, 3, 10)

    assert counted_time(calendar_w, start, shanghai(2026, 3, 3, 12), [pause]) == HOUR
    assert due_at(calendar_w, start, HOUR, [pause]) == shanghai(2026, 3, 3, 13)


def test_overlapping_pauses_are_subtracted_once(calendar_w: Calendar) -> None:
    first = Pause(shanghai(2026, 3, 3, 11), shanghai(2026, 3, 3, 14), "awaiting-customer")
    second = Pause(shanghai(2026, 3, 3, 13, 30), shanghai(2026, 3, 3, 15), "force-majeure")
    start, end = shanghai(2026, 3, 3, 10), shanghai(2026, 3, 3, 18)

    assert counted_time(calendar_w, start, end, [second, first]) == 7 * HOUR - 3 * HOUR
    assert counted_time(calendar_w, start, end, [first, first]) == 7 * HOUR - 2 * HOUR
    assert due_at(calendar_w, start, 2 * HOUR, [first, second]) == shanghai(2026, 3, 3, 16)


def test_open_ended_pause_stops_the_clock_for_good(calendar_w: Calendar) -> None:
    start = shanghai(2026, 3, 3, 10)
    pause = Pause(shanghai(2026, 3, 3, 14), None, "awaiting-customer")

    assert counted_time(calendar_w, start, shanghai(2026, 3, 13), [pause]) == 3 * HOUR
    assert due_at(calendar_w, start, 6 * HOUR, [pause]) is None
    assert due_at(calendar_w, start, 2 * HOUR, [pause]) == shanghai(2026, 3, 3, 13)


def test_open_ended_pause_starting_as_the_limit_is_reached_means_never_exceeded(calendar_w: Calendar) -> None:
    start = shanghai(2026, 3, 3, 10)
    pause = Pause(shanghai(2026, 3, 3, 14), None, "awaiting-customer")

    assert due_at(calendar_w, start, 3 * HOUR, [pause]) is None
    assert limit_reached_at(calendar_w, start, 3 * HOUR, [pause]) == shanghai(2026, 3, 3, 14)


def test_pause_shifts_a_business_day_deadline_by_the_working_time_it_covers(calendar_w: Calendar) -> None:
    start = shanghai(2026, 3, 4, 15)
    pause = Pause(shanghai(2026, 3, 5, 9), shanghai(2026, 3, 5, 11), "awaiting-customer")

    assert business_days_due_at(calendar_w, start, 3, [pause]) == shanghai(2026, 3, 10, 11)


# ---- the 24x7 calendar and calendars with little or no working time -------------------------------------


def test_always_counts_elapsed_time_minus_pauses() -> None:
    always = Calendar.always()
    start = datetime(2026, 3, 3, 10, 0, 0, 1, tzinfo=NEW_YORK)
    pause = Pause(start + HOUR, start + 2 * HOUR, "awaiting-customer")

    assert counted_time(always, start, start + 30 * HOUR) == 30 * HOUR
    assert counted_time(always, start, start + 30 * HOUR, [pause]) == 29 * HOUR
    assert due_at(always, start, 5 * HOUR) == start + 5 * HOUR
    assert due_at(always, start, 5 * HOUR, [pause]) == start + 6 * HOUR


def test_always_business_days_end_at_utc_midnight() -> None:
    assert business_days_limit(Calendar.always(), utc(2026, 3, 4, 15), 3) == timedelta(days=3, hours=9)


def test_calendar_without_windows_never_counts() -> None:
    empty = Calendar("UTC", {})
    start = utc(2026, 3, 3)

    assert counted_time(empty, start, utc(2027, 3, 3)) == timedelta(0)
    assert due_at(empty, start, HOUR) is None
    with pytest.raises(ValueError, match="fewer than 1 working days"):
        business_days_limit(empty, start, 1)


def test_calendar_with_only_extra_days_counts_them_and_then_stops() -> None:
    calendar = Calendar("UTC", {}, extra_working_days=[date(2027, 2, 1)], extra_day_windows=[Window(time(9), time(17))])
    start = utc(2026, 3, 3)

    assert counted_time(calendar, start, utc(2030, 1, 1)) == 8 * HOUR
    assert due_at(calendar, start, 7 * HOUR) == utc(2027, 2, 1, 16)
    assert due_at(calendar, start, 8 * HOUR) is None


# ---- bad input -------------------------------------------------------------------------------------------


def test_naive_datetimes_are_rejected(calendar_w: Calendar) -> None:
    naive, aware = datetime(2026, 3, 3, 10), shanghai(2026, 3, 3, 10)

    with pytest.raises(ValueError, match="start must be a timezone-aware"):
        counted_time(calendar_w, naive, aware)
    with pytest.raises(ValueError, match="at must be a timezone-aware"):
        counted_time(calendar_w, aware, naive)
    with pytest.raises(ValueError, match="start must be a timezone-aware"):
        due_at(calendar_w, naive, HOUR)
    with pytest.raises(ValueError, match="pause end must be a timezone-aware"):
        Pause(aware, naive, "awaiting-customer")
    with pytest.raises(ValueError, match="timezone-aware"):
        business_days_limit(calendar_w, naive, 1)


def test_negative_limit_is_rejected(calendar_w: Calendar) -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        due_at(calendar_w, shanghai(2026, 3, 3, 10), -HOUR)


def test_business_days_must_be_positive(calendar_w: Calendar) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        business_days_limit(calendar_w, shanghai(2026, 3, 3, 10), 0)


def test_pause_ending_before_it_starts_is_rejected() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        Pause(shanghai(2026, 3, 3, 10), shanghai(2026, 3, 3, 9), "awaiting-customer")
