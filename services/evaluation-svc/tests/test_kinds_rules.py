"""The judgment of availability, count, frequency and clause commitments: each worked example of
docs/kinds.md "Judging each kind" is a test here (pure rules, no database)."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from evaluation_svc.rules.kinds import (
    AvailabilityObjective,
    ClauseObjective,
    CountObjective,
    GapLimits,
    Outage,
    burn_rates,
    forecast,
    intervals_in_period,
    judge_availability,
    judge_clause,
    judge_intervals,
    judge_outage,
    judge_sample,
    judge_samples,
    service_and_downtime,
)
from pledge_deadlines import Calendar, State, Window, classify, counted_time

# Calendar W of DESIGN.md: the service hours of a business service
W = Calendar(
    "Asia/Shanghai",
    {d: [Window(time(9), time(12)), Window(time(13), time(18))] for d in range(5)},
    holidays=[date(2026, 5, 1)],
    extra_working_days=[date(2026, 5, 9)],
)
ALWAYS = Calendar.always()
H = timedelta(hours=1)


def sh(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- availability on service hours -------------------------------------------------------------------------

MARCH = (sh("2026-03-01T00:00"), sh("2026-04-01T00:00"))
OUTAGES = [
    Outage("A", sh("2026-03-03T17:00"), sh("2026-03-04T10:00")),  # 1 h Tue evening + 1 h Wed morning
    Outage("B", sh("2026-03-05T09:00"), sh("2026-03-05T13:00"), weight=0.5),  # a degradation over lunch
    Outage("C", sh("2026-03-06T17:00"), sh("2026-03-06T18:00"), planned=True),  # planned maintenance
]
SHAPE = AvailabilityObjective(max_outages=2, max_downtime=4 * H)


class TestAvailabilityOnServiceHours:
    def period(self, *, exempt: bool = True) -> object:
        objective = AvailabilityObjective(2, 4 * H, planned_maintenance_exempt=exempt)
        return judge_availability(OUTAGES, W, 1 * H, 2 * H, objective, *MARCH, sh("2026-04-02T00:00"), target=0.98)

    def test_the_service_time_is_the_counted_time_less_the_planned_maintenance(self) -> None:
        p = judge_availability(OUTAGES, W, 1 * H, 2 * H, SHAPE, *MARCH, sh("2026-04-02T00:00"), target=0.98)
        assert counted_time(W, *MARCH) == 176 * H  # 22 working days of 8 h
        assert p.service_time == 175 * H
        assert p.downtime == timedelta(hours=3.5)  # A 2 h + B 3 h x 0.5; the night and lunch not counted
        assert p.availability == pytest.approx(0.98)
        assert p.target_met is True

    def test_each_outage_is_judged_by_its_counted_duration_against_the_max_single_outage(self) -> None:
        p = judge_availability(OUTAGES, W, 1 * H, 2 * H, SHAPE, *MARCH, sh("2026-04-02T00:00"), target=0.98)
        by_ref = {o.ref: o for o in p.outages}
        assert (by_ref["A"].counted, by_ref["A"].state) == (2 * H, State.COMPLETED_ACCEPTABLE)  # = tolerance
        assert (by_ref["B"].counted, by_ref["B"].state) == (3 * H, State.COMPLETED_WARNING)  # weight not applied
        assert by_ref["C"].exempt
        assert by_ref["A"].commitment_due_at == sh("2026-03-04T09:00")  # the last instant not exceeding 1 h
        assert by_ref["A"].tolerance_due_at == sh("2026-03-04T10:00")
        assert p.states == {"completed_acceptable": 1, "completed_warning": 1}
        assert p.exempted == 1

    def test_mttr_mtbf_budget_and_shape(self) -> None:
        p = judge_availability(OUTAGES, W, 1 * H, 2 * H, SHAPE, *MARCH, sh("2026-04-02T00:00"), target=0.98)
        assert p.mttr == timedelta(hours=2.5)
        assert p.mtbf == timedelta(hours=(175 - 3.5) / 2)
        assert p.budget == timedelta(hours=3.5)
        assert p.budget_remaining == timedelta(0)
        assert (p.max_outages.met, p.max_downtime.met, p.max_single_outage.met) == (True, True, False)
        assert p.longest is not None
        assert p.longest.ref == "B"

    def test_planned_maintenance_counts_when_the_objective_does_not_exempt_it(self) -> None:
        objective = AvailabilityObjective(2, 4 * H, planned_maintenance_exempt=False)
        p = judge_availability(OUTAGES, W, 1 * H, 2 * H, objective, *MARCH, sh("2026-04-02T00:00"), target=0.98)
        assert (p.service_time, p.downtime) == (176 * H, timedelta(hours=4.5))
        assert p.availability == pytest.approx(1 - 4.5 / 176)
        assert p.target_met is False
        assert (p.max_outages.met, p.max_downtime.met) == (False, False)
        assert p.budget_remaining == timedelta(hours=0.02 * 176 - 4.5)

    def test_overlapping_outages_count_once_at_the_highest_weight(self) -> None:
        start, end = utc("2026-06-01T00:00"), utc("2026-06-02T00:00")
        outages = [
            Outage("x", utc("2026-06-01T10:00"), utc("2026-06-01T12:00"), weight=0.5),
            Outage("y", utc("2026-06-01T11:00"), utc("2026-06-01T13:00")),
        ]
        assert service_and_downtime(outages, ALWAYS, start, end) == (24 * H, timedelta(hours=0.5 + 2))


class TestOutageInProgress:
    def test_an_open_outage_is_judged_as_of_t(self) -> None:
        outage = Outage("A", sh("2026-03-03T10:00"), None)
        states = [judge_outage(outage, W, 6 * H, 10 * H, sh(t)) for t in ("2026-03-03T17:00", "2026-03-03T17:01")]
        assert [s.state for s in states if s] == [State.IN_PROGRESS_NORMAL, State.IN_PROGRESS_ACCEPTABLE]

    def test_an_outage_whose_start_is_unknown_is_not_judged(self) -> None:
        assert judge_outage(Outage("A", None, sh("2026-03-03T10:00")), W, H, H, sh("2026-03-04T00:00")) is None

    def test_classification_by_counted_time_and_by_due_instants_agree(self) -> None:
        start = sh("2026-03-03T16:00")
        for minutes in range(0, 24 * 60, 37):
            t = start + timedelta(minutes=minutes)
            j = judge_outage(Outage("A", start, None), W, 1 * H, 2 * H, t)
            assert j is not None
            assert j.commitment_due_at is not None
            assert j.tolerance_due_at is not None
            by_deadline = (
                "normal" if t <= j.commitment_due_at else "acceptable" if t <= j.tolerance_due_at else "warning"
            )
            assert j.state.level == by_deadline


# --- the 98 % trap ----------------------------------------------------------------------------------------

YEAR = (utc("2026-01-01T00:00"), utc("2027-01-01T00:00"))
SHORT = [
    Outage(f"o{i}", YEAR[0] + timedelta(days=3 * i + 1), YEAR[0] + timedelta(days=3 * i + 1, minutes=5))
    for i in range(49)
]
WEEK = Outage("week", utc("2026-07-01T00:00"), utc("2026-07-08T00:00"))
TRAP_SHAPE = AvailabilityObjective(max_outages=60, max_downtime=timedelta(days=8))


class TestTheNinetyEightPercentTrap:
    def test_a_week_long_outage_meets_98_percent_over_a_year_but_breaks_the_max_single_outage(self) -> None:
        p = judge_availability([*SHORT, WEEK], ALWAYS, 4 * H, 8 * H, TRAP_SHAPE, *YEAR, YEAR[1], target=0.98)
        assert p.downtime == timedelta(days=7, minutes=49 * 5)
        assert p.availability == pytest.approx(1 - (7 * 1440 + 245) / (365 * 1440))  # 0.98036
        assert p.target_met is True
        assert (p.max_outages.met, p.max_downtime.met) == (True, True)
        assert p.max_single_outage.met is False
        assert p.longest is not None
        assert (p.longest.ref, p.longest.state) == ("week", State.COMPLETED_WARNING)
        assert p.states == {"completed_normal": 49, "completed_warning": 1}

    def test_the_same_downtime_spread_out_meets_every_limit(self) -> None:
        spread = [
            Outage(f"o{i}", YEAR[0] + timedelta(days=7 * i + 1), YEAR[0] + timedelta(days=7 * i + 1, minutes=206.5))
            for i in range(50)
        ]
        p = judge_availability(spread, ALWAYS, 4 * H, 8 * H, TRAP_SHAPE, *YEAR, YEAR[1], target=0.98)
        assert p.downtime == timedelta(days=7, minutes=245)
        assert p.target_met is True
        assert p.max_single_outage.met is True
        assert p.states == {"completed_normal": 50}

    def test_within_a_30_day_month_the_week_alone_breaks_98_percent(self) -> None:
        month = (utc("2026-07-01T00:00"), utc("2026-07-31T00:00"))
        p = judge_availability([*SHORT, WEEK], ALWAYS, 4 * H, 8 * H, TRAP_SHAPE, *month, month[1], target=0.98)
        assert p.availability == pytest.approx(1 - 7 / 30)  # 76.67 %
        assert p.target_met is False


# --- burn rates and forecast ------------------------------------------------------------------------------

T = utc("2026-06-10T12:00")


class TestBurnRates:
    def test_an_outage_in_progress_for_70_minutes_pages_on_the_fast_windows(self) -> None:
        b = burn_rates([Outage("x", T - timedelta(minutes=70), None)], ALWAYS, 0.999, T)
        assert b.rates["1h"] == pytest.approx(1000)
        assert b.rates["5m"] == pytest.approx(1000)
        assert (b.alert, b.reason) == ("page", "1h and 5m burn at >= 14.4x")

    def test_a_recent_5_minute_outage_pages_on_the_6h_and_30m_windows(self) -> None:
        b = burn_rates([Outage("x", T - timedelta(minutes=25), T - timedelta(minutes=20))], ALWAYS, 0.999, T)
        assert b.rates["5m"] == 0
        assert b.rates["30m"] == pytest.approx(166.666666667)
        assert (b.alert, b.reason) == ("page", "6h and 30m burn at >= 6x")

    def test_once_the_short_windows_are_clean_only_a_ticket_remains(self) -> None:
        b = burn_rates([Outage("x", T - timedelta(minutes=45), T - timedelta(minutes=40))], ALWAYS, 0.999, T)
        assert b.rates["6h"] == pytest.approx(13.888888889)
        assert b.rates["3d"] == pytest.approx(1.157407407)
        assert (b.alert, b.reason) == ("ticket", "3d and 6h burn at >= 1x")

    def test_an_outage_a_day_ago_raises_nothing(self) -> None:
        b = burn_rates([Outage("x", T - timedelta(hours=30), T - timedelta(hours=29, minutes=10))], ALWAYS, 0.999, T)
        assert b.alert is None
        assert b.rates["6h"] == 0

    def test_a_window_outside_the_service_hours_burns_nothing(self) -> None:
        night = sh("2026-03-03T22:00")
        b = burn_rates([Outage("x", sh("2026-03-03T21:00"), None)], W, 0.999, night)
        assert b.rates["1h"] == 0
        assert b.alert is None


class TestForecast:
    @pytest.mark.parametrize(
        ("downtime_min", "burn_3d", "projected_min", "meets", "certain"),
        [
            (20, 1.0, 20 + 29.52, False, False),  # the rest of June burns its budget share: 49.52 > 43.2
            (20, 0.5, 20 + 14.76, True, False),
            (50, 0.0, 50, False, True),  # 50 min already spent out of 43.2: certain
        ],
    )
    def test_the_rest_of_the_period_burns_at_the_3_day_rate(
        self, downtime_min: float, burn_3d: float, projected_min: float, meets: bool, certain: bool
    ) -> None:
        f = forecast(timedelta(minutes=downtime_min), timedelta(days=9.5), timedelta(days=30), 0.999, burn_3d)
        assert f.downtime == timedelta(minutes=projected_min)
        assert (f.meets_target, f.certain) == (meets, certain)

    def test_the_error_budget_of_a_30_day_month_at_999_is_43_2_minutes(self) -> None:
        month = (utc("2026-06-01T00:00"), utc("2026-07-01T00:00"))
        outages = [Outage("x", utc("2026-06-03T10:00"), utc("2026-06-03T10:30"))]
        p = judge_availability(outages, ALWAYS, 4 * H, 8 * H, AvailabilityObjective(), *month, T, target=0.999)
        assert p.budget == timedelta(minutes=43.2)
        assert p.budget_remaining == timedelta(minutes=13.2)
        assert p.service_time == timedelta(days=30)  # the whole period, as of T within it


# --- count ------------------------------------------------------------------------------------------------

USERS = CountObjective("at_least", 1000, 900, "users")
LATENCY = CountObjective("at_most", 300, 500, "ms")


class TestCount:
    @pytest.mark.parametrize(
        ("objective", "value", "state"),
        [
            (USERS, 1200, State.COMPLETED_NORMAL),
            (USERS, 1000, State.COMPLETED_NORMAL),
            (USERS, 950, State.COMPLETED_ACCEPTABLE),
            (USERS, 900, State.COMPLETED_ACCEPTABLE),
            (USERS, 899, State.COMPLETED_WARNING),
            (LATENCY, 250, State.COMPLETED_NORMAL),
            (LATENCY, 300, State.COMPLETED_NORMAL),
            (LATENCY, 450, State.COMPLETED_ACCEPTABLE),
            (LATENCY, 800, State.COMPLETED_WARNING),
        ],
    )
    def test_each_sample(self, objective: CountObjective, value: float, state: State) -> None:
        assert judge_sample(value, objective) == state

    def test_a_period_share_within_the_limit_and_its_worst_sample(self) -> None:
        p = judge_samples([1200, 1000, 950, 899], USERS)
        assert p.samples == 4
        assert p.share_within_limit == 0.5
        assert (p.worst, p.worst_state) == (899, State.COMPLETED_WARNING)
        assert p.states == {"completed_normal": 2, "completed_acceptable": 1, "completed_warning": 1}

    def test_a_period_without_samples_has_no_share(self) -> None:
        assert judge_samples([], LATENCY).share_within_limit is None


# --- frequency --------------------------------------------------------------------------------------------

BACKUP = GapLimits("duration", "P2D", "P3D")
ORIGIN = utc("2026-03-01T00:00")
BACKUPS = [utc("2026-03-02T22:00"), utc("2026-03-05T10:00"), utc("2026-03-08T12:00")]


class TestFrequency:
    def test_each_gap_is_judged_like_a_run_and_the_open_interval_is_in_progress(self) -> None:
        intervals = judge_intervals(BACKUPS, ALWAYS, BACKUP, ORIGIN, utc("2026-03-10T13:00"))
        assert [(i.started_at, i.ended_at, i.state) for i in intervals] == [
            (ORIGIN, BACKUPS[0], State.COMPLETED_NORMAL),  # 1 d 22 h
            (BACKUPS[0], BACKUPS[1], State.COMPLETED_ACCEPTABLE),  # 2.5 d: within the 3-day tolerance
            (BACKUPS[1], BACKUPS[2], State.COMPLETED_WARNING),  # 3 d 2 h
            (BACKUPS[2], None, State.IN_PROGRESS_ACCEPTABLE),  # missing since Mar 10 12:00
        ]
        assert intervals[-1].commitment_due_at == utc("2026-03-10T12:00")  # the missing-occurrence alert
        assert intervals[-1].tolerance_due_at == utc("2026-03-11T12:00")

    def test_gaps_agree_with_counted_time(self) -> None:
        intervals = judge_intervals(BACKUPS, ALWAYS, BACKUP, ORIGIN, utc("2026-03-10T13:00"))
        for i in intervals[:-1]:
            assert i.ended_at is not None
            counted = counted_time(ALWAYS, i.started_at, i.ended_at)
            assert classify(counted, timedelta(days=2), timedelta(days=3), completed=True) == i.state

    def test_the_first_interval_is_due_at_first_due_at(self) -> None:
        first = judge_intervals(
            BACKUPS, ALWAYS, BACKUP, ORIGIN, utc("2026-03-10T13:00"), first_due_at=utc("2026-03-01T12:00")
        )[0]
        assert (first.commitment_due_at, first.tolerance_due_at) == (utc("2026-03-01T12:00"), utc("2026-03-02T12:00"))
        assert first.state == State.COMPLETED_WARNING  # Mar 2 22:00 is past both

    def test_business_days_gaps_count_on_the_calendar(self) -> None:
        limits = GapLimits("business_days", "P3D", "P5D")
        start = sh("2026-03-04T15:00")
        intervals = judge_intervals([sh("2026-03-09T17:00")], W, limits, start, sh("2026-03-09T20:00"))
        # reached at Mon 18:00 (the end of the third working day), exceeded once work resumes Tue 09:00
        assert intervals[0].commitment_due_at == sh("2026-03-10T09:00")
        assert intervals[0].tolerance_due_at == sh("2026-03-12T09:00")
        assert intervals[0].state == State.COMPLETED_NORMAL
        assert intervals[1].state == State.IN_PROGRESS_NORMAL

    def test_a_period_holds_the_intervals_active_in_it(self) -> None:
        intervals = judge_intervals(BACKUPS, ALWAYS, BACKUP, ORIGIN, utc("2026-03-10T13:00"))
        inside = intervals_in_period(intervals, utc("2026-03-06T00:00"), utc("2026-03-11T00:00"))
        assert [i.started_at for i in inside] == [BACKUPS[1], BACKUPS[2]]


# --- clause -----------------------------------------------------------------------------------------------

TRAINING = ClauseObjective(sh("2026-06-30T18:00"), sh("2026-07-07T18:00"))


class TestClause:
    @pytest.mark.parametrize(
        ("delivered", "as_of", "state", "outcome"),
        [
            ("2026-06-28T10:00", "2026-07-31T00:00", State.COMPLETED_NORMAL, "on_time"),
            ("2026-06-30T18:00", "2026-07-31T00:00", State.COMPLETED_NORMAL, "on_time"),  # at the due instant
            ("2026-07-03T10:00", "2026-07-31T00:00", State.COMPLETED_ACCEPTABLE, "late"),
            ("2026-07-09T10:00", "2026-07-31T00:00", State.COMPLETED_WARNING, "late"),
            (None, "2026-06-20T00:00", State.IN_PROGRESS_NORMAL, "pending"),
            (None, "2026-07-01T00:00", State.IN_PROGRESS_ACCEPTABLE, "missing"),
            (None, "2026-07-08T00:00", State.IN_PROGRESS_WARNING, "missing"),
            ("2026-07-09T10:00", "2026-07-08T00:00", State.IN_PROGRESS_WARNING, "missing"),  # not yet as of T
        ],
    )
    def test_delivered_on_time_late_or_missing(
        self, delivered: str | None, as_of: str, state: State, outcome: str
    ) -> None:
        j = judge_clause(TRAINING, None if delivered is None else sh(delivered), None, sh(as_of))
        assert (j.state, j.outcome) == (state, outcome)

    def test_without_a_tolerance_a_late_delivery_is_a_warning(self) -> None:
        j = judge_clause(ClauseObjective(sh("2026-06-30T18:00")), sh("2026-06-30T18:01"), None, sh("2026-07-31T00:00"))
        assert (j.state, j.outcome) == (State.COMPLETED_WARNING, "late")

    def test_sign_off_is_reported_beside_the_state(self) -> None:
        delivered, signed = sh("2026-06-28T10:00"), sh("2026-06-29T10:00")
        before = judge_clause(TRAINING, delivered, signed, sh("2026-06-28T20:00"))
        after = judge_clause(TRAINING, delivered, signed, sh("2026-06-29T20:00"))
        assert (before.signed_off, before.awaiting_sign_off) == (False, True)
        assert (after.signed_off, after.awaiting_sign_off) == (True, False)
        assert before.state == after.state == State.COMPLETED_NORMAL
