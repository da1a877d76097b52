"""Reply reviews: recorded once per reply, validated against the complaint they concern; reply accuracy."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from pledge_common.identity import Caller
from pledge_common.pagination import Page, decode_cursor, encode_cursor
from pledge_common.problems import Conflict, invalid
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_svc.clients import TrackingClient
from feedback_svc.common import utcnow, visible_to
from feedback_svc.complaints.repository import ComplaintRepository
from feedback_svc.replies import rules
from feedback_svc.replies.models import ReplyReview
from feedback_svc.replies.repository import ReplyReviewRepository, ReviewFilter
from feedback_svc.replies.schemas import AccuracyRow, ReplyAccuracy, ReplyReviewCreate, ReplyReviewPublic
from feedback_svc.upstream import require_known_process

CLOCK_SKEW = timedelta(minutes=2)


def public(r: ReplyReview) -> ReplyReviewPublic:
    return ReplyReviewPublic(
        id=r.id,
        source=r.source,
        reply_ref=r.reply_ref,
        complaint=r.complaint_id,
        inquiry=r.inquiry_ref,
        department=r.department,
        process=r.process_key,
        category=r.category,
        replied_at=r.replied_at,
        accurate=r.accurate,
        reviewer=r.reviewer,
        reason=r.reason,
        reviewed_at=r.reviewed_at,
        recorded_by=r.recorded_by,
    )


def _check_instants(data: ReplyReviewCreate, now: datetime) -> datetime:
    """The review instant (default now); neither instant in the future, the review not before the reply."""
    if data.replied_at > now + CLOCK_SKEW:
        raise invalid("body.replied_at", "is in the future")
    reviewed_at = data.reviewed_at or now
    if data.reviewed_at is not None and data.reviewed_at > now + CLOCK_SKEW:
        raise invalid("body.reviewed_at", "is in the future")
    if reviewed_at < data.replied_at:
        raise invalid("body.reviewed_at", "a reply is reviewed after it was given")
    return reviewed_at


async def record(
    session: AsyncSession, tracking: TrackingClient, caller: Caller, data: ReplyReviewCreate
) -> tuple[bool, ReplyReviewPublic]:
    """(created, the review): the same (source, reply) again answers the stored review; with another verdict or
    other facts it is a conflict (a reply is reviewed once)."""
    if caller.sources is not None and data.source not in caller.sources:
        raise invalid("body.source", "a caller bound to source systems records reviews of its own sources only")
    if (data.complaint is None) == (data.inquiry is None):
        raise invalid("body.complaint", "name the complaint the reply answered, or else the inquiry (one of them)")
    if not data.accurate and data.reason is None:
        raise invalid("body.reason", "required when the reply is not accurate")
    now = utcnow()
    reviewed_at = _check_instants(data, now)
    if data.complaint is not None:
        complaint = await ComplaintRepository(session).get(data.complaint)
        if complaint is None or not visible_to(caller, complaint.source):
            raise invalid("body.complaint", f"no complaint {data.complaint}")
        if data.replied_at < complaint.received_at:
            raise invalid("body.replied_at", "before the complaint was received")
        department = data.department or complaint.owner_department
        process_key = data.process or complaint.process_key
        category = data.category or complaint.category
    elif data.department is None:
        raise invalid("body.department", "required for the reply to an inquiry")
    elif data.category is None:
        raise invalid("body.category", "required for the reply to an inquiry")
    else:
        department, process_key, category = data.department, data.process, data.category
    if data.process is not None:
        await require_known_process(tracking, data.process, "body.process")
    review = ReplyReview(
        id=uuid.uuid4(),
        source=data.source,
        reply_ref=data.reply_ref,
        complaint_id=data.complaint,
        inquiry_ref=data.inquiry,
        department=department,
        process_key=process_key,
        category=category,
        replied_at=data.replied_at,
        accurate=data.accurate,
        reviewer=data.reviewer,
        reason=data.reason,
        reviewed_at=reviewed_at,
        recorded_by=caller.sub,
        created_at=now,
    )
    stored = await ReplyReviewRepository(session).add_once(review)
    if stored.id == review.id:
        return True, public(stored)
    fields = ["complaint_id", "inquiry_ref", "department", "process_key", "category", "replied_at", "accurate"]
    fields += ["reviewer", "reason"] + (["reviewed_at"] if data.reviewed_at is not None else [])
    differing = [f for f in fields if getattr(stored, f) != getattr(review, f)]
    if differing:
        raise Conflict(
            f"body.reply: {data.source}/{data.reply_ref} was reviewed before with another {differing[0]}"
            " (a reply is reviewed once)"
        )
    return False, public(stored)


async def list_page(
    session: AsyncSession, where: ReviewFilter, cursor: str | None, limit: int
) -> Page[ReplyReviewPublic]:
    after = decode_cursor(cursor, datetime.fromisoformat, uuid.UUID, field="query.cursor")
    rows = await ReplyReviewRepository(session).page(where, after, limit + 1)  # type: ignore[arg-type]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[ReplyReviewPublic](
        items=[public(r) for r in rows],
        next_cursor=encode_cursor(rows[-1].replied_at, rows[-1].id) if more else None,
    )


def accuracy_row(counts: dict[str, Any] | None, group_by: str) -> AccuracyRow:
    counts = counts or {}
    reviewed, accurate = int(counts.get("reviewed", 0)), int(counts.get("accurate", 0))
    group = counts.get("grp")
    return AccuracyRow(
        period=group if group_by == "period" else None,
        department=group if group_by == "department" else None,
        process=group if group_by == "process" else None,
        category=group if group_by == "category" else None,
        reviewed=reviewed,
        accurate=accurate,
        inaccurate=reviewed - accurate,
        accuracy=rules.reply_accuracy(reviewed, accurate),
    )


async def accuracy(session: AsyncSession, where: ReviewFilter, group_by: str, bucket: str, tz: str) -> ReplyAccuracy:
    repository = ReplyReviewRepository(session)
    totals = await repository.accuracy(where, "none", bucket, tz)
    groups = await repository.accuracy(where, group_by, bucket, tz) if group_by != "none" else []
    return ReplyAccuracy(
        start=where.start,
        end=where.end,
        group_by=group_by,  # type: ignore[arg-type]
        bucket=bucket,
        timezone=tz,
        totals=accuracy_row(totals[0] if totals else None, "none"),
        groups=[accuracy_row(g, group_by) for g in groups],
    )
