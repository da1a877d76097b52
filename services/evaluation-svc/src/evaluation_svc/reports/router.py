"""`/v1/reports/status`, `/v1/reports/status/runs`, `/v1/reports/achievement`."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pledge_common.db import SessionDep
from pledge_common.pagination import PageParams, paged
from pledge_common.scopes import Scope, scoped

from evaluation_svc.pages import check_page_max
from evaluation_svc.reports import service
from evaluation_svc.reports.dependencies import make_query
from evaluation_svc.reports.query import FilterDep, GroupedPeriodDep, PeriodDep
from evaluation_svc.reports.schemas import AchievementReport, NodeRunPage, StatusReport

router = APIRouter(prefix="/v1/reports", tags=["reports"], dependencies=scoped(Scope.reports_read))


@router.get("/status", response_model=StatusReport, response_model_by_alias=True)
async def status(request: Request, session: SessionDep, period: GroupedPeriodDep, flt: FilterDep) -> StatusReport:
    """The seven-state table as of an instant (default now) or over a period, per node and per process."""
    q = await make_query(request, session, period, flt, default_group=("process", "node"))
    return await service.status_report(session, q)


@router.get("/status/runs", response_model=NodeRunPage)
async def status_runs(
    request: Request,
    response: Response,
    session: SessionDep,
    page: PageParams,
    period: PeriodDep,
    flt: FilterDep,
    state: Annotated[str | None, Query(description="only runs in this state as of the report instant")] = None,
) -> NodeRunPage:
    """The node runs behind one cell of a status table, cursor-paginated."""
    check_page_max(request, page)
    q = await make_query(request, session, period, flt, default_group=())
    return paged(request, response, await service.runs_page(session, q, state, page.cursor, page.limit))


@router.get("/achievement", response_model=AchievementReport, response_model_by_alias=True)
async def achievement(
    request: Request, session: SessionDep, period: GroupedPeriodDep, flt: FilterDep
) -> AchievementReport:
    """Shares of normal / acceptable / warning over judged runs with 95 % Wilson intervals; median and P90."""
    q = await make_query(request, session, period, flt, default_group=("process", "node"), require_period=True)
    return await service.achievement_report(session, q)
