"""Bodies of `/v1/kpis`, `/v1/kpi-targets` and `/v1/scorecards`."""

import math
import uuid
from typing import Any, Literal

from pledge_common.instants import Instant
from pledge_common.pagination import Page
from pydantic import BaseModel, ConfigDict, Field, field_validator

from evaluation_svc.kpis.rules import parse_period

KEY = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class KpiPublic(BaseModel):
    key: str
    name: str
    unit: Literal["working_days", "rate", "hours", "count"] = Field(
        description="`rate`: 0-1; `working_days`: mean working days; `hours`: mean working hours; `count`: a number"
    )
    direction: Literal["higher", "lower"] = Field(description="which way is better (a target is met at or beyond)")
    source: Literal["runs", "feedback"] = Field(description="evaluation's read model, or feedback-svc's API")
    definition: str
    document: Literal["003", "002"] | None = Field(
        default=None,
        description="a built-in: the source document naming it (003: the utility's six, in the utility view; 002: "
        "the service-quality measures, on each department's scorecard)",
    )
    custom: bool = Field(default=False, description="defined by API (`POST /v1/kpis`); the built-ins are not")
    version: int | None = Field(default=None, description="a custom KPI: its latest version")
    kind: Literal["ratio", "average"] | None = None
    effective_from: str | None = Field(default=None, description="a custom KPI: the first month of this version")
    filters: dict[str, Any] | None = Field(default=None, description="a custom KPI: its population and numerator")


class FilterIn(BaseModel):
    """Checked against the dimensions by `custom.check_filters` (a 422 names `….filters[i].…`)."""

    model_config = ConfigDict(extra="allow")
    dimension: Any = None
    op: Any = None
    values: Any = None


class PopulationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    runs: Literal["node", "end_to_end"] = Field(description="node runs or end-to-end runs (never mixed)")
    filters: list[FilterIn] = Field(default_factory=list, max_length=10)


class NumeratorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filters: list[FilterIn] = Field(max_length=10)


class CustomKpiVersionCreate(BaseModel):
    """A (new version of a) custom KPI: a ratio of two filtered populations or an average of one."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    unit: Literal["rate", "hours", "working_days"]
    direction: Literal["higher", "lower"]
    kind: Literal["ratio", "average"]
    population: PopulationIn
    numerator: NumeratorIn | None = Field(default=None, description="a ratio: the part of the population counted")
    measure: Literal["counted_seconds"] | None = Field(
        default=None, description="an average: the measure averaged (the only one: the run's counted time)"
    )
    effective_from: str | None = Field(
        default=None, description="the first month (YYYY-MM) it governs; default: the current month"
    )

    @field_validator("effective_from")
    @classmethod
    def _month(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            first = parse_period(value)
        except ValueError:
            raise ValueError("a month as YYYY-MM") from None
        if not 2000 <= first.year <= 2100:
            raise ValueError("a month of the years 2000 to 2100")
        return value


class CustomKpiCreate(CustomKpiVersionCreate):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="lower case, digits and `_`")


class CustomKpiVersion(BaseModel):
    key: str
    version: int
    name: str
    unit: str
    direction: str
    kind: str
    definition: dict[str, Any]
    effective_from: str
    created_by: str | None
    created_at: Instant


class CustomKpiPublic(BaseModel):
    key: str
    versions: list[CustomKpiVersion] = Field(description="every version, oldest first")


class KpiTargetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kpi: str = Field(max_length=100, description="a key of `GET /v1/kpis`")
    department: str = Field(pattern=KEY)
    segment: str | None = Field(default=None, pattern=KEY, description="none: the department as a whole")
    period: str = Field(description="the month, YYYY-MM", examples=["2026-11"])
    target: float = Field(description="a rate in 0-1, or working days ≥ 0")

    @field_validator("period")
    @classmethod
    def _month(cls, value: str) -> str:
        try:
            first = parse_period(value)
        except ValueError:
            raise ValueError("a month as YYYY-MM") from None
        if not 2000 <= first.year <= 2100:
            raise ValueError("a month of the years 2000 to 2100")
        return value

    @field_validator("target")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value) or value < 0:
            raise ValueError("a finite number ≥ 0")
        return value


class KpiTargetPublic(BaseModel):
    id: uuid.UUID
    kpi: str
    department: str
    segment: str | None
    period: str
    target: float
    created_by: str | None
    created_at: Instant


KpiTargetPage = Page[KpiTargetPublic]
KpiPage = Page[KpiPublic]


class TrendPoint(BaseModel):
    period: str
    value: float | None


class ScorecardKpi(BaseModel):
    kpi: str
    name: str
    unit: str
    direction: str
    value: float | None = Field(description="the period's value (a closed period: as frozen at its close)")
    target: float | None = Field(
        description="the target of the period set for the department (and the asked segment, if any), if one is set"
    )
    met: bool | None = Field(description="value reaches the target (at or beyond, in the KPI's direction)")
    change: float | None = Field(description="value minus the previous period's value")
    rank: int | None = Field(description="the department's rank among departments with a value (1 = best)")
    ranked: int = Field(description="how many departments have a value")
    trend: list[TrendPoint] = Field(description="the last 12 periods, oldest first, ending with this one")
    adjustment: float | None = Field(
        description="a frozen period: the value computed now minus the frozen value (late events); null: none"
    )
    unavailable: str | None = Field(default=None, description="why the value is missing when its source failed")


class Scorecard(BaseModel):
    department: str
    period: str
    segment: str | None = Field(default=None, description="the customer segment whose population it covers (none: all)")
    kpis: list[ScorecardKpi]


class DepartmentScorecard(Scorecard):
    timezone: str
    closed: bool
    frozen_at: Instant | None


class UtilityScorecards(BaseModel):
    period: str
    segment: str | None = Field(default=None, description="the customer segment whose population it covers (none: all)")
    timezone: str = Field(description="the time zone of the months (the organisation's)")
    closed: bool = Field(description="the month has ended")
    frozen_at: Instant | None = Field(description="when its values were frozen (a closed month)")
    scorecards: list[Scorecard]
