"""The pure rules of kinds (`commitments.kinds`) and of the penalties that name them (`agreements.rules`)."""

from datetime import timedelta

import pytest
from commitment_svc.agreements.rules import cover_error, credit_tiers_error, penalty_error
from commitment_svc.commitments.kinds import check_subject, check_terms, parse_objective
from commitment_svc.commitments.rules import RuleError


class TestObjective:
    def test_availability_fills_its_defaults_and_writes_durations_in_answer_form(self) -> None:
        assert parse_objective("availability", None) == {
            "max_outages": None,
            "max_downtime": None,
            "planned_maintenance_exempt": True,
        }
        assert parse_objective("availability", {"max_downtime": "PT2H50S"})["max_downtime"] == "PT2H0M50S"  # type: ignore[index]

    @pytest.mark.parametrize(
        ("kind", "raw", "field"),
        [
            ("duration", {}, "objective"),
            ("count", None, "objective"),
            ("clause", None, "objective"),
            ("availability", {"max_downtime": "PT0S"}, "objective.max_downtime"),
            (
                "count",
                {"direction": "at_most", "limit": 100, "tolerance": 99.5, "unit": "users"},
                "objective.tolerance",
            ),
            ("count", {"direction": "at_least", "limit": 95, "tolerance": 96, "unit": "%"}, "objective.tolerance"),
            ("clause", {"due_at": "2026-12-15T00:00:00"}, "objective.due_at"),
        ],
    )
    def test_a_wrong_objective_names_its_field(self, kind: str, raw: dict[str, object] | None, field: str) -> None:
        with pytest.raises(RuleError) as caught:
            parse_objective(kind, raw)
        assert caught.value.field == field

    def test_a_tolerance_equal_to_the_limit_is_allowed_either_way(self) -> None:
        for direction in ("at_most", "at_least"):
            raw = {"direction": direction, "limit": 100, "tolerance": 100, "unit": "users"}
            assert parse_objective("count", raw) == raw | {"limit": 100.0, "tolerance": 100.0}


class TestSubjectAndTerms:
    def test_each_kind_takes_its_own_subject(self) -> None:
        check_subject("duration", process="repair", node=None, service=None, obligation=None)
        check_subject("availability", process=None, node=None, service="portal", obligation=None)
        for kind in ("count", "frequency", "clause"):
            check_subject(kind, process=None, node=None, service="portal", obligation="db-backup")

    def test_count_and_clause_take_no_limits_and_the_others_need_both(self) -> None:
        hour = timedelta(hours=1)
        check_terms(
            "clause", commitment_limit=None, tolerance_limit=None, limit_unit="duration", allowed_pause_reasons=[]
        )
        with pytest.raises(RuleError, match="commitment_limit"):
            check_terms(
                "count", commitment_limit=hour, tolerance_limit=hour, limit_unit="duration", allowed_pause_reasons=[]
            )
        with pytest.raises(RuleError, match="tolerance_limit"):
            check_terms("frequency", commitment_limit=hour, tolerance_limit=None, limit_unit="duration",
                        allowed_pause_reasons=[])  # fmt: skip
        with pytest.raises(RuleError, match="allowed_pause_reasons"):
            check_terms("availability", commitment_limit=hour, tolerance_limit=hour, limit_unit="duration",
                        allowed_pause_reasons=["awaiting-customer"])  # fmt: skip


class TestCreditTiers:
    def test_the_contracts_tiers_are_in_order(self) -> None:
        assert credit_tiers_error([(0.999, 0.10), (0.99, 0.25)]) is None
        assert credit_tiers_error([(0.999, 0.10)]) is None

    @pytest.mark.parametrize(
        ("tiers", "field"),
        [
            ([(0.99, 0.10), (0.999, 0.25)], "tiers[1].below"),
            ([(0.999, 0.10), (0.999, 0.25)], "tiers[1].below"),
            ([(0.999, 0.25), (0.99, 0.10)], "tiers[1].fee_share"),
            ([(0.999, 0.10), (0.99, 0.25), (0.95, 0.25)], "tiers[2].fee_share"),
        ],
    )
    def test_tiers_out_of_order_name_the_first_one_out_of_place(
        self, tiers: list[tuple[float, float]], field: str
    ) -> None:
        error = credit_tiers_error(tiers)
        assert error is not None
        assert error[0] == field

    def test_availability_penalties_need_a_covered_availability_commitment(self) -> None:
        kinds = {"uptime": "availability", "backup": "frequency"}
        over = {"kind": "per_outage_over_limit", "commitment_key": "uptime"}
        assert penalty_error(over, kinds) is None
        assert penalty_error(over | {"commitment_key": "backup"}, kinds) == (
            "commitment_key",
            "per_outage_over_limit applies to an availability commitment; `backup` is a frequency one",
        )
        assert penalty_error(over | {"commitment_key": "gone"}, kinds) == (
            "commitment_key",
            "`gone` is not covered by this agreement",
        )


class TestCovers:
    def test_a_target_means_what_the_kind_makes_of_it(self) -> None:
        kinds = {"uptime": "availability", "training": "clause"}
        assert cover_error("uptime", 0.999, kinds) is None
        assert cover_error("training", 1.0, kinds) is None
        assert cover_error("training", 0.95, kinds) == (
            "target_rate",
            "a clause commitment is one deliverable, met or not: its target is 1.0",
        )
        assert cover_error("gone", 0.9, kinds) == ("commitment_key", "unknown commitment `gone`")
