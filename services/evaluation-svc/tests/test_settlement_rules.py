"""The settlement rules as pure functions: tables for each rule, properties over arbitrary runs."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from evaluation_svc.settlement.rules import (
    Billing,
    BillingPeriod,
    Cover,
    Line,
    PerWarningRun,
    Settled,
    SettledRun,
    UnderTarget,
    adjustment,
    clauses_of,
    next_period,
    period_containing,
    period_named,
    periods_overlapping,
    settle,
    settlement_currency,
    totals,
)
from hypothesis import given, settings
from hypothesis import strategies as st

MONTHLY = Billing()
KEY = "repair"
COVERS = [Cover(KEY, 0.95)]
PER_RUN = PerWarningRun(0, Decimal("500.00"), "CNY")
UNDER = UnderTarget(1, KEY, Decimal("10000.00"), None, None, "CNY")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def run(id_: str, ended: str | None, state: str | None, *, key: str = KEY, excluded: str | None = None) -> SettledRun:
    return SettledRun(
        node_run_id=id_,
        ticket_id=f"t-{id_}",
        source="crm",
        external_id=f"WO-{id_}",
        kind="node",
        commitment_key=key,
        ended_at=None if ended is None else utc(ended),
        state=state,
        excluded=excluded,
    )


NOV, DEC = period_named(MONTHLY, "2025-11"), period_named(MONTHLY, "2025-12")


class TestBillingPeriods:
    @pytest.mark.parametrize(
        ("billing", "label", "start", "end"),
        [
            (MONTHLY, "2025-11", "2025-11-01T00:00:00+00:00", "2025-12-01T00:00:00+00:00"),
            (MONTHLY, "2025-12", "2025-12-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"),
            (Billing(timezone="Asia/Shanghai"), "2026-02", "2026-01-31T16:00:00+00:00", "2026-02-28T16:00:00+00:00"),
            (Billing(period="quarter"), "2025-Q4", "2025-10-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"),
            (Billing(period="quarter"), "2026-Q1", "2026-01-01T00:00:00+00:00", "2026-04-01T00:00:00+00:00"),
            # Berlin leaves summer time on 2025-10-26: October has one more hour
            (Billing(timezone="Europe/Berlin"), "2025-10", "2025-09-30T22:00:00+00:00", "2025-10-31T23:00:00+00:00"),
        ],
    )
    def test_a_period_is_named_by_its_local_calendar(self, billing: Billing, label: str, start: str, end: str) -> None:
        period = period_named(billing, label)
        assert (period.start.isoformat(), period.end.isoformat(), period.label) == (start, end, label)

    @pytest.mark.parametrize(
        ("billing", "label"),
        [(MONTHLY, "2025-Q4"), (MONTHLY, "2025-13"), (MONTHLY, "2025-00"), (Billing(period="quarter"), "2025-11")],
    )
    def test_a_label_of_another_kind_or_out_of_range_is_refused(self, billing: Billing, label: str) -> None:
        with pytest.raises(ValueError, match=r"2025|name the period"):
            period_named(billing, label)

    @given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
    @settings(max_examples=200)
    def test_every_instant_is_in_exactly_one_period_and_periods_tile(self, instant: datetime) -> None:
        for billing in (MONTHLY, Billing(period="quarter", timezone="Asia/Shanghai")):
            period = period_containing(billing, instant)
            assert period.start <= instant < period.end
            assert next_period(billing, period).start == period.end
            assert period_named(billing, period.label) == period

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ({}, Billing()),
            ({"billing": {}}, Billing()),
            ({"billing": {"period": "quarter", "timezone": "Asia/Shanghai"}}, Billing("quarter", "Asia/Shanghai")),
            ({"billing": {"period": "week", "timezone": "Nowhere/Land"}}, Billing()),
            (
                {"billing": {"currency": "CNY", "base_fee": 100000.0, "cap": 5000}},
                Billing(currency="CNY", base_fee=Decimal("100000.00"), cap=Decimal("5000.00")),
            ),
        ],
    )
    def test_billing_terms_are_read_with_their_defaults(self, raw: dict[str, object], expected: Billing) -> None:
        assert Billing.of_agreement(raw) == expected

    def test_a_review_covers_every_period_it_overlaps(self) -> None:
        periods = periods_overlapping(MONTHLY, utc("2025-10-15 00:00"), utc("2025-12-01 00:00"))
        assert [p.label for p in periods] == ["2025-10", "2025-11"]


class TestOnePeriodPerRun:
    def test_s1_a_run_in_warning_is_charged_in_the_period_it_ended(self) -> None:
        x = run("x", "2025-11-28 12:00", "completed_warning")
        november = settle(NOV, COVERS, [PER_RUN], MONTHLY, [x])
        december = settle(DEC, COVERS, [PER_RUN], MONTHLY, [x])
        assert [(line.node_run_id, line.external_id, line.amount) for line in november.lines] == [
            ("x", "WO-x", Decimal("500.00"))
        ]
        assert december.lines == []

    def test_s2_open_past_tolerance_at_the_close_is_pending_then_charged(self) -> None:
        as_of_november = run("y", None, "in_progress_warning")
        ended = run("y", "2025-12-03 00:00", "completed_warning")
        november = settle(NOV, COVERS, [PER_RUN], MONTHLY, [as_of_november])
        december = settle(DEC, COVERS, [PER_RUN], MONTHLY, [ended])
        assert ([r.node_run_id for r in november.pending], november.credit) == (["y"], Decimal("0.00"))
        assert [line.node_run_id for line in december.lines] == ["y"]

    @pytest.mark.parametrize(
        ("ended", "state", "charged"),
        [
            ("2025-11-30 23:59", "completed_warning", True),
            ("2025-12-01 00:00", "completed_warning", False),  # the next period's
            ("2025-10-31 23:59", "completed_warning", False),  # the previous period's
            ("2025-11-15 00:00", "completed_acceptable", False),
            ("2025-11-15 00:00", "cancelled", False),
        ],
    )
    def test_per_warning_run_charges_runs_that_ended_in_the_period_in_warning(
        self, ended: str, state: str, charged: bool
    ) -> None:
        charges = settle(NOV, COVERS, [PER_RUN], MONTHLY, [run("r", ended, state)])
        assert bool(charges.lines) is charged

    def test_a_force_majeure_run_is_excluded_not_charged(self) -> None:
        storm = run("s", "2025-11-10 00:00", "completed_warning", excluded="force majeure: typhoon")
        charges = settle(NOV, COVERS, [PER_RUN], MONTHLY, [storm])
        assert (charges.lines, [r.node_run_id for r in charges.excluded]) == ([], ["s"])
        assert (charges.achievements[0].runs, charges.achievements[0].excluded) == (0, 1)

    @given(
        st.lists(
            st.tuples(
                st.integers(min_value=-40, max_value=100),  # end, days after Nov 1 (None past 90: still open)
                st.sampled_from(["completed_normal", "completed_acceptable", "completed_warning", "cancelled"]),
            ),
            max_size=30,
        )
    )
    @settings(max_examples=150)
    def test_every_run_is_charged_at_most_once_over_consecutive_periods(self, specs: list[tuple[int, str]]) -> None:
        start = utc("2025-11-01 00:00")
        periods = periods_overlapping(MONTHLY, utc("2025-10-01 00:00"), utc("2026-02-01 00:00"))
        charged: dict[str, int] = {}
        for period in periods:
            runs = []
            for i, (days, state) in enumerate(specs):
                ended = start + timedelta(days=days) if days <= 90 else None
                open_at_close = ended is None or ended >= period.end
                as_of = "in_progress_warning" if open_at_close else state
                runs.append(run(f"r{i}", None if open_at_close else ended.isoformat()[:16], as_of))
            for line in settle(period, COVERS, [PER_RUN], MONTHLY, runs).lines:
                assert line.node_run_id is not None
                charged[line.node_run_id] = charged.get(line.node_run_id, 0) + 1
        expected = {
            f"r{i}"
            for i, (days, state) in enumerate(specs)
            if days <= 90 and state == "completed_warning" and -31 <= days < 92
        }
        assert set(charged) == expected
        assert all(n == 1 for n in charged.values())


class TestUnderTarget:
    @staticmethod
    def month(normal: int, acceptable: int, *, key: str = KEY) -> list[SettledRun]:
        return [run(f"{key}n{i}", "2025-11-10 00:00", "completed_normal", key=key) for i in range(normal)] + [
            run(f"{key}a{i}", "2025-11-10 00:00", "completed_acceptable", key=key) for i in range(acceptable)
        ]

    @pytest.mark.parametrize(
        ("normal", "acceptable", "charged"),
        [(93, 7, "10000.00"), (95, 5, "0.00"), (96, 4, "0.00"), (0, 0, "0.00")],
    )
    def test_s3_under_target_is_judged_on_the_period_alone(self, normal: int, acceptable: int, charged: str) -> None:
        charges = settle(NOV, COVERS, [UNDER], MONTHLY, self.month(normal, acceptable))
        assert charges.credit == Decimal(charged)

    def test_a_clause_without_a_key_is_charged_once_for_several_missed_commitments(self) -> None:
        covers = [Cover("a", 0.95), Cover("b", 0.9)]
        any_missed = UnderTarget(0, None, Decimal("10000.00"), None, None, "CNY")
        runs = self.month(8, 2, key="a") + self.month(7, 3, key="b")
        [line] = settle(NOV, covers, [any_missed], MONTHLY, runs).lines
        assert line.amount == Decimal("10000.00")
        assert "a: achievement 80.0 % under the target 95.0 %" in line.reason
        assert "b: achievement 70.0 % under the target 90.0 %" in line.reason

    def test_a_clause_with_a_key_looks_at_that_commitment_only(self) -> None:
        covers = [Cover("a", 0.95), Cover("b", 0.9)]
        only_b = UnderTarget(0, "b", Decimal("10000.00"), None, None, "CNY")
        assert settle(NOV, covers, [only_b], MONTHLY, self.month(8, 2, key="a")).lines == []

    @pytest.mark.parametrize(
        ("clause", "base_fee", "amount"),
        [
            (UnderTarget(0, None, Decimal("10000.00"), None, None, "CNY"), None, "10000.00"),
            (UnderTarget(0, None, None, Decimal("0.05"), Decimal("100000.00"), "CNY"), None, "5000.00"),
            (UnderTarget(0, None, None, Decimal("0.05"), None, "CNY"), Decimal("200000.00"), "10000.00"),
            (UnderTarget(0, None, None, Decimal("0.05"), Decimal("100000.00"), "CNY"), Decimal("1"), "5000.00"),
            (UnderTarget(0, None, None, Decimal("0.05"), None, "CNY"), None, "0.00"),
            (UnderTarget(0, None, None, Decimal("0.333"), Decimal("100.00"), "CNY"), None, "33.30"),
        ],
    )
    def test_the_amount_is_fixed_or_a_share_of_the_fee(
        self, clause: UnderTarget, base_fee: Decimal | None, amount: str
    ) -> None:
        assert clause.charge(base_fee) == Decimal(amount)


class TestCapsCreditsAdjustments:
    def test_the_cap_limits_the_period_credit_and_the_base_fee_less_credits_is_due(self) -> None:
        billing = Billing(currency="CNY", base_fee=Decimal("100000.00"), cap=Decimal("1000.00"))
        runs = [run(f"w{i}", "2025-11-10 00:00", "completed_warning") for i in range(3)]
        charges = settle(NOV, COVERS, [PER_RUN], billing, runs)
        sums = totals(charges, [], billing.base_fee)
        assert (sums.penalties, sums.capped_off, sums.credit, sums.amount_due) == (
            Decimal("1500.00"),
            Decimal("500.00"),
            Decimal("1000.00"),
            Decimal("99000.00"),
        )

    def test_s4_a_late_change_is_the_difference_against_what_was_settled(self) -> None:
        approved = settle(NOV, COVERS, [PER_RUN, UNDER], MONTHLY, [run("x", "2025-11-28 00:00", "completed_warning")])
        settled = Settled("2025-11", approved.credit, approved.lines)
        late = [run("x", "2025-11-28 00:00", "completed_warning"), run("z", "2025-11-20 00:00", "completed_warning")]
        recomputed = settle(NOV, COVERS, [PER_RUN, UNDER], MONTHLY, late)
        change = adjustment(settled, recomputed)
        assert change is not None
        assert (change.settled_credit, change.recomputed_credit, change.amount) == (
            Decimal("10500.00"),
            Decimal("11000.00"),
            Decimal("500.00"),
        )
        assert [line.node_run_id for line in change.added] == ["z"]
        december = settle(DEC, COVERS, [PER_RUN, UNDER], MONTHLY, [])
        assert totals(december, [change], None).credits == Decimal("500.00")

    def test_nothing_changed_is_no_adjustment(self) -> None:
        charges = settle(NOV, COVERS, [PER_RUN], MONTHLY, [run("x", "2025-11-28 00:00", "completed_warning")])
        assert adjustment(Settled("2025-11", charges.credit, charges.lines), charges) is None

    @given(st.lists(st.integers(min_value=0, max_value=10_000_00), max_size=20), st.integers(0, 5_000_00))
    def test_the_credit_never_exceeds_the_cap_nor_the_penalties(self, cents: list[int], cap: int) -> None:
        billing = Billing(cap=Decimal(cap) / 100)
        clauses = [PerWarningRun(i, Decimal(c) / 100, "CNY") for i, c in enumerate(cents)]
        charges = settle(NOV, COVERS, clauses, billing, [run("w", "2025-11-10 00:00", "completed_warning")])
        assert charges.credit == min(charges.penalties, Decimal(cap) / 100)
        assert charges.credit + charges.capped_off == charges.penalties


class TestCurrenciesAndClauses:
    def test_one_currency_per_settlement(self) -> None:
        assert settlement_currency(Billing(currency="EUR"), [PER_RUN]) == "EUR"
        assert settlement_currency(MONTHLY, [PER_RUN, UNDER]) == "CNY"
        assert settlement_currency(MONTHLY, []) is None
        with pytest.raises(ValueError, match="several currencies"):
            settlement_currency(MONTHLY, [PER_RUN, PerWarningRun(1, Decimal(1), "USD")])

    def test_clauses_are_read_from_the_agreement_payload(self) -> None:
        payload = {
            "penalties": [
                {"kind": "per_warning_run", "amount": 200.0, "currency": "CNY"},
                {"kind": "under_target", "commitment_key": None, "fee_share": 0.05, "fee": None, "currency": "CNY"},
                {"kind": "unknown", "currency": "CNY"},
            ]
        }
        assert clauses_of(payload) == [
            PerWarningRun(0, Decimal("200.00"), "CNY"),
            UnderTarget(1, None, None, Decimal("0.05"), None, "CNY"),
        ]

    @pytest.mark.parametrize(("normal", "judged", "shown"), [(93, 100, "93.0 %"), (9496, 10000, "94.96 %")])
    def test_the_reason_shows_a_share_under_the_target_under_it(self, normal: int, judged: int, shown: str) -> None:
        runs = [run(f"n{i}", "2025-11-10 00:00", "completed_normal") for i in range(normal)] + [
            run(f"a{i}", "2025-11-10 00:00", "completed_acceptable") for i in range(judged - normal)
        ]
        [line] = settle(NOV, COVERS, [UNDER], MONTHLY, runs).lines
        assert f"achievement {shown} under the target 95.0 %" in line.reason


def test_a_line_is_keyed_by_clause_commitment_and_run() -> None:
    line = Line(0, "per_warning_run", KEY, Decimal(1), "r", node_run_id="x")
    assert line.key == (0, KEY, "x")
    assert BillingPeriod(NOV.start, NOV.end, "2025-11") == NOV
