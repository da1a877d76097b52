"""Custom KPIs (docs/kpis.md "Custom KPIs"): a ratio or an average of a filtered population of runs.

Pure: a definition's filters are checked against an allow-list of dimensions, each mapped (in
`repository.py`) to a fixed column expression; a value is only ever a bound parameter, never SQL text."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Population = Literal["node", "end_to_end"]
Op = Literal["in", "not_in", "eq"]
ValueType = Literal["text", "integer", "boolean"]

OPS: tuple[str, ...] = ("in", "not_in", "eq")
MAX_FILTERS = 10
MAX_VALUES = 50
MAX_TEXT = 100
MAX_CUSTOM_KPIS = 50  # ratios and averages in hours: one pass over the runs for all of them
MAX_WORKING_DAY_KPIS = 10  # an average in working days reads its runs and counts each on its calendar
COMPLETED_STATES = ("completed_normal", "completed_acceptable", "completed_warning")


@dataclass(frozen=True, slots=True)
class Dimension:
    key: str
    type: ValueType
    populations: tuple[Population, ...]
    choices: tuple[str, ...] = ()  # a closed set of text values, if any
    minimum: int | None = None


BOTH: tuple[Population, ...] = ("node", "end_to_end")
DIMENSIONS: Mapping[str, Dimension] = {
    d.key: d
    for d in (
        Dimension("process", "text", BOTH),
        Dimension("node", "text", ("node",)),
        Dimension("department", "text", BOTH),
        Dimension("segment", "text", BOTH),
        Dimension("commitment", "text", BOTH),
        Dimension("source", "text", BOTH),
        Dimension("state", "text", BOTH, choices=COMPLETED_STATES),
        Dimension("ended_by_ticket", "boolean", ("node",)),
        Dimension("cycle", "integer", ("node",), minimum=1),
    )
}


@dataclass(frozen=True, slots=True)
class Filter:
    dimension: str
    op: Op
    values: tuple[str | int | bool, ...]


class FieldError(ValueError):
    """A definition that cannot be computed, naming the field (e.g. `numerator.filters[1].dimension`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _value_ok(dimension: Dimension, value: object) -> str | None:
    """Why `value` is not a value of `dimension` (None: it is)."""
    if dimension.type == "boolean":
        return None if isinstance(value, bool) else "true or false"
    if dimension.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return "an integer"
        if dimension.minimum is not None and value < dimension.minimum:
            return f"an integer ≥ {dimension.minimum}"
        if value > 1_000_000:
            return "an integer ≤ 1000000"
        return None
    if not isinstance(value, str):
        return "a string"
    if not 1 <= len(value) <= MAX_TEXT or "\x00" in value:
        return f"a string of 1 to {MAX_TEXT} characters"
    if dimension.choices and value not in dimension.choices:
        return f"one of: {', '.join(dimension.choices)}"
    return None


def check_filters(raw: Sequence[Mapping[str, Any]], population: Population, where: str) -> tuple[Filter, ...]:
    """Structured filters → typed filters, or a FieldError naming the first wrong field (`{where}[i].…`)."""
    if len(raw) > MAX_FILTERS:
        raise FieldError(where, f"at most {MAX_FILTERS} filters")
    found: list[Filter] = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(item, Mapping):
            raise FieldError(at, "an object {dimension, op, values}")
        extra = sorted(set(item) - {"dimension", "op", "values"})
        if extra:
            raise FieldError(f"{at}.{extra[0]}", "not a field of a filter (it takes: dimension, op, values)")
        key = item.get("dimension")
        dimension = DIMENSIONS.get(key) if isinstance(key, str) else None
        if dimension is None:
            raise FieldError(f"{at}.dimension", f"not a dimension (one of: {', '.join(DIMENSIONS)})")
        if population not in dimension.populations:
            raise FieldError(f"{at}.dimension", f"`{dimension.key}` is not a dimension of {population} runs")
        op = item.get("op")
        if op not in OPS:
            raise FieldError(f"{at}.op", f"not an operator (one of: {', '.join(OPS)})")
        values = item.get("values")
        if not isinstance(values, list) or not values:
            raise FieldError(f"{at}.values", "a non-empty list")
        if op == "eq" and len(values) != 1:
            raise FieldError(f"{at}.values", "`eq` takes exactly one value")
        if len(values) > MAX_VALUES:
            raise FieldError(f"{at}.values", f"at most {MAX_VALUES} values")
        for j, value in enumerate(values):
            why = _value_ok(dimension, value)
            if why is not None:
                raise FieldError(f"{at}.values[{j}]", f"a value of `{dimension.key}` is {why}")
        found.append(Filter(dimension.key, op, tuple(dict.fromkeys(values))))
    return tuple(found)


Kind = Literal["ratio", "average"]
Unit = Literal["rate", "hours", "working_days"]


@dataclass(frozen=True, slots=True)
class Definition:
    kind: Kind
    unit: Unit
    population: Population
    filters: tuple[Filter, ...]  # the population (a ratio's denominator)
    numerator: tuple[Filter, ...]  # a ratio's part of the population; () for an average


def check_definition(
    kind: str, unit: str, population: Mapping[str, Any], numerator: Mapping[str, Any] | None
) -> Definition:
    """A whole definition: kind and unit agree, a ratio has a numerator and an average none."""
    runs = population.get("runs")
    if runs not in ("node", "end_to_end"):
        raise FieldError("population.runs", "`node` (node runs) or `end_to_end` (end-to-end runs): never mixed")
    if kind == "ratio":
        if unit != "rate":
            raise FieldError("unit", "a ratio's unit is `rate`")
        if numerator is None:
            raise FieldError("numerator", "a ratio needs the filters of its numerator")
    elif kind == "average":
        if unit not in ("hours", "working_days"):
            raise FieldError("unit", "an average of `counted_seconds` is in `hours` or `working_days`")
        if numerator is not None:
            raise FieldError("numerator", "an average has no numerator (its population is `population.filters`)")
    else:
        raise FieldError("kind", "`ratio` or `average`")
    filters = check_filters(population.get("filters") or [], runs, "population.filters")
    part = () if numerator is None else check_filters(numerator.get("filters") or [], runs, "numerator.filters")
    if kind == "ratio" and not part:
        raise FieldError("numerator.filters", "a ratio's numerator needs at least one filter")
    return Definition(kind, unit, runs, filters, part)  # type: ignore[arg-type]


def as_json(d: Definition) -> dict[str, Any]:
    def filters(fs: tuple[Filter, ...]) -> list[dict[str, Any]]:
        return [{"dimension": f.dimension, "op": f.op, "values": list(f.values)} for f in fs]

    body: dict[str, Any] = {"population": {"runs": d.population, "filters": filters(d.filters)}}
    if d.kind == "ratio":
        body["numerator"] = {"filters": filters(d.numerator)}
    else:
        body["measure"] = "counted_seconds"
    return body


def from_json(kind: str, unit: str, stored: Mapping[str, Any]) -> Definition:
    """A stored definition (validated when written) back to a typed one."""
    return check_definition(kind, unit, stored["population"], stored.get("numerator"))


def in_force(versions: Sequence[tuple[int, str]], month: str) -> int:
    """The version (number) in force at the start of `month`: the highest whose `effective_from` (YYYY-MM) is
    not after it; months before the first version's use the first (a KPI defined today shows its history)."""
    ordered = sorted(versions)
    chosen = ordered[0][0]
    for number, effective_from in ordered:
        if effective_from <= month:
            chosen = number
    return chosen
