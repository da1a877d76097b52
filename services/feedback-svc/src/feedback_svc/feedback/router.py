"""`/v1/feedback`: capture CSAT/NPS, read it back, aggregate it, and read it against commitment states."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pledge_common.db import SessionDep
from pledge_common.exports import CSV, JSON, XLSX, accepting, model_row, openapi_responses, tabular_response
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.instants import Instant
from pledge_common.pagination import Page, PageParams, paged
from pledge_common.scopes import Scope, scoped

from feedback_svc.common import Bucket, check_period, timezone_named
from feedback_svc.feedback import satisfaction, service
from feedback_svc.feedback.repository import FeedbackFilter
from feedback_svc.feedback.schemas import (
    FeedbackCreate,
    FeedbackPublic,
    FeedbackSummary,
    FeedbackUpdate,
    GroupBy,
    SatisfactionByState,
)
from feedback_svc.upstream import EvaluationDep, TrackingDep

router = APIRouter(
    prefix="/v1/feedback", tags=["feedback"], dependencies=scoped(Scope.feedback_read, Scope.feedback_write)
)
Start = Annotated[Instant | None, Query(alias="from", description="given at or after (ISO 8601 with offset)")]
End = Annotated[Instant | None, Query(alias="to", description="given before (ISO 8601 with offset)")]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=FeedbackPublic)
async def create_feedback(
    data: FeedbackCreate, session: SessionDep, tracking: TrackingDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    """Record a customer's CSAT and/or NPS for a ticket or a process (one per ticket and channel)."""

    async def create() -> Answer:
        return Answer(status.HTTP_201_CREATED, await service.create(session, tracking, caller, data))

    return await idem.answer(create, data)


@router.get("", response_model=Page[FeedbackPublic])
async def list_feedback(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    page: PageParams,
    start: Start = None,
    end: End = None,
    process_key: Annotated[str | None, Query(alias="process", description="process key")] = None,
    segment: str | None = None,
    channel: str | None = None,
    ticket_id: Annotated[uuid.UUID | None, Query(description="feedback about this ticket (tracking's id)")] = None,
) -> Page[FeedbackPublic]:
    """Feedback, newest first (a caller bound to source systems sees feedback on their tickets only)."""
    check_period(start, end)
    ticket = None if ticket_id is None else str(ticket_id)
    where = FeedbackFilter(start, end, process_key, segment, channel, ticket, sources=caller.sources)
    return paged(request, response, await service.list_page(session, where, page.cursor, page.limit))


@router.get(
    "/summary", response_model=FeedbackSummary, response_model_by_alias=True, responses=openapi_responses(CSV, XLSX)
)
async def feedback_summary(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    media: Annotated[str, Depends(accepting(CSV, XLSX))],
    start: Start = None,
    end: End = None,
    group_by: Annotated[list[GroupBy] | None, Query(description="repeat to group by several")] = None,
    bucket: Bucket = "month",
    tz: str | None = Query(default=None, description="time zone of period buckets (default: the service's)"),
    process_key: Annotated[str | None, Query(alias="process", description="process key")] = None,
    segment: str | None = None,
    channel: str | None = None,
) -> FeedbackSummary | Response:
    """CSAT (share of 4-5) and NPS (% promoters - % detractors) with counts, grouped as asked (CSV and XLSX too:
    one row per group, then the totals)."""
    check_period(start, end)
    zone = timezone_named(tz or request.app.state.settings.report_timezone)
    where = FeedbackFilter(start, end, process_key, segment, channel, sources=caller.sources)
    summary = await service.summary(session, where, group_by or [], bucket, zone)
    if media == JSON:
        return summary
    rows = [model_row(g, part="group") for g in summary.groups] + [model_row(summary.totals, part="total")]
    return await tabular_response(media, rows, "feedback-summary")


@router.get("/by-state", response_model=SatisfactionByState, response_model_by_alias=True)
async def satisfaction_by_state(
    session: SessionDep,
    caller: CallerDep,
    tracking: TrackingDep,
    evaluation: EvaluationDep,
    process_key: Annotated[str, Query(alias="process", description="the process (required)")],
    start: Start = None,
    end: End = None,
    segment: str | None = None,
    duration_bucket: Annotated[str, Query(description="width of counted-time buckets (ISO 8601)")] = "PT1H",
    csat_threshold: Annotated[float, Query(ge=0, le=1, description="CSAT under which satisfaction 'drops'")] = 0.8,
    min_responses: Annotated[int, Query(ge=1, description="answers a bucket needs to count as a drop")] = 5,
) -> SatisfactionByState:
    """CSAT and NPS of tickets by the state their nodes ended in, and against counted duration, per process."""
    check_period(start, end)
    where = FeedbackFilter(start, end, process_key, segment, sources=caller.sources)
    return await satisfaction.satisfaction_by_state(
        session, tracking, evaluation, where, duration_bucket, csat_threshold, min_responses
    )


@router.get("/{feedback_id}", response_model=FeedbackPublic)
async def get_feedback(feedback_id: uuid.UUID, session: SessionDep, caller: CallerDep) -> FeedbackPublic:
    """One feedback."""
    return await service.get(session, caller, feedback_id)


@router.patch("/{feedback_id}", response_model=FeedbackPublic)
async def update_feedback(
    feedback_id: uuid.UUID, data: FeedbackUpdate, session: SessionDep, caller: CallerDep
) -> FeedbackPublic:
    """Correct a feedback's scores, comment or instant (the way to change a ticket's feedback on a channel)."""
    return await service.update(session, caller, feedback_id, data)
