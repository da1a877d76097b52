"""The worked examples of DESIGN.md, one test each, on calendar *W* (commitment 6 h, tolerance 10 h).

Each asserts the counted time, the state judged by counted time and the state judged by the deadline
instants (``due_at`` of the commitment and of the tolerance) — the two judgments must agree.
"""

from datetime import datetime, timedelta

from deadlines_support import COMMITMENT, TOLERANCE, shanghai
from pledge_deadlines import (
    Calendar,
    Pause,
    State,
    business_days_due_at,
    business_days_limit,
    classify,
    classify_by_deadline,
    counted_time,
    due_at,
    limit_reached_at,
)

TUESDAY_10 = shanghai(2026, 3, 3, 10)
HOURS = timedelta(hours=1)


def judge(
    calendar: Calendar,
    start: datetime,
    end: datetime,
    *,
    completed: bool,
    pauses: tuple[Pause, ...] = (),
) -> tuple[timedelta, State, State]:
    """Counted time at ``end``, and the state by counted time and by deadline instants."""
    counted = counted_time(calendar, start, end, pauses)
    by_counted = classify(counted, COMMITMENT, TOLERANCE, completed=completed)
    by_deadline = classify_by_deadline(
        end,
        due_at(calendar, start, COMMITMENT, pauses),
        due_at(calendar, start, TOLERANCE, pauses),
        completed=completed,
    )
    return counted, by_counted, by_deadline


def test_example_1_run_within_one_day_is_normal(calendar_w: Calendar) -> None:
    counted, by_counted, by_deadline = judge(calendar_w, TUESDAY_10, shanghai(2026, 3, 3, 15), completed=True)

    assert counted == 4 * HOURS
    assert by_counted == by_deadline == State.COMPLETED_NORMAL


def test_example_2_run_past_the_commitment_on_the_same_day_is_acceptable(calendar_w: Calendar) -> None:
    counted, by_counted, by_deadline = judge(calendar_w, TUESDAY_10, shanghai(2026, 3, 3, 17, 30), completed=True)

    assert counted == 6.5 * HOURS
    assert by_counted == by_deadline == State.COMPLETED_ACCEPTABLE


def test_example_3_run_into_the_next_morning_is_acceptable(calendar_w: Calendar) -> None:
    counted, by_counted, by_deadline = judge(calendar_w, TUESDAY_10, shanghai(2026, 3, 4, 11, 30), completed=True)

    assert counted == 9.5 * HOURS
    assert by_counted == by_deadline == State.COMPLETED_ACCEPTABLE


def test_example_4_run_past_the_tolerance_after_lunch_is_warning(calendar_w: Calendar) -> None:
    counted, by_counted, by_deadline = judge(calendar_w, TUESDAY_10, shanghai(2026, 3, 4, 13, 30), completed=True)

    assert counted == 10.5 * HOURS
    assert by_counted == by_deadline == State.COMPLETED_WARNING


def test_example_5_evening_is_not_counted_and_commitment_is_due_next_afternoon(calendar_w: Calendar) -> None:
    start = shanghai(2026, 3, 3, 16)

    counted, by_counted, by_deadline = judge(calendar_w, start, shanghai(2026, 3, 3, 20), completed=True)

    assert counted == 2 * HOURS
    assert by_counted == by_deadline == State.COMPLETED_NORMAL
    assert due_at(calendar_w, start, COMMITMENT) == shanghai(2026, 3, 4, 14)


def test_example_6_deadline_is_the_last_instant_not_exceeding_the_limit(calendar_w: Calendar) -> None:
    start, limit = shanghai(2026, 3, 3, 12), 5 * HOURS

    assert limit_reached_at(calendar_w, start, limit) == shanghai(2026, 3, 3, 18)
    assert counted_time(calendar_w, start, shanghai(2026, 3, 3, 18)) == limit
    assert counted_time(calendar_w, start, shanghai(2026, 3, 4, 9)) == limit  # flat overnight
    assert due_at(calendar_w, start, limit) == shanghai(2026, 3, 4, 9)
    one_microsecond_later = shanghai(2026, 3, 4, 9) + timedelta(microseconds=1)
    assert counted_time(calendar_w, start, one_microsecond_later) > limit


def test_example_6_run_finished_in_the_evening_after_the_limit_is_reached_is_normal(
    calendar_w: Calendar,
) -> None:
    start, limit, evening = shanghai(2026, 3, 3, 12), 5 * HOURS, shanghai(2026, 3, 3, 21)

    by_counted = classify(counted_time(calendar_w, start, evening), limit, limit, completed=True)
    due = due_at(calendar_w, start, limit)
    by_deadline = classify_by_deadline(evening, due, due, completed=True)

    assert by_counted == by_deadline == State.COMPLETED_NORMAL


def test_example_7_allowed_pause_stops_the_clock(calendar_w: Calendar) -> None:
    pause = Pause(shanghai(2026, 3, 3, 11), shanghai(2026, 3, 4, 10), "awaiting-customer")

    counted, by_counted, by_deadline = judge(
        calendar_w, TUESDAY_10, shanghai(2026, 3, 4, 12), completed=True, pauses=(pause,)
    )

    assert counted == 3 * HOURS
    assert by_counted == by_deadline == State.COMPLETED_NORMAL
    assert due_at(calendar_w, TUESDAY_10, COMMITMENT, [pause]) == shanghai(2026, 3, 4, 16)


def test_example_8_pause_with_a_reason_not_allowed_is_not_passed_and_run_ends_on_the_tolerance(
    calendar_w: Calendar,
) -> None:
    # The caller passes only the pauses whose reason the commitment allows: `internal-delay` is left out.
    counted, by_counted, by_deadline = judge(calendar_w, TUESDAY_10, shanghai(2026, 3, 4, 12), completed=True)

    assert counted == 10 * HOURS == TOLERANCE
    assert by_counted == by_deadline == State.COMPLETED_ACCEPTABLE


def test_example_9_holiday_and_weekend_are_not_counted(calendar_w: Calendar) -> None:
    counted, by_counted, by_deadline = judge(
        calendar_w, shanghai(2026, 4, 30, 17), shanghai(2026, 5, 4, 12), completed=True
    )

    assert counted == 4 * HOURS
    assert by_counted == by_deadline == State.COMPLETED_NORMAL


def test_example_10_make_up_saturday_is_counted(calendar_w: Calendar) -> None:
    counted, by_counted, by_deadline = judge(
        calendar_w, shanghai(2026, 5, 8, 16), shanghai(2026, 5, 11, 10), completed=True
    )

    assert counted == 11 * HOURS
    assert by_counted == by_deadline == State.COMPLETED_WARNING


def test_example_11_run_in_progress_turns_acceptable_one_minute_after_the_commitment(
    calendar_w: Calendar,
) -> None:
    at_five = judge(calendar_w, TUESDAY_10, shanghai(2026, 3, 3, 17), completed=False)
    at_five_past_one = judge(calendar_w, TUESDAY_10, shanghai(2026, 3, 3, 17, 1), completed=False)

    assert at_five == (6 * HOURS, State.IN_PROGRESS_NORMAL, State.IN_PROGRESS_NORMAL)
    assert at_five_past_one == (
        6 * HOURS + timedelta(minutes=1),
        State.IN_PROGRESS_ACCEPTABLE,
        State.IN_PROGRESS_ACCEPTABLE,
    )


def test_example_12_three_business_days_end_with_the_working_hours_of_the_third_working_day(
    calendar_w: Calendar,
) -> None:
    start = shanghai(2026, 3, 4, 15)

    limit = business_days_limit(calendar_w, start, 3)

    assert limit == 27 * HOURS  # Wed 3 h + Thu 8 h + Fri 8 h + Mon 8 h
    assert limit_reached_at(calendar_w, start, limit) == shanghai(2026, 3, 9, 18)
    # By the last-instant rule the deadline instant is when work resumes: Mon evening is still in time.
    assert business_days_due_at(calendar_w, start, 3) == shanghai(2026, 3, 10, 9)
    monday_evening = shanghai(2026, 3, 9, 20)
    by_counted = classify(counted_time(calendar_w, start, monday_evening), limit, limit, completed=True)
    by_deadline = classify_by_deadline(monday_evening, business_days_due_at(calendar_w, start, 3), None, completed=True)
    assert by_counted == by_deadline == State.COMPLETED_NORMAL


def test_period_report_run_completed_in_the_period_is_judged_at_completion(calendar_w: Calendar) -> None:
    # Period [Wed 00:00, Thu 00:00): run 3 completed Wed 11:30, judged as of min(to, now) = Thu 00:00.
    counted, by_counted, by_deadline = judge(calendar_w, TUESDAY_10, shanghai(2026, 3, 4, 11, 30), completed=True)

    assert counted == 9.5 * HOURS
    assert by_counted == by_deadline == State.COMPLETED_ACCEPTABLE


def test_period_report_run_completed_after_the_period_is_in_progress_at_its_end(calendar_w: Calendar) -> None:
    # Started Tue 10:00, completed Thu 10:00: not ended as of Thu 00:00.
    counted, by_counted, by_deadline = judge(calendar_w, TUESDAY_10, shanghai(2026, 3, 5), completed=False)

    assert counted == 15 * HOURS
    assert by_counted == by_deadline == State.IN_PROGRESS_WARNING
    assert counted_time(calendar_w, TUESDAY_10, shanghai(2026, 3, 5, 10)) == 16 * HOURS
