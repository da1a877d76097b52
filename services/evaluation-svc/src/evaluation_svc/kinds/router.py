"""`/v1/reports/availability` and `/v1/reports/obligations`: the kinds of commitment, judged per period."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pledge_common.db import SessionDep
from pledge_common.identity import CallerDep
from pledge_common.problems import Forbidden, invalid
from pledge_common.scopes import Scope, scoped

from evaluation_svc.config import Settings
from evaluation_svc.kinds import service
from evaluation_svc.kinds.schemas import AvailabilityReport, ObligationsReport

router = APIRouter(prefix="/v1/reports", tags=["reports"], dependencies=scoped(Scope.reports_read))

FromQuery = Annotated[datetime, Query(alias="from", description="period start, inclusive (with its UTC offset)")]
ToQuery = Annotated[datetime, Query(description="period end, exclusive (with its UTC offset)")]
ServiceQuery = Annotated[list[str] | None, Query(max_length=100, description="only these service keys")]
CustomerQuery = Annotated[list[str] | None, Query(max_length=100, description="only the services of these customers")]
MAX_VALUE = 200


def _period(request: Request, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    settings: Settings = request.app.state.settings
    for name, value in (("query.from", start), ("query.to", end)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise invalid(name, "give the instant with its UTC offset (e.g. 2026-03-01T00:00:00+08:00)")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise invalid("query.to", "must be after from")
    if end - start > timedelta(days=settings.report_max_days):
        raise invalid("query.to", f"a period may span at most {settings.report_max_days} days")
    return start, end


def _keys(name: str, values: list[str] | None) -> list[str]:
    for value in values or ():
        if not value or len(value) > MAX_VALUE:
            raise invalid(f"query.{name}", f"a key of 1 to {MAX_VALUE} characters")
    return list(values or ())


def _every_source(caller: CallerDep) -> None:
    if caller.sources is not None:  # service facts carry no source system a key could be bound to
        raise Forbidden("the service reports cover every source system; this key is bound to some of them")


@router.get("/availability", response_model=AvailabilityReport, response_model_by_alias=True)
async def availability_report(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    from_: FromQuery,
    to: ToQuery,
    service_key: Annotated[list[str] | None, Query(alias="service", max_length=100, description="service keys")] = None,
    customer: CustomerQuery = None,
) -> AvailabilityReport:
    """Per availability commitment and service: availability, downtime, outages, shape limits, MTTR, MTBF,
    error budget, burn rates and forecast over a period, as of min(to, now)."""
    _every_source(caller)
    start, end = _period(request, from_, to)
    return await service.availability_report(
        session, start, end, datetime.now(UTC), _keys("service", service_key), _keys("customer", customer)
    )


@router.get("/obligations", response_model=ObligationsReport, response_model_by_alias=True)
async def obligations_report(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    from_: FromQuery,
    to: ToQuery,
    service_key: Annotated[list[str] | None, Query(alias="service", max_length=100, description="service keys")] = None,
    customer: CustomerQuery = None,
) -> ObligationsReport:
    """Per count, frequency and clause commitment: its units (samples, intervals, the deliverable) in the seven
    states over a period, as of min(to, now)."""
    _every_source(caller)
    start, end = _period(request, from_, to)
    return await service.obligations_report(
        session, start, end, datetime.now(UTC), _keys("service", service_key), _keys("customer", customer)
    )
