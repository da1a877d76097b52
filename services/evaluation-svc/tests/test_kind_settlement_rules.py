"""The settlement of availability commitments as pure functions: service-credit tiers (never summed) and the
per-outage penalty charged in the period in which the outage ended (docs/kinds.md)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from evaluation_svc.settlement.rules import (
    AvailabilityCredit,
    Billing,
    CreditTier,
    PerOutageOverLimit,
    SettledOutage,
    availability_credit,
    credit_tier,
    kind_clauses_of,
    per_outage_over_limit,
    period_named,
)

TIERS = (CreditTier(0.999, Decimal("0.10")), CreditTier(0.99, Decimal("0.25")))
CREDIT = AvailabilityCredit(0, "erp-uptime", TIERS, Decimal("20000.00"), "CNY")
PER_OUTAGE = PerOutageOverLimit(1, "erp-uptime", Decimal("500.00"), "CNY")
NOV, DEC = period_named(Billing(), "2026-11"), period_named(Billing(), "2026-12")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class TestAvailabilityCredit:
    @pytest.mark.parametrize(
        ("availability", "amount"),
        [
            (0.9995, None),  # 99.95 %: above every tier
            (0.999, None),  # exactly 99.9 %: a boundary is within
            (1 - 43.2 / 43200, None),  # 43.2 min down in 30 days reads as 99.9 %, not 99.8999999 %
            (0.995, Decimal("2000.00")),  # 99.5 %: 10 %
            (0.98, Decimal("5000.00")),  # 98 %: 25 %, the lowest tier it is under, not 10 % + 25 %
            (0.0, Decimal("5000.00")),
        ],
    )
    def test_the_lowest_tier_under_which_the_period_falls_applies(
        self, availability: float, amount: Decimal | None
    ) -> None:
        line = availability_credit(CREDIT, availability, None)
        assert (None if line is None else line.amount) == amount

    def test_tiers_given_in_any_order_give_the_same_tier(self) -> None:
        assert credit_tier(reversed(TIERS), 0.98) == credit_tier(TIERS, 0.98) == TIERS[1]

    def test_without_a_fee_the_billing_base_fee_is_the_base(self) -> None:
        clause = AvailabilityCredit(0, "erp-uptime", TIERS, None, "CNY")
        line = availability_credit(clause, 0.995, Decimal("8000.00"))
        assert line is not None
        assert line.amount == Decimal("800.00")
        assert line.reason == "availability 99.5 % under 99.9 %: 10.0 % of the fee"

    def test_a_period_without_service_time_is_not_credited(self) -> None:
        assert availability_credit(CREDIT, None, Decimal("8000.00")) is None


def outage(id_: str, ended: str | None, state: str, *, key: str = "erp-uptime", exempt: bool = False) -> SettledOutage:
    return SettledOutage(id_, f"ref-{id_}", "erp", key, None if ended is None else utc(ended), state, exempt)


class TestPerOutageOverLimit:
    def test_an_outage_in_warning_is_charged_in_the_period_it_ended(self) -> None:
        outages = [
            outage("a", "2026-11-28T10:00", "completed_warning"),
            outage("b", "2026-11-20T10:00", "completed_acceptable"),
            outage("c", "2026-12-02T10:00", "completed_warning"),  # ends in December
            outage("d", "2026-11-10T10:00", "completed_warning", exempt=True),  # planned maintenance
            outage("e", "2026-11-11T10:00", "completed_warning", key="other"),
        ]
        lines, pending = per_outage_over_limit(PER_OUTAGE, NOV, outages)
        assert [(line.outage_id, line.amount) for line in lines] == [("a", Decimal("500.00"))]
        assert pending == []
        december, _ = per_outage_over_limit(PER_OUTAGE, DEC, outages)
        assert [line.outage_id for line in december] == ["c"]

    def test_an_outage_open_past_tolerance_at_the_close_is_pending(self) -> None:
        lines, pending = per_outage_over_limit(PER_OUTAGE, NOV, [outage("x", None, "in_progress_warning")])
        assert lines == []
        assert [o.outage_id for o in pending] == ["x"]

    def test_lines_are_keyed_by_outage_for_adjustments(self) -> None:
        lines, _ = per_outage_over_limit(PER_OUTAGE, NOV, [outage("a", "2026-11-28T10:00", "completed_warning")])
        assert lines[0].key == (1, "erp-uptime", "a")


class TestClausesOfAgreement:
    def test_the_kind_penalties_are_read_beside_the_others(self) -> None:
        agreement = {
            "penalties": [
                {"kind": "per_warning_run", "amount": "500.00", "currency": "CNY"},
                {
                    "kind": "availability_credit",
                    "commitment_key": "erp-uptime",
                    "tiers": [{"below": 0.999, "fee_share": 0.10}, {"below": 0.99, "fee_share": 0.25}],
                    "fee": "20000.00",
                    "currency": "CNY",
                },
                {"kind": "per_outage_over_limit", "commitment_key": "erp-uptime", "amount": "500", "currency": "CNY"},
            ]
        }
        assert kind_clauses_of(agreement) == [
            AvailabilityCredit(1, "erp-uptime", TIERS, Decimal("20000.00"), "CNY"),
            PerOutageOverLimit(2, "erp-uptime", Decimal("500.00"), "CNY"),
        ]
