"""Building a report query from a request (shared by the reports and insights routes)."""

from datetime import UTC, datetime

from fastapi import Request
from pledge_common.db import SessionDep
from pledge_common.partitions import retention_horizon

from evaluation_svc.config import Settings
from evaluation_svc.reports import service
from evaluation_svc.reports.query import FilterDep, PeriodParams, ReportQuery, build_query


async def make_query(
    request: Request,
    session: SessionDep,
    period: PeriodParams,
    flt: FilterDep,
    *,
    default_group: tuple[str, ...],
    require_period: bool = False,
) -> ReportQuery:
    settings: Settings = request.app.state.settings
    q = build_query(
        now=datetime.now(UTC),
        as_of=period.as_of,
        start=period.start,
        end=period.end,
        bucket=period.bucket,
        timezone=period.timezone,
        group_by=period.group_by,
        default_group=default_group,
        flt=flt,
        agreement=period.agreement,
        max_days=settings.report_max_days,
        require_period=require_period,
        rollup_timezone=settings.rollup_timezone,
        retained_from=retention_horizon(datetime.now(UTC), settings.retention_months),
    )
    return q.with_filter(await service.with_agreement(session, q.filter, period.agreement))
