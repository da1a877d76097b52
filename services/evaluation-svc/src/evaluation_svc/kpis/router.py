"""`/v1/kpis` (the catalogue), `/v1/kpi-targets` and `/v1/scorecards` (docs/kpis.md)."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response
from pledge_common.db import SessionDep
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.pagination import PageParams, decode_cursor, encode_cursor, paged
from pledge_common.problems import Conflict, Forbidden, NotFound, invalid
from pledge_common.scopes import Scope, scoped

from evaluation_svc.kpis import service
from evaluation_svc.kpis.repository import KpiRepository
from evaluation_svc.kpis.rules import CATALOGUE, KPIS, parse_period
from evaluation_svc.kpis.schemas import (
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
targets_read = APIRouter(prefix="/v1/kpi-targets", tags=["kpis"], dependencies=scoped(Scope.reports_read))
targets_write = APIRouter(prefix="/v1/kpi-targets", tags=["kpis"], dependencies=scoped(Scope.definitions_write))
scorecards = APIRouter(prefix="/v1/scorecards", tags=["kpis"], dependencies=scoped(Scope.reports_read))
routers = (catalogue, scorecards, targets_read, targets_write)

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


@catalogue.get("", response_model=KpiPage)
async def list_kpis(request: Request, response: Response, page: PageParams) -> KpiPage:
    """The built-in KPIs: key, unit, which way is better, where the figures come from, and the definition."""
    _only(request, {"cursor", "limit"})
    check_page_max(request, page)
    after = decode_cursor(page.cursor, str)
    rest = [k for k in sorted(CATALOGUE, key=lambda k: k.key) if after is None or k.key > after[0]]
    chosen = rest[: page.limit]
    next_cursor = encode_cursor(chosen[-1].key) if len(rest) > page.limit else None
    items = [KpiPublic.model_validate(k, from_attributes=True) for k in chosen]
    return paged(request, response, KpiPage(items=items, next_cursor=next_cursor))


@targets_write.post("", response_model=KpiTargetPublic, status_code=201)
async def create_kpi_target(
    request: Request, session: SessionDep, caller: CallerDep, body: KpiTargetCreate, idem: IdempotencyDep
) -> Response:
    """Set a KPI's target for a department (and segment) and month; one per KPI, department, segment, month
    (409 for a second: delete the first to change it)."""
    _every_source(caller)
    if KPIS[body.kpi].unit == "rate" and body.target > 1:
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
    if kpi is not None and kpi not in KPIS:
        raise invalid("query.kpi", f"not a KPI (one of: {', '.join(KPIS)})")
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


async def _utility(request: Request, session: SessionDep, period: str) -> UtilityScorecards:
    month = _month(period, "query.period")
    assert month is not None
    settings = request.app.state.settings
    zone = ZoneInfo(settings.rollup_timezone)
    window = timedelta(days=settings.kpi_reopen_days)
    return await service.utility(
        session, request.app.state.feedback, parse_period(month), zone, datetime.now(UTC), window
    )


@scorecards.get("", response_model=DepartmentScorecard)
async def get_scorecard(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    department: Annotated[str, Query(min_length=1, max_length=100)],
    period: Annotated[str, Query(max_length=7, description="the month, YYYY-MM")],
) -> DepartmentScorecard:
    """A department's built-in KPIs for a month: value, target, met, trend over 12 months, change, rank."""
    _only(request, {"department", "period"})
    _every_source(caller)
    found = await _utility(request, session, period)
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
) -> UtilityScorecards:
    """The six utility KPIs (document 003) of every department for a month, in one view."""
    _only(request, {"period"})
    _every_source(caller)
    return await _utility(request, session, period)
