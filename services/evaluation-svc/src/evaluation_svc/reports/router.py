"""`/v1/reports/status`, `/v1/reports/status/runs`, `/v1/reports/achievement`."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pledge_common.db import SessionDep
from pledge_common.problems import invalid
from pledge_common.scopes import Scope, scoped

from evaluation_svc.config import Settings
from evaluation_svc.reports import service
from evaluation_svc.reports.dependencies import make_query
from evaluation_svc.reports.query import FilterDep, GroupedPeriodDep, PeriodDep
from evaluation_svc.reports.schemas import AchievementReport, NodeRunPage, StatusReport

router = APIRouter(prefix="/v1/reports", tags=["reports"], dependencies=scoped(Scope.reports_read))


@router.get("/status", response_model=StatusReport, response_model_by_alias=True)
async def status_report(
    request: Request, session: SessionDep, period: GroupedPeriodDep, flt: FilterDep
) -> StatusReport:
    """The seven-state table as of an instant (default now) or over a period, per node and per process."""
    q = await make_query(request, session, period, flt, default_group=("process", "node"))
    return await service.status_report(session, q)


@router.get("/status/runs", response_model=NodeRunPage)
async def list_status_runs(
    request: Request,
    session: SessionDep,
    period: PeriodDep,
    flt: FilterDep,
    state: Annotated[str | None, Query(description="only runs in this state as of the report instant")] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, description="page size (at most EVALUATION_PAGE_MAX, default 500)")] = 100,
) -> NodeRunPage:
    """The node runs behind one cell of a status table, cursor-paginated."""
    settings: Settings = request.app.state.settings
    if limit > settings.page_max:
        raise invalid("limit", f"a page holds at most {settings.page_max} runs")
    q = await make_query(request, session, period, flt, default_group=())
    return await service.runs_page(session, q, state, cursor, limit)


@router.get("/achievement", response_model=AchievementReport, response_model_by_alias=True)
async def achievement(
    request: Request, session: SessionDep, period: GroupedPeriodDep, flt: FilterDep
) -> AchievementReport:
    """Shares of normal / acceptable / warning over judged runs with 95 % Wilson intervals; median and P90."""
    q = await make_query(request, session, period, flt, default_group=("process", "node"), require_period=True)
    return await service.achievement_report(session, q)
