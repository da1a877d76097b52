"""`/v1/kpis` (the catalogue), `/v1/kpi-targets` and `/v1/scorecards` (docs/kpis.md)."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request, Response
from pledge_common.db import SessionDep
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.pagination import PageParams, decode_cursor, encode_cursor, paged
from pledge_common.problems import Conflict, Forbidden, NotFound, invalid
from pledge_common.scopes import Scope, scoped

from evaluation_svc.kpis import service
from evaluation_svc.kpis.custom import MAX_CUSTOM_KPIS, MAX_WORKING_DAY_KPIS, FieldError, as_json, check_definition
from evaluation_svc.kpis.repository import KpiRepository
from evaluation_svc.kpis.rules import CATALOGUE, KPIS, Kpi, parse_period, period_key
from evaluation_svc.kpis.schemas import (
    CustomKpiCreate,
    CustomKpiPublic,
    CustomKpiVersion,
    CustomKpiVersionCreate,
    DepartmentScorecard,
    KpiPage,
    KpiPublic,
    KpiTargetCreate,
    KpiTargetPage,
    KpiTargetPublic,
    UtilityScorecards,
)
from evaluation_svc.pages import check_page_max

catalogue = APIRouter(prefix="/v1/kpis", tags=["kpis"], dependencies=scoped(Scope.reports_read))
definitions = APIRouter(prefix="/v1/kpis", tags=["kpis"], dependencies=scoped(Scope.definitions_write))
targets_read = APIRouter(prefix="/v1/kpi-targets", tags=["kpis"], dependencies=scoped(Scope.reports_read))
targets_write = APIRouter(prefix="/v1/kpi-targets", tags=["kpis"], dependencies=scoped(Scope.definitions_write))
scorecards = APIRouter(prefix="/v1/scorecards", tags=["kpis"], dependencies=scoped(Scope.reports_read))
routers = (catalogue, definitions, scorecards, targets_read, targets_write)

Key = Annotated[str | None, Query(max_length=100)]


def _only(request: Request, allowed: set[str]) -> None:
    for name in request.query_params:
        if name not in allowed:
            raise invalid(f"query.{name}", f"not a parameter of this route (it takes: {', '.join(sorted(allowed))})")


def _month(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    try:
        first = parse_period(value)
    except ValueError:
        raise invalid(field, "a month as YYYY-MM") from None
    if not 2000 <= first.year <= 2100:
        raise invalid(field, "a month of the years 2000 to 2100")
    return value


def _every_source(caller: CallerDep) -> None:
    if caller.sources is not None:  # a department's KPIs span every source system
        raise Forbidden("KPIs and scorecards cover every source system; this key is bound to some of them")


def _custom_public(row: dict[str, Any]) -> KpiPublic:
    kpi = service.customs_of([row])[0]
    return KpiPublic(
        key=kpi.key,
        name=kpi.name,
        unit=kpi.unit,
        direction=kpi.direction,
        source=kpi.source,
        definition=kpi.definition,
        custom=True,
        version=row["version"],
        kind=row["kind"],
        effective_from=row["effective_from"],
        filters=row["definition"],
    )


@catalogue.get("", response_model=KpiPage)
async def list_kpis(request: Request, response: Response, session: SessionDep, page: PageParams) -> KpiPage:
    """The KPIs, built-in and custom (their latest version): key, unit, which way is better, where the figures
    come from, and the definition."""
    _only(request, {"cursor", "limit"})
    check_page_max(request, page)
    after = decode_cursor(page.cursor, str)
    start = None if after is None else after[0]
    builtin = [(k.key, KpiPublic.model_validate(k, from_attributes=True)) for k in CATALOGUE]
    rows = await KpiRepository(session).custom_latest_page(start, page.limit + 1)
    custom = [(r["key"], _custom_public(r)) for r in rows]
    rest = sorted([(k, v) for k, v in builtin + custom if start is None or k > start], key=lambda kv: kv[0])
    chosen = rest[: page.limit]
    next_cursor = encode_cursor(chosen[-1][0]) if len(rest) > page.limit else None
    return paged(request, response, KpiPage(items=[v for _, v in chosen], next_cursor=next_cursor))


@catalogue.get("/{key}", response_model=CustomKpiPublic)
async def get_custom_kpi(session: SessionDep, key: Annotated[str, Path(max_length=100)]) -> CustomKpiPublic:
    """A custom KPI with every version."""
    rows = await KpiRepository(session).custom_versions([key])
    if not rows:
        raise NotFound(f"no custom KPI `{key}`" + (" (a built-in KPI has no versions)" if key in KPIS else ""))
    return CustomKpiPublic(key=key, versions=[CustomKpiVersion.model_validate(r) for r in rows])


def _definition(body: CustomKpiVersionCreate) -> dict[str, Any]:
    """The checked definition as stored, or a 422 naming the field that can't be computed."""
    try:
        d = check_definition(
            body.kind,
            body.unit,
            body.population.model_dump(),
            None if body.numerator is None else body.numerator.model_dump(),
        )
    except FieldError as err:
        raise invalid(err.field, err.message) from None
    if body.kind == "ratio" and body.measure is not None:
        raise invalid("measure", "a ratio has no measure (it counts runs)")
    return as_json(d)


def _current_month(request: Request) -> str:
    zone = ZoneInfo(request.app.state.settings.rollup_timezone)
    now = datetime.now(zone)
    return period_key(now.date().replace(day=1))


async def _write_version(
    request: Request, session: SessionDep, caller: CallerDep, key: str, body: CustomKpiVersionCreate, first: bool
) -> Answer:
    definition = _definition(body)
    repo = KpiRepository(session)
    existing = await repo.custom_versions([key])
    current = _current_month(request)
    if first:
        if existing:
            raise Conflict(f"custom KPI `{key}` exists already: add a version (`POST /v1/kpis/{key}/versions`)")
        effective_from = body.effective_from or current
        if body.unit == "working_days":
            units = {r["key"]: r["unit"] for r in await repo.custom_versions()}
            if sum(u == "working_days" for u in units.values()) >= MAX_WORKING_DAY_KPIS:
                raise Conflict(f"at most {MAX_WORKING_DAY_KPIS} custom averages in working days exist")
    else:
        if not existing:
            raise NotFound(f"no custom KPI `{key}`")
        latest = existing[-1]
        if body.unit != latest["unit"]:
            raise invalid("unit", f"a version keeps the KPI's unit (`{latest['unit']}`): define a new KPI instead")
        effective_from = body.effective_from or current
        floor = max(current, latest["effective_from"])
        if effective_from < floor:
            raise invalid(
                "effective_from",
                f"a new version governs from {floor} on (not a closed month, nor before the latest version)",
            )
    values = {
        "key": key,
        "name": body.name,
        "unit": body.unit,
        "direction": body.direction,
        "kind": body.kind,
        "definition": definition,
        "effective_from": effective_from,
        "created_by": caller.sub,
    }
    row = await repo.insert_custom(values, first)
    if row is None:
        raise Conflict(
            f"custom KPI `{key}` was defined meanwhile, or the {MAX_CUSTOM_KPIS} custom KPIs allowed exist already"
            if first
            else f"another version of `{key}` was added meanwhile: read it and retry"
        )
    return Answer(201, CustomKpiVersion.model_validate(row))


@definitions.post("", response_model=CustomKpiVersion, status_code=201)
async def create_custom_kpi(
    request: Request, session: SessionDep, caller: CallerDep, body: CustomKpiCreate, idem: IdempotencyDep
) -> Response:
    """Define a custom KPI (version 1): a ratio or an average of a filtered population of runs."""
    _every_source(caller)
    if body.key in KPIS:
        raise Conflict(f"`{body.key}` is a built-in KPI: built-ins are not editable")
    version = CustomKpiVersionCreate.model_validate(body.model_dump(exclude={"key"}))

    async def create() -> Answer:
        return await _write_version(request, session, caller, body.key, version, first=True)

    return await idem.answer(create, body)


@definitions.post("/{key}/versions", response_model=CustomKpiVersion, status_code=201)
async def create_custom_kpi_version(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    key: Annotated[str, Path(max_length=100)],
    body: CustomKpiVersionCreate,
    idem: IdempotencyDep,
) -> Response:
    """A new version of a custom KPI, in force from its `effective_from` month (the current one by default)."""
    _every_source(caller)
    if key in KPIS:
        raise Conflict(f"`{key}` is a built-in KPI: built-ins are not editable")

    async def create() -> Answer:
        return await _write_version(request, session, caller, key, body, first=False)

    return await idem.answer(create, body)


async def _known_kpi(session: SessionDep, key: str) -> Kpi:
    """A built-in KPI, or a custom one (its latest version)."""
    if key in KPIS:
        return KPIS[key]
    rows = await KpiRepository(session).custom_versions([key])
    if not rows:
        raise invalid("kpi", f"not a KPI (a key of GET /v1/kpis: one of {', '.join(KPIS)} or a custom one)")
    return service.customs_of(rows)[0]


@targets_write.post("", response_model=KpiTargetPublic, status_code=201)
async def create_kpi_target(
    request: Request, session: SessionDep, caller: CallerDep, body: KpiTargetCreate, idem: IdempotencyDep
) -> Response:
    """Set a KPI's target for a department (and segment) and month; one per KPI, department, segment, month
    (409 for a second: delete the first to change it)."""
    _every_source(caller)
    if (await _known_kpi(session, body.kpi)).unit == "rate" and body.target > 1:
        raise invalid("target", "a rate is a share between 0 and 1")

    async def create() -> Answer:
        row = await KpiRepository(session).insert_target({**body.model_dump(), "created_by": caller.sub})
        if row is None:
            raise Conflict(f"a target of `{body.kpi}` for `{body.department}` in {body.period} exists already")
        return Answer(201, KpiTargetPublic.model_validate(row))

    return await idem.answer(create, body)


@targets_read.get("", response_model=KpiTargetPage)
async def list_kpi_targets(
    request: Request,
    response: Response,
    session: SessionDep,
    page: PageParams,
    kpi: Key = None,
    department: Key = None,
    period: Annotated[str | None, Query(max_length=7)] = None,
) -> KpiTargetPage:
    """Targets by month, department and KPI."""
    _only(request, {"kpi", "department", "period", "cursor", "limit"})
    check_page_max(request, page)
    if kpi is not None and kpi not in KPIS and not await KpiRepository(session).custom_versions([kpi]):
        raise invalid("query.kpi", f"not a KPI (one of: {', '.join(KPIS)} or a custom one)")
    after = decode_cursor(page.cursor, str, str, str, str)
    filters = {"kpi": kpi, "department": department, "period": _month(period, "query.period")}
    rows = await KpiRepository(session).targets_page(
        filters, (after[0], after[1], after[2], after[3]) if after else None, page.limit + 1
    )
    chosen = rows[: page.limit]
    last = chosen[-1] if chosen else None
    next_cursor = None
    if last is not None and len(rows) > page.limit:
        next_cursor = encode_cursor(last["period"], last["department"], last["kpi"], str(last["id"]))
    items = [KpiTargetPublic.model_validate(r) for r in chosen]
    return paged(request, response, KpiTargetPage(items=items, next_cursor=next_cursor))


@targets_write.delete("/{target_id}", status_code=204)
async def delete_kpi_target(session: SessionDep, caller: CallerDep, target_id: uuid.UUID) -> Response:
    """Remove a target."""
    _every_source(caller)
    if not await KpiRepository(session).delete_target(target_id):
        raise NotFound(f"no KPI target `{target_id}`")
    return Response(status_code=204)


SegmentQuery = Annotated[
    str | None,
    Query(
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
        description="a customer segment: the KPIs over that segment's population, with the segment's targets",
    ),
]


async def _utility(request: Request, session: SessionDep, period: str, segment: str | None = None) -> UtilityScorecards:
    month = _month(period, "query.period")
    assert month is not None
    if segment is not None and not await KpiRepository(session).segment_known(segment):
        raise NotFound(f"no customer segment `{segment}` (no reference, run or target names it)")
    settings = request.app.state.settings
    zone = ZoneInfo(settings.rollup_timezone)
    window = timedelta(days=settings.kpi_reopen_days)
    return await service.utility(
        session, request.app.state.feedback, parse_period(month), zone, datetime.now(UTC), window, segment
    )


@scorecards.get("", response_model=DepartmentScorecard)
async def get_scorecard(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    department: Annotated[str, Query(min_length=1, max_length=100)],
    period: Annotated[str, Query(max_length=7, description="the month, YYYY-MM")],
    segment: SegmentQuery = None,
) -> DepartmentScorecard:
    """A department's KPIs for a month (the six of document 003, document 002's measures, the custom ones):
    value, target, met, trend over 12 months, change, rank; of one customer segment's population (with that
    segment's targets, ranked among the departments in that segment) when `segment` is given."""
    _only(request, {"department", "period", "segment"})
    _every_source(caller)
    found = await _utility(request, session, period, segment)
    for card in found.scorecards:
        if card.department == department:
            return DepartmentScorecard(
                **card.model_dump(), timezone=found.timezone, closed=found.closed, frozen_at=found.frozen_at
            )
    raise NotFound(f"no runs, figures or targets of department `{department}`")


@scorecards.get("/utility", response_model=UtilityScorecards)
async def get_utility_scorecards(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    period: Annotated[str, Query(max_length=7, description="the month, YYYY-MM")],
    segment: SegmentQuery = None,
) -> UtilityScorecards:
    """The six utility KPIs (document 003) and the custom KPIs of every department for a month, in one view (of
    one customer segment when asked); document 002's measures are on each department's scorecard."""
    _only(request, {"period", "segment"})
    _every_source(caller)
    found = await _utility(request, session, period, segment)
    service_measures = {k.key for k in CATALOGUE if k.document != "003"}  # on each department's own scorecard
    for card in found.scorecards:
        card.kpis = [k for k in card.kpis if k.kpi not in service_measures]
    return found
