"""`/v1/reply-reviews`: a quality reviewer's verdict on replies given to customers, and reply accuracy."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pledge_common.db import SessionDep
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.instants import Instant
from pledge_common.pagination import Page, PageParams, paged
from pledge_common.scopes import Scope, scoped

from feedback_svc.common import Bucket, check_period, one_dimension, timezone_named
from feedback_svc.replies import service
from feedback_svc.replies.repository import ReviewFilter
from feedback_svc.replies.schemas import AccuracyDimension, ReplyAccuracy, ReplyReviewCreate, ReplyReviewPublic
from feedback_svc.upstream import TrackingDep

router = APIRouter(
    prefix="/v1/reply-reviews", tags=["reply reviews"], dependencies=scoped(Scope.feedback_read, Scope.feedback_write)
)
Start = Annotated[Instant | None, Query(alias="from", description="replied at or after (ISO 8601 with offset)")]
End = Annotated[Instant | None, Query(alias="to", description="replied before (ISO 8601 with offset)")]
Department = Annotated[str | None, Query(max_length=200, description="the department that replied")]
ProcessKey = Annotated[str | None, Query(alias="process", max_length=200, description="process key")]
Category = Annotated[str | None, Query(max_length=200)]
GroupBy = Annotated[list[AccuracyDimension] | None, Query(description="the dimension (one; default period)")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ReplyReviewPublic,
    response_model_by_alias=True,
    responses={200: {"model": ReplyReviewPublic, "description": "the same review again: the stored one"}},
)
async def record_reply_review(
    data: ReplyReviewCreate, session: SessionDep, tracking: TrackingDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    """Record a reviewer's verdict on a reply to a complaint or an inquiry (accurate or not, and why); a reply is
    reviewed once: sent again (same source and reply) it answers 200 with the stored review."""

    async def record() -> Answer:
        created, review = await service.record(session, tracking, caller, data)
        return Answer(status.HTTP_201_CREATED if created else status.HTTP_200_OK, review)

    return await idem.answer(record, data)


@router.get("", response_model=Page[ReplyReviewPublic], response_model_by_alias=True)
async def list_reply_reviews(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    page: PageParams,
    start: Start = None,
    end: End = None,
    department: Department = None,
    process_key: ProcessKey = None,
    category: Category = None,
    accurate: bool | None = None,
    complaint: uuid.UUID | None = None,
) -> Page[ReplyReviewPublic]:
    """Reply reviews, the latest reply first."""
    check_period(start, end)
    where = ReviewFilter(
        start=start,
        end=end,
        department=department,
        process_key=process_key,
        category=category,
        accurate=accurate,
        complaint_id=complaint,
        sources=caller.sources,
    )
    return paged(request, response, await service.list_page(session, where, page.cursor, page.limit))


@router.get("/metrics", response_model=ReplyAccuracy, response_model_by_alias=True)
async def reply_accuracy(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    start: Start = None,
    end: End = None,
    group_by: GroupBy = None,
    bucket: Bucket = "month",
    tz: str | None = None,
    department: Department = None,
    process_key: ProcessKey = None,
    category: Category = None,
) -> ReplyAccuracy:
    """Reply accuracy (问题回复准确率): accurate reviewed replies / reviewed replies, of the replies given in
    [from, to), per period, department, process or category."""
    check_period(start, end)
    zone = timezone_named(tz or request.app.state.settings.report_timezone)
    where = ReviewFilter(
        start=start, end=end, department=department, process_key=process_key, category=category, sources=caller.sources
    )
    dimension = one_dimension(group_by, "period")
    return await service.accuracy(session, where, dimension, bucket, zone)
