"""Feedback use cases: validate against tracking, store, aggregate."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from pledge_common.identity import Caller
from pledge_common.pagination import Page, decode_cursor, encode_cursor
from pledge_common.problems import Conflict, NotFound, invalid
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_svc.clients import TrackingClient
from feedback_svc.common import utcnow, visible_to
from feedback_svc.feedback import scores
from feedback_svc.feedback.models import Feedback, FeedbackNode
from feedback_svc.feedback.repository import FeedbackFilter, FeedbackRepository
from feedback_svc.feedback.schemas import (
    FeedbackCreate,
    FeedbackNodePublic,
    FeedbackPublic,
    FeedbackSummary,
    FeedbackUpdate,
    GroupBy,
    SatisfactionFigures,
    SummaryGroup,
)
from feedback_svc.upstream import require_known_process

_GROUP_FIELD = {
    "process": "process_key",
    "node": "node_key",
    "segment": "segment",
    "department": "department",
    "channel": "channel",
    "period": "period",
}


def public(feedback: Feedback, nodes: Sequence[FeedbackNode]) -> FeedbackPublic:
    return FeedbackPublic(
        **feedback.model_dump(),
        nodes=[FeedbackNodePublic(node_key=n.node_key, department=n.department) for n in nodes],
    )


async def create(
    session: AsyncSession, tracking: TrackingClient, caller: Caller, data: FeedbackCreate
) -> FeedbackPublic:
    feedback_id = uuid.uuid4()
    now = utcnow()
    nodes: list[FeedbackNode] = []
    segment, customer_ref, process_key = data.segment, data.customer_ref, data.process_key
    source: str | None = None
    ticket_id: str | None = None  # tracking's id, however the caller named the ticket (`source:external_id` too)
    if data.ticket_id is not None:
        ticket = await tracking.get_ticket(data.ticket_id)
        # a caller bound to some source systems may not name another source's ticket (nor learn it exists)
        if ticket is None or (ticket.source is not None and not caller.can_see_source(ticket.source)):
            raise invalid("ticket_id", f"tracking-svc knows no ticket {data.ticket_id!r}")
        if process_key is not None and process_key != ticket.process_key:
            raise invalid("process", f"ticket {ticket.id} belongs to process {ticket.process_key!r}")
        process_key = ticket.process_key
        source = ticket.source
        ticket_id = ticket.id
        segment = segment or ticket.segment
        customer_ref = customer_ref or ticket.customer_ref
        ticket_nodes = {n.node_key: n.department for n in ticket.nodes}
        if data.node_key is not None:
            if ticket_nodes and data.node_key not in ticket_nodes:
                raise invalid("node", f"ticket {ticket.id} has no node {data.node_key!r}")
            ticket_nodes = {data.node_key: data.department or ticket_nodes.get(data.node_key)}
        nodes = [FeedbackNode(feedback_id=feedback_id, node_key=k, department=d) for k, d in ticket_nodes.items()]
    else:
        assert process_key is not None
        await require_known_process(tracking, process_key)
        if data.node_key is not None:
            nodes = [FeedbackNode(feedback_id=feedback_id, node_key=data.node_key, department=data.department)]
    feedback = Feedback(
        id=feedback_id,
        ticket_id=ticket_id,
        process_key=process_key,
        segment=segment,
        customer_ref=customer_ref,
        source=source,
        channel=data.channel,
        csat=data.csat,
        nps=data.nps,
        comment=data.comment,
        given_at=data.given_at or now,
        created_at=now,
        updated_at=now,
    )
    repository = FeedbackRepository(session)
    if not await repository.insert(feedback, nodes):
        assert ticket_id is not None
        existing = await repository.id_for_ticket_channel(ticket_id, data.channel)
        raise Conflict(
            f"ticket {data.ticket_id} already has feedback on channel {data.channel!r}; "
            f"update it with PATCH /v1/feedback/{existing}",
            errors=[{"field": "channel", "message": "one feedback per ticket per channel"}],
            existing_id=str(existing),
        )
    return public(feedback, nodes)


async def _visible(
    repository: FeedbackRepository, caller: Caller, feedback_id: uuid.UUID, *, for_update: bool = False
) -> Feedback:
    """The feedback, or 404 when there is none or it concerns a source the caller is not bound to."""
    feedback = await repository.get(feedback_id, for_update=for_update)
    if feedback is None or not visible_to(caller, feedback.source):
        raise NotFound(f"no feedback {feedback_id}")
    return feedback


async def get(session: AsyncSession, caller: Caller, feedback_id: uuid.UUID) -> FeedbackPublic:
    repository = FeedbackRepository(session)
    feedback = await _visible(repository, caller, feedback_id)
    nodes = await repository.nodes_of([feedback_id])
    return public(feedback, nodes[feedback_id])


async def update(session: AsyncSession, caller: Caller, feedback_id: uuid.UUID, data: FeedbackUpdate) -> FeedbackPublic:
    repository = FeedbackRepository(session)
    feedback = await _visible(repository, caller, feedback_id, for_update=True)
    changes = data.model_dump(exclude_unset=True)
    for column in ("given_at",):
        if column in changes and changes[column] is None:
            raise invalid(column, "cannot be removed")
    csat = changes.get("csat", feedback.csat)
    nps = changes.get("nps", feedback.nps)
    if csat is None and nps is None:
        raise invalid("csat", "feedback needs `csat` or `nps`; removing both leaves nothing to count")
    if changes:
        for column, value in changes.items():
            setattr(feedback, column, value)
        feedback.updated_at = utcnow()
        await repository.save(feedback)
    return await get(session, caller, feedback_id)


async def list_page(
    session: AsyncSession, where: FeedbackFilter, cursor: str | None, limit: int
) -> Page[FeedbackPublic]:
    after = decode_cursor(cursor, datetime.fromisoformat, uuid.UUID, field="query.cursor")
    repository = FeedbackRepository(session)
    rows = await repository.page(where, after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    nodes = await repository.nodes_of([r.id for r in rows])
    items = [public(r, nodes[r.id]) for r in rows]
    next_cursor = encode_cursor(rows[-1].given_at, rows[-1].id) if more else None
    return Page[FeedbackPublic](items=items, next_cursor=next_cursor)


async def summary(
    session: AsyncSession, where: FeedbackFilter, group_by: Sequence[GroupBy], bucket: str, tz: str
) -> FeedbackSummary:
    if len(set(group_by)) != len(group_by):
        raise invalid("query.group_by", "names a dimension twice")
    totals, groups = await FeedbackRepository(session).summary(where, group_by, bucket, tz)
    return FeedbackSummary(
        start=where.start,
        end=where.end,
        group_by=list(group_by),
        bucket=bucket,
        timezone=tz,
        totals=SatisfactionFigures(**scores.figures(totals)),
        groups=[
            SummaryGroup(**{_GROUP_FIELD[g]: v for g, v in keys.items()}, **scores.figures(counts))
            for keys, counts in groups
        ],
    )
