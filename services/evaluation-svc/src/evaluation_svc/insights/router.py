"""`/v1/reports/rankings`, `/v1/recommendations`, `/v1/what-if`, `/v1/reports/agreements/{id}`."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pledge_common.db import SessionDep
from pledge_common.exports import (
    CSV,
    JSON,
    PDF,
    XLSX,
    accepting,
    file_response,
    openapi_responses,
    tabular_response,
)
from pledge_common.pagination import PageParams, paged
from pledge_common.partitions import retention_horizon
from pledge_common.problems import invalid
from pledge_common.scopes import Scope, scoped

from evaluation_svc.config import Settings
from evaluation_svc.exports.pdf import review_pdf
from evaluation_svc.exports.repository import governing_versions
from evaluation_svc.exports.respond import TABLES, TabularDep, answer, basename, next_link, stamp
from evaluation_svc.exports.rows import rankings_rows, recommendations_rows, review_rows
from evaluation_svc.insights import service
from evaluation_svc.insights.schemas import AgreementReview, Rankings, Recommendations, WhatIfReport, WhatIfRequest
from evaluation_svc.pages import check_page_max
from evaluation_svc.reports.dependencies import make_query
from evaluation_svc.reports.query import (
    FilterDep,
    PeriodBoundsDep,
    PeriodOnlyDep,
    PeriodParams,
    ReportQuery,
    build_query,
)
from evaluation_svc.reports.repository import Window
from evaluation_svc.settlement.dependencies import settling

router = APIRouter(tags=["insights"], dependencies=scoped(Scope.reports_read))
DEFAULT_DAYS = 30
DOCUMENTS = openapi_responses(CSV, XLSX, PDF)
DocumentDep = Annotated[str, Depends(accepting(CSV, XLSX, PDF))]


def _last_days(period: PeriodParams) -> PeriodParams:
    """Without a period: the last 30 days up to now."""
    if period.start is None and period.end is None:
        now = datetime.now(UTC)
        return replace(period, start=now - timedelta(days=DEFAULT_DAYS), end=now)
    return period


@router.get("/v1/reports/rankings", response_model=Rankings, response_model_by_alias=True, responses=TABLES)
async def rankings(
    request: Request,
    session: SessionDep,
    period: PeriodOnlyDep,
    flt: FilterDep,
    media: TabularDep,
    by: Annotated[Literal["department", "position"], Query()] = "department",
    n: Annotated[int, Query(ge=1, le=100, description="how many at the top and at the bottom")] = 5,
    min_sample: Annotated[int, Query(ge=1, description="judged runs needed to be ranked")] = 30,
) -> Rankings | Response:
    """Departments (or positions) ranked by achievement, with sample sizes; top and bottom N. One population:
    node runs (`scope=node`, the default) or tickets judged end to end (`scope=end_to_end`), never both."""
    if flt.scope == "all":
        if "scope" in request.query_params:
            raise invalid("query.scope", "rankings rank one population: scope=node or scope=end_to_end, never both")
        flt = replace(flt, scope="node")
    q = await make_query(request, session, _last_days(period), flt, default_group=(), require_period=True)
    report = await service.rankings(session, q, by, n, min_sample)
    name = basename("rankings", by, stamp(report.from_), stamp(report.to))
    return await answer(media, report, rankings_rows, name)


@router.get("/v1/recommendations", response_model=Recommendations, response_model_by_alias=True, responses=TABLES)
async def recommendations(
    request: Request,
    response: Response,
    session: SessionDep,
    period: PeriodOnlyDep,
    flt: FilterDep,
    media: TabularDep,
    page: PageParams,
    raise_at: Annotated[float | None, Query(gt=0, le=1, description="achievement that suggests raising")] = None,
    improve_at: Annotated[float | None, Query(ge=0, lt=1, description="achievement that asks to improve")] = None,
    min_sample: Annotated[int | None, Query(ge=1)] = None,
    target_rate: Annotated[float, Query(gt=0, le=1, description="rate the suggested commitment meets")] = 0.9,
    tolerance_target_rate: Annotated[float, Query(gt=0, le=1)] = 0.98,
) -> Recommendations | Response:
    """Per commitment version: raise (≥ 90 %) or improve (≤ 10 %), with intervals and data-calibrated limits."""
    settings: Settings = request.app.state.settings
    check_page_max(request, page)
    raise_at = raise_at if raise_at is not None else settings.recommendation_raise_at
    improve_at = improve_at if improve_at is not None else settings.recommendation_improve_at
    if improve_at >= raise_at:
        raise invalid("query.improve_at", "must be below raise_at")
    if tolerance_target_rate < target_rate:
        raise invalid("query.tolerance_target_rate", "must not be below target_rate")
    q = await make_query(request, session, _last_days(period), flt, default_group=(), require_period=True)
    report = await service.recommendations(
        session,
        q,
        raise_at=raise_at,
        improve_at=improve_at,
        min_sample=min_sample or settings.recommendation_min_sample,
        target_rate=target_rate,
        tolerance_target_rate=tolerance_target_rate,
        max_runs=settings.replay_max_runs,
        cursor=page.cursor,
        limit=page.limit,
    )
    if media == JSON:
        return paged(request, response, report)
    name = basename("recommendations", stamp(report.from_), stamp(report.to))
    rows = recommendations_rows(report)
    return await tabular_response(media, rows, name, headers=next_link(request, report.next_cursor))


def _window(query: ReportQuery, field_prefix: str = "query.") -> Window:
    if not query.windows:
        raise invalid(f"{field_prefix}from", "the period has not started yet")
    return query.windows[0]


@router.post("/v1/what-if", response_model=WhatIfReport, response_model_by_alias=True)
async def what_if(request: Request, session: SessionDep, flt: FilterDep, body: WhatIfRequest) -> WhatIfReport:
    """The achievement of a period replayed under proposed limits or a proposed calendar; changes nothing."""
    settings: Settings = request.app.state.settings
    q = build_query(
        now=datetime.now(UTC),
        as_of=None,
        start=body.from_,
        end=body.to,
        bucket=None,
        timezone="UTC",
        group_by=None,
        default_group=(),
        flt=flt,
        agreement=None,
        max_days=settings.report_max_days,
        require_period=True,
        rollup_timezone=settings.rollup_timezone,
        retained_from=retention_horizon(datetime.now(UTC), settings.retention_months),
        field_prefix="",  # a body field is named by its path
    )
    return await service.what_if(session, body, _window(q, ""), flt, settings.replay_max_runs)


@router.get(
    "/v1/reports/agreements/{agreement_id}",
    response_model=AgreementReview,
    response_model_by_alias=True,
    responses=DOCUMENTS,
)
async def agreement_review(
    request: Request,
    session: SessionDep,
    agreement_id: str,
    period: PeriodBoundsDep,
    flt: FilterDep,
    media: DocumentDep,
) -> AgreementReview | Response:
    """An agreement's review: each billing period the range overlaps settled whole, and their sum (also a PDF to
    hand to the customer)."""
    settings: Settings = request.app.state.settings
    for name, value in (("bucket", period.bucket), ("as_of", period.as_of), ("group_by", period.group_by),
                        ("agreement", period.agreement)):  # fmt: skip
        if value is not None:
            raise invalid(
                f"query.{name}", "an agreement review is settled per billing period: this parameter does not apply"
            )
    q = build_query(
        now=datetime.now(UTC),
        as_of=None,
        start=period.start,
        end=period.end,
        bucket=None,
        timezone=period.timezone,
        group_by=None,
        default_group=(),
        flt=flt,
        agreement=None,
        max_days=settings.report_max_days,
        require_period=True,
        rollup_timezone=settings.rollup_timezone,
        retained_from=retention_horizon(datetime.now(UTC), settings.retention_months),
    )
    window = _window(q)
    review = await service.agreement_review(session, agreement_id, window, flt, settling(request))
    name = basename("agreement", str(review.agreement.get("key")), stamp(review.from_), stamp(review.to))
    if media == PDF:
        keys = [c.commitment_key for c in review.commitments]
        versions = await governing_versions(session, keys, review.from_, review.to)
        body = review_pdf(review, versions, settings.organisation_name, datetime.now(UTC))
        return file_response(PDF, body, name)
    return review if media == JSON else await answer(media, review, review_rows, name)
