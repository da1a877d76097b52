"""Custom KPI definitions, checked without a database (docs/kpis.md "Custom KPIs")."""

from typing import Any

import pytest
from evaluation_svc.kpis.custom import (
    DIMENSIONS,
    MAX_FILTERS,
    MAX_VALUES,
    FieldError,
    Filter,
    as_json,
    check_definition,
    check_filters,
    from_json,
    in_force,
)
from evaluation_svc.kpis.repository import _COLUMNS

GOOD_VALUE = {"text": "x", "integer": 2, "boolean": True}
BAD_VALUES = {"text": [1, True, None, "", "x" * 101, "a\x00"], "integer": ["1", 1.5, True, 0], "boolean": [1, "true"]}


def refused(raw: list[Any], population: str = "node", where: str = "population.filters") -> tuple[str, str]:
    with pytest.raises(FieldError) as err:
        check_filters(raw, population, where)  # type: ignore[arg-type]
    return err.value.field, err.value.message


class TestFilters:
    def test_every_dimension_maps_to_a_column(self) -> None:
        assert set(DIMENSIONS) == set(_COLUMNS)

    @pytest.mark.parametrize("key", sorted(DIMENSIONS))
    @pytest.mark.parametrize("op", ["in", "not_in", "eq"])
    def test_every_dimension_and_operator_of_its_population(self, key: str, op: str) -> None:
        d = DIMENSIONS[key]
        value = d.choices[0] if d.choices else GOOD_VALUE[d.type]
        for population in ("node", "end_to_end"):
            raw = [{"dimension": key, "op": op, "values": [value]}]
            if population in d.populations:
                assert check_filters(raw, population, "f") == (Filter(key, op, (value,)),)  # type: ignore[arg-type]
            else:
                assert refused(raw, population)[0] == "population.filters[0].dimension"

    @pytest.mark.parametrize("key", sorted(DIMENSIONS))
    def test_a_value_of_another_type_is_refused_naming_it(self, key: str) -> None:
        d = DIMENSIONS[key]
        good = d.choices[0] if d.choices else GOOD_VALUE[d.type]
        for bad in BAD_VALUES[d.type]:
            raw = [
                {"dimension": "process", "op": "in", "values": ["a"]},
                {"dimension": key, "op": "in", "values": [good, bad]},
            ]
            assert refused(raw, "node", "numerator.filters")[0] == "numerator.filters[1].values[1]", (key, bad)

    def test_a_state_outside_the_completed_ones_is_refused(self) -> None:
        field, message = refused([{"dimension": "state", "op": "in", "values": ["cancelled"]}])
        assert field == "population.filters[0].values[0]"
        assert "completed_normal" in message

    @pytest.mark.parametrize(
        ("item", "field"),
        [
            ({"dimension": "region", "op": "in", "values": ["a"]}, "dimension"),
            ({"dimension": None, "op": "in", "values": ["a"]}, "dimension"),
            ({"dimension": ["process"], "op": "in", "values": ["a"]}, "dimension"),
            ({"dimension": "process", "op": "like", "values": ["a"]}, "op"),
            ({"dimension": "process", "op": "IN", "values": ["a"]}, "op"),
            ({"dimension": "process", "op": "in", "values": []}, "values"),
            ({"dimension": "process", "op": "in", "values": "a"}, "values"),
            ({"dimension": "process", "op": "in"}, "values"),
            ({"dimension": "process", "op": "eq", "values": ["a", "b"]}, "values"),
            ({"dimension": "process", "op": "in", "values": ["a"] * (MAX_VALUES + 1)}, "values"),
            ({"dimension": "process", "op": "in", "values": ["a"], "sql": "1=1"}, "sql"),
        ],
    )
    def test_a_wrong_filter_names_its_field(self, item: dict[str, Any], field: str) -> None:
        ok = {"dimension": "segment", "op": "eq", "values": ["vip"]}
        assert refused([ok, item], "node", "numerator.filters")[0] == f"numerator.filters[1].{field}"

    def test_too_many_filters_and_a_filter_not_an_object(self) -> None:
        ok = {"dimension": "segment", "op": "eq", "values": ["vip"]}
        assert refused([ok] * (MAX_FILTERS + 1))[0] == "population.filters"
        assert refused([ok, "process = 'x'"])[0] == "population.filters[1]"

    def test_values_are_kept_once_in_order(self) -> None:
        found = check_filters([{"dimension": "node", "op": "not_in", "values": ["b", "a", "b"]}], "node", "f")
        assert found == (Filter("node", "not_in", ("b", "a")),)


RATIO = {"runs": "end_to_end", "filters": [{"dimension": "process", "op": "eq", "values": ["fault-repair"]}]}
NORMAL = {"filters": [{"dimension": "state", "op": "in", "values": ["completed_normal"]}]}


class TestDefinitions:
    def test_a_ratio_and_an_average_round_trip(self) -> None:
        ratio = check_definition("ratio", "rate", RATIO, NORMAL)
        assert from_json("ratio", "rate", as_json(ratio)) == ratio
        average = check_definition("average", "working_days", RATIO, None)
        assert as_json(average)["measure"] == "counted_seconds"
        assert from_json("average", "working_days", as_json(average)) == average

    @pytest.mark.parametrize(
        ("kind", "unit", "population", "numerator", "field"),
        [
            ("ratio", "hours", RATIO, NORMAL, "unit"),
            ("average", "rate", RATIO, None, "unit"),
            ("ratio", "rate", RATIO, None, "numerator"),
            ("ratio", "rate", RATIO, {"filters": []}, "numerator.filters"),
            ("average", "hours", RATIO, NORMAL, "numerator"),
            ("median", "hours", RATIO, None, "kind"),
            ("ratio", "rate", {"runs": "both"}, NORMAL, "population.runs"),
            ("ratio", "rate", {"runs": "end_to_end"}, {"filters": [{"dimension": "node", "op": "eq", "values": ["a"]}]},
             "numerator.filters[0].dimension"),
        ],
    )  # fmt: skip
    def test_a_definition_that_cannot_be_computed_names_the_field(
        self, kind: str, unit: str, population: dict[str, Any], numerator: dict[str, Any] | None, field: str
    ) -> None:
        with pytest.raises(FieldError) as err:
            check_definition(kind, unit, population, numerator)
        assert err.value.field == field


class TestVersions:
    def test_a_month_uses_the_version_in_force_at_its_start(self) -> None:
        versions = [(1, "2026-05"), (2, "2026-09"), (3, "2026-09"), (4, "2026-12")]
        assert in_force(versions, "2026-03") == 1  # before the first: the first
        assert in_force(versions, "2026-05") == 1
        assert in_force(versions, "2026-08") == 1
        assert in_force(versions, "2026-09") == 3  # two from the same month: the later one
        assert in_force(versions, "2026-11") == 3
        assert in_force(versions, "2027-01") == 4
