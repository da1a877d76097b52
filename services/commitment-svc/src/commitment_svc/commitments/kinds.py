"""Pure rules of the kinds of commitment: which fields each kind takes, and the shape of its `objective`.

| kind | subject | limits (commitment / tolerance) | objective |
|---|---|---|---|
| duration | process (+ node) | the run's duration | none |
| availability | service | the longest single outage | max_outages, max_downtime, planned |
| count | service + obligation | none | direction, limit, tolerance, unit |
| frequency | service + obligation | the gap between two occurrences | first_due_at |
| clause | service + obligation | none | due_at, tolerance_due_at, sign-off |

A field that a kind does not take is refused (RuleError naming it), never ignored.
"""

import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from pledge_common.durations import parse_duration, rfc3339_duration
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from commitment_svc.commitments.rules import RuleError
from commitment_svc.core.schemas import Instant

Kind = Literal["duration", "availability", "count", "frequency", "clause"]
KINDS: tuple[Kind, ...] = ("duration", "availability", "count", "frequency", "clause")
WITH_LIMITS = frozenset({"duration", "availability", "frequency"})
WITH_OBLIGATION = frozenset({"count", "frequency", "clause"})


def _positive_duration(text: str) -> str:
    value = parse_duration(text)
    if value <= timedelta(0):
        raise ValueError("must be greater than zero")
    if value % timedelta(seconds=1):
        raise ValueError("must be whole seconds")
    return rfc3339_duration(value)


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


class _Objective(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AvailabilityObjective(_Objective):
    """Shape limits of availability per billing period (the longest single outage is the commitment limit)."""

    max_outages: int | None = Field(default=None, ge=0, le=1_000_000, description="most outages per period")
    max_downtime: Annotated[str, AfterValidator(_positive_duration)] | None = Field(
        default=None, description="most downtime per period (ISO 8601 duration, counted on the calendar)"
    )
    planned_maintenance_exempt: bool = Field(default=True, description="planned outages do not count")


class CountObjective(_Objective):
    """A measured value per sample against a limit and a looser tolerance."""

    direction: Literal["at_most", "at_least"]
    limit: Annotated[float, AfterValidator(_finite)]
    tolerance: Annotated[float, AfterValidator(_finite)]
    unit: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]

    @model_validator(mode="after")
    def _looser(self) -> "CountObjective":
        if self.direction == "at_most" and self.tolerance < self.limit:
            raise ValueError("tolerance: at_most needs a tolerance at least the limit")
        if self.direction == "at_least" and self.tolerance > self.limit:
            raise ValueError("tolerance: at_least needs a tolerance at most the limit")
        return self


class FrequencyObjective(_Objective):
    """When the first occurrence is due (null: effective_from + the commitment limit)."""

    first_due_at: Instant | None = None


class ClauseObjective(_Objective):
    """A dated deliverable: due, acceptably late until `tolerance_due_at`, signed off by the customer."""

    due_at: Instant
    tolerance_due_at: Instant | None = None
    requires_sign_off: bool = True

    @model_validator(mode="after")
    def _order(self) -> "ClauseObjective":
        if self.tolerance_due_at is not None and self.tolerance_due_at < self.due_at:
            raise ValueError("tolerance_due_at: must not be before due_at")
        return self


OBJECTIVES: dict[str, type[_Objective]] = {
    "availability": AvailabilityObjective,
    "count": CountObjective,
    "frequency": FrequencyObjective,
    "clause": ClauseObjective,
}
# the kinds whose objective may be left out (every field has a default)
OBJECTIVE_OPTIONAL = frozenset({"availability", "frequency"})


def check_subject(
    kind: str, *, process: str | None, node: str | None, service: str | None, obligation: str | None
) -> None:
    """What a commitment of `kind` is about: a process (duration) or a service (+ obligation)."""
    if kind == "duration":
        if process is None:
            raise RuleError("process", "required for a duration commitment")
        for field, value in (("service", service), ("obligation", obligation)):
            if value is not None:
                raise RuleError(field, "a duration commitment is about a process and its node, not a service")
        return
    for field, value in (("process", process), ("node", node)):
        if value is not None:
            raise RuleError(field, f"must be null for a {kind} commitment (it is about a service)")
    if service is None:
        raise RuleError("service", f"required for a {kind} commitment")
    if kind in WITH_OBLIGATION and obligation is None:
        raise RuleError("obligation", f"required for a {kind} commitment (e.g. `db-backup`)")
    if kind not in WITH_OBLIGATION and obligation is not None:
        raise RuleError("obligation", f"must be null for a {kind} commitment")


def check_terms(
    kind: str,
    *,
    commitment_limit: timedelta | None,
    tolerance_limit: timedelta | None,
    limit_unit: str,
    allowed_pause_reasons: list[str],
) -> None:
    """The limits a kind takes (required or refused), its limit unit and its pause reasons."""
    if kind in WITH_LIMITS:
        for field, value in (("commitment_limit", commitment_limit), ("tolerance_limit", tolerance_limit)):
            if value is None:
                raise RuleError(field, f"required for a {kind} commitment")
    else:
        for field, value in (("commitment_limit", commitment_limit), ("tolerance_limit", tolerance_limit)):
            if value is not None:
                raise RuleError(field, f"must be null for a {kind} commitment (its objective holds its limits)")
    if kind in ("availability", "count", "clause") and limit_unit != "duration":
        raise RuleError("limit_unit", f'a {kind} commitment counts time as "duration"')
    if kind != "duration" and allowed_pause_reasons:
        raise RuleError("allowed_pause_reasons", f"only node runs pause; a {kind} commitment has none")


def parse_objective(kind: str, raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The objective of a `kind` commitment in its normal form (defaults filled in), or RuleError naming the
    field (`objective.limit`)."""
    if kind == "duration":
        if raw is not None:
            raise RuleError("objective", "must be null for a duration commitment (its limits say it all)")
        return None
    if raw is None:
        if kind not in OBJECTIVE_OPTIONAL:
            raise RuleError("objective", f"required for a {kind} commitment")
        raw = {}
    try:
        model = OBJECTIVES[kind].model_validate(raw)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        loc = [str(p) for p in first["loc"]]
        if not loc and ": " in message:  # a rule across fields names its field first
            name, message = message.split(": ", 1)
            loc = [name]
        raise RuleError(".".join(["objective", *loc]), message) from None
    return model.model_dump(mode="json")
