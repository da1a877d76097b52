"""`/v1/customer-events` and `/v1/customers`: customer facts, churn per period, pain points per customer."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pledge_common.db import SessionDep
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.instants import Instant
from pledge_common.pagination import PageParams, paged
from pledge_common.scopes import Scope, scoped

from feedback_svc.common import Bucket, check_period, timezone_named
from feedback_svc.customers import service
from feedback_svc.customers.schemas import ChurnReport, CustomerEventCreate, CustomerEventPublic, PainPointsPage
from feedback_svc.upstream import EvaluationDep

events_router = APIRouter(
    prefix="/v1/customer-events", tags=["customers"], dependencies=scoped(Scope.feedback_read, Scope.feedback_write)
)
router = APIRouter(
    prefix="/v1/customers", tags=["customers"], dependencies=scoped(Scope.feedback_read, Scope.feedback_write)
)


@events_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CustomerEventPublic,
    response_model_by_alias=True,
    responses={200: {"model": CustomerEventPublic, "description": "the same event again: the stored one"}},
)
async def record_customer_event(
    data: CustomerEventCreate, session: SessionDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    """A customer joined, left or changed plan; sent again (same source and external_id), it answers 200 with
    the stored event."""

    async def record() -> Answer:
        created, event = await service.record(session, caller, data)
        return Answer(status.HTTP_201_CREATED if created else status.HTTP_200_OK, event)

    return await idem.answer(record, data)


@router.get("/churn", response_model=ChurnReport, response_model_by_alias=True)
async def churn(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    start: Annotated[Instant, Query(alias="from")],
    end: Annotated[Instant, Query(alias="to")],
    bucket: Bucket = "month",
    tz: str | None = None,
) -> ChurnReport:
    """Churn rate per period: customers who left / customers active at the period's start."""
    check_period(start, end)
    zone = timezone_named(tz or request.app.state.settings.report_timezone)
    return await service.churn(session, caller, start, end, bucket, zone)


@router.get("/pain-points", response_model=PainPointsPage, response_model_by_alias=True)
async def pain_points(
    request: Request,
    response: Response,
    session: SessionDep,
    evaluation: EvaluationDep,
    caller: CallerDep,
    page: PageParams,
    start: Annotated[Instant | None, Query(alias="from")] = None,
    end: Annotated[Instant | None, Query(alias="to")] = None,
    customer_ref: Annotated[str | None, Query(alias="customer", max_length=200)] = None,
) -> PainPointsPage:
    """Customers by pain-point index (highest first): complaints by category, repeats, low CSAT and warning runs
    (these over a period only; `unavailable` says when they could not be counted)."""
    check_period(start, end)
    found = await service.pain_points(session, evaluation, caller, start, end, customer_ref, page.cursor, page.limit)
    return paged(request, response, found)
