"""`/v1/reports/status`, `/v1/reports/status/runs`, `/v1/reports/achievement`."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pledge_common.db import SessionDep
from pledge_common.exports import JSON, tabular_response
from pledge_common.pagination import PageRequest, page_params, paged
from pledge_common.problems import invalid
from pledge_common.scopes import Scope, scoped

from evaluation_svc.config import Settings
from evaluation_svc.exports.respond import TABLES, TabularDep, answer, basename, next_link, stamp
from evaluation_svc.exports.rows import achievement_rows, run_row, status_rows
from evaluation_svc.pages import check_page_max
from evaluation_svc.reports import service
from evaluation_svc.reports.dependencies import make_query
from evaluation_svc.reports.query import FilterDep, GroupedPeriodDep, PeriodDep
from evaluation_svc.reports.schemas import AchievementReport, NodeRunPage, StatusReport

router = APIRouter(prefix="/v1/reports", tags=["reports"], dependencies=scoped(Scope.reports_read))


@router.get("/status", response_model=StatusReport, response_model_by_alias=True, responses=TABLES)
async def status_report(
    request: Request, session: SessionDep, period: GroupedPeriodDep, flt: FilterDep, media: TabularDep
) -> StatusReport | Response:
    """The seven-state table as of an instant (default now) or over a period, per node and per process."""
    q = await make_query(request, session, period, flt, default_group=("process", "node"))
    report = await service.status_report(session, q)
    name = basename("status", stamp(report.from_), stamp(report.to) if report.to else stamp(report.as_of))
    return await answer(media, report, status_rows, name)


@router.get("/status/runs", response_model=NodeRunPage, responses=TABLES)
async def list_status_runs(
    request: Request,
    response: Response,
    session: SessionDep,
    page: Annotated[PageRequest, Depends(page_params(maximum=1_000_000))],
    period: PeriodDep,
    flt: FilterDep,
    media: TabularDep,
    state: Annotated[str | None, Query(description="only runs in this state as of the report instant")] = None,
) -> NodeRunPage | Response:
    """The node runs behind one cell of a status table, cursor-paginated (CSV and XLSX exports are streamed).

    A page holds at most EVALUATION_PAGE_MAX runs; a CSV or XLSX export at most EVALUATION_EXPORT_MAX_ROWS, and
    that many when `limit` is not given."""
    settings: Settings = request.app.state.settings
    limit = page.limit
    if media == JSON:
        check_page_max(request, page)
    else:
        limit = limit if "limit" in request.query_params else settings.export_max_rows
        if limit > settings.export_max_rows:
            raise invalid("query.limit", f"an export holds at most {settings.export_max_rows} runs")
    q = await make_query(request, session, period, flt, default_group=())
    if media == JSON:
        return paged(request, response, await service.runs_page(session, q, state, page.cursor, limit))
    export = await service.runs_export(session, q, state, page.cursor, limit)
    runs = service.stream_runs(request.app, export, settings.page_max)
    name = basename("runs", state, stamp(q.windows[0].start), stamp(q.windows[0].as_of))
    rows = (run_row(r) async for r in runs)
    link = next_link(request, export.next_cursor)
    return await tabular_response(media, rows, name, columns=list(service.RUN_COLUMNS), headers=link)


@router.get("/achievement", response_model=AchievementReport, response_model_by_alias=True, responses=TABLES)
async def achievement(
    request: Request, session: SessionDep, period: GroupedPeriodDep, flt: FilterDep, media: TabularDep
) -> AchievementReport | Response:
    """Shares of normal / acceptable / warning over judged runs with 95 % Wilson intervals; median and P90."""
    q = await make_query(request, session, period, flt, default_group=("process", "node"), require_period=True)
    report = await service.achievement_report(session, q)
    return await answer(media, report, achievement_rows, basename("achievement", stamp(report.from_), stamp(report.to)))
