"""The built-in KPIs' arithmetic, one worked example each (docs/kpis.md)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from evalfactories import at, calendar_w
from evaluation_svc.kpis.rules import (
    KPIS,
    REOPEN_WINDOW,
    UTILITY,
    adjustment,
    bounds,
    change,
    closed,
    first_time_fixed,
    mean,
    mean_hours,
    met,
    parse_period,
    ranks,
    rate,
    trend_periods,
    working_days,
    working_seconds,
)
from evaluation_svc.rules import calendar_from_payload

OFFICE = calendar_from_payload(calendar_w().payload)  # Mon-Fri 09:00-12:00, 13:00-18:00 (8 h a day)
HOUR = 3600.0


def test_the_six_utility_kpis_are_in_the_catalogue() -> None:
    assert [k.key for k in UTILITY] == [
        "connection_time",
        "first_time_fix_rate",
        "on_time_rate",
        "complaint_first_time_resolution_rate",
        "csat",
        "commitment_fulfilment_rate",
    ]
    assert KPIS["connection_time"].direction == "lower"
    assert {k.unit for k in UTILITY} == {"working_days", "rate"}


def test_document_002s_measures_follow_the_six() -> None:
    assert list(KPIS)[6:] == [
        "response_time",
        "handling_time",
        "resolution_rate",
        "closure_rate",
        "problem_rate",
        "complaint_volume",
    ]
    assert {k.document for k in KPIS.values() if k not in UTILITY} == {"002"}
    assert [KPIS[k].direction for k in ("response_time", "handling_time", "problem_rate", "complaint_volume")] == [
        "lower"
    ] * 4
    assert (KPIS["complaint_volume"].unit, KPIS["complaint_volume"].source) == ("count", "feedback")


def test_response_time_is_the_mean_working_hours_to_the_first_nodes_end() -> None:
    """On the office calendar: a work order opened Tue 16:00 whose first node ended Wed 10:00 waited 2 h (Tue
    16:00-18:00) + 1 h (Wed 09:00-10:00) = 3 h, the evening and night not counted; one opened Tue 10:00 and
    answered 11:00 waited 1 h: the KPI is 2.0 hours."""
    waits = [
        working_seconds(OFFICE, at("2026-03-03 16:00"), at("2026-03-04 10:00")),
        working_seconds(OFFICE, at("2026-03-03 10:00"), at("2026-03-03 11:00")),
    ]
    assert waits == [3 * HOUR, 1 * HOUR]
    assert mean_hours(waits) == 2.0
    # lunch is not working time: 11:00 to 14:00 is 2 h
    assert working_seconds(OFFICE, at("2026-03-03 11:00"), at("2026-03-03 14:00")) == 2 * HOUR
    assert mean_hours([]) is None


def test_handling_time_is_the_mean_counted_hours_of_the_work_orders() -> None:
    """Two repairs of 2 and 18 counted hours (their commitment's calendar, allowed pauses stopped): 10.0 h."""
    assert mean_hours([2 * HOUR, 18 * HOUR]) == 10.0
    assert mean_hours([20 * 60.0, 40 * 60.0, 60 * 60.0]) == 0.67  # 20, 40, 60 minutes: 40 min


def test_resolution_closure_and_problem_rates() -> None:
    """Resolution: three work orders completed, one reopened 3 days after its first cycle ended: 2 of 3.
    Closure: of four work orders opened in March (a cancelled one is apart), two closed in March, one on
    April 1st, one still open: 2 of 4. Problem: 1 of 2 work orders completed past its tolerance."""
    done = at("2026-03-03 12:00")
    resolved = [first_time_fixed(done, r, REOPEN_WINDOW) for r in (done + timedelta(days=3), None, None)]
    assert rate(sum(resolved), len(resolved)) == 0.6667
    march_end = bounds(parse_period("2026-03"), ZoneInfo("Asia/Shanghai"))[1]
    closings = [at("2026-03-03 12:00"), at("2026-03-05 12:00"), at("2026-04-01 10:00"), None]
    closed_in_march = [c is not None and c < march_end for c in closings]
    assert rate(sum(closed_in_march), len(closed_in_march)) == 0.5
    assert rate(1, 2) == 0.5


def test_connection_time_is_the_mean_of_working_days_on_the_calendar() -> None:
    """Business days as the commitments count them (`P1D`: by the end of the first working day after the
    start day). Connections started Mon 2026-03-02 10:00 (7 h left that day): 7 h and 15 h are done by
    Tuesday's end (1 working day), 23 h by Wednesday's (2), 24 h on Thursday (3): the KPI is the mean."""
    start = at("2026-03-02 10:00")
    days = [working_days(OFFICE, start, h * HOUR) for h in (7, 15, 23, 24)]
    assert days == [1, 1, 2, 3]
    assert mean(days) == 1.75
    days = days[1:]
    assert mean(days) == 2.0
    assert mean([]) is None


def test_a_repair_reopened_within_the_window_was_not_fixed_the_first_time() -> None:
    """Three repairs completed Tue 12:00: one reopened 3 days later, one 9 days later (a new fault), one
    never: 2 of 3 fixed the first time."""
    done = at("2026-03-03 12:00")
    fixed = [
        first_time_fixed(done, done + timedelta(days=3), REOPEN_WINDOW),
        first_time_fixed(done, done + timedelta(days=9), REOPEN_WINDOW),
        first_time_fixed(done, None, REOPEN_WINDOW),
    ]
    assert fixed == [False, True, True]
    assert first_time_fixed(done, done + REOPEN_WINDOW, REOPEN_WINDOW) is False  # the window's last instant
    assert rate(sum(fixed), len(fixed)) == 0.6667


def test_the_rates_of_the_other_four_kpis() -> None:
    # work orders: 9 of 10 end-to-end runs completed within their commitment limit
    assert rate(9, 10) == 0.9
    # complaints: 45 resolved at first contact of 50 resolved
    assert rate(45, 50) == 0.9
    # CSAT: 42 answers of 4 or 5 among 48
    assert rate(42, 48) == 0.875
    # fulfilment: 93 of 100 judged runs within the commitment
    assert rate(93, 100) == 0.93
    # no population is no value, never 0 %
    assert rate(0, 0) is None


def test_a_target_is_met_at_or_beyond_it_in_the_kpis_direction() -> None:
    assert met(0.95, 0.95, "higher") is True
    assert met(0.94, 0.95, "higher") is False
    assert met(12.0, 15.0, "lower") is True
    assert met(16.0, 15.0, "lower") is False
    assert met(None, 0.9, "higher") is None
    assert met(0.9, None, "higher") is None


def test_departments_rank_best_first_ties_share_a_rank() -> None:
    rates = {"a": 0.9, "b": 0.95, "c": 0.9, "d": None}
    assert ranks(rates, "higher") == {"b": 1, "a": 2, "c": 2}
    assert ranks({"a": 12.0, "b": 20.0}, "lower") == {"a": 1, "b": 2}


def test_change_and_adjustment() -> None:
    assert change(0.93, 0.9) == 0.03
    assert change(0.93, None) is None
    # frozen at 0.5; a late on-time work order makes it 2 of 3 now
    assert adjustment(0.6667, 0.5) == 0.1667
    assert adjustment(0.5, 0.5) is None


def test_months_and_their_bounds_in_the_organisations_zone() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    november = parse_period("2026-11")
    assert november == date(2026, 11, 1)
    start, end = bounds(november, shanghai)
    assert start.astimezone(UTC) == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 11, 30, 16, tzinfo=UTC)
    periods = trend_periods(november)
    assert (len(periods), periods[0], periods[-1]) == (12, date(2025, 12, 1), november)
    assert closed(november, shanghai, datetime(2026, 11, 30, 16, tzinfo=UTC)) is True
    assert closed(november, shanghai, datetime(2026, 11, 30, 15, 59, tzinfo=UTC)) is False
