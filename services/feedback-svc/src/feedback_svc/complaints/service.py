"""Complaint use cases. Every change writes its tracking commands in the same transaction."""

import uuid
from datetime import datetime, timedelta

from pledge_common.identity import Caller
from pledge_common.pagination import Page, decode_cursor, encode_cursor
from pledge_common.problems import Conflict, NotFound, invalid
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_svc.clients import TrackingClient
from feedback_svc.common import utcnow, visible_to
from feedback_svc.complaints import workflow
from feedback_svc.complaints.models import Complaint, ComplaintOwner, ComplaintTransition
from feedback_svc.complaints.repository import ComplaintFilter, ComplaintRepository
from feedback_svc.complaints.schemas import (
    ComplaintCreate,
    ComplaintPublic,
    ComplaintSummary,
    ComplaintTransferCreate,
    ComplaintTransitionCreate,
    ConfirmationPublic,
    OwnerPublic,
    PartyPublic,
    TrackingPublic,
    TransitionPublic,
)
from feedback_svc.config import Settings
from feedback_svc.practices import service as practices
from feedback_svc.upstream import require_known_node, require_known_process

CLOCK_SKEW = timedelta(minutes=2)


def _facts(complaint: Complaint, settings: Settings) -> workflow.TicketFacts:
    return workflow.TicketFacts(
        complaint_id=complaint.id,
        process_key=settings.complaint_process_key,
        segment=complaint.severity,
        customer_ref=complaint.customer_ref,
        category=complaint.category,
        channel=complaint.channel,
        owner_department=complaint.owner_department,
    )


def _instant(given: datetime | None, now: datetime, not_before: datetime | None, field: str = "at") -> datetime:
    at = given or now
    if at > now + CLOCK_SKEW:
        raise invalid(field, "is in the future")
    if not_before is not None and at < not_before:
        raise invalid(field, f"is before the complaint's last change ({not_before.isoformat()})")
    return at


async def create(
    session: AsyncSession, tracking: TrackingClient, settings: Settings, caller: Caller, data: ComplaintCreate
) -> ComplaintPublic:
    now = utcnow()
    received_at = _instant(data.received_at, now, None, "received_at")
    process_key = data.process_key
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
    elif process_key is not None and data.node_key is None:
        await require_known_process(tracking, process_key)
    if data.node_key is not None:
        if process_key is None:
            raise invalid("node", "a node needs its process: give `process` or a ticket")
        await require_known_node(tracking, process_key, data.node_key)

    repository = ComplaintRepository(session)
    await repository.lock_customer_category(data.customer_ref, data.category)
    repeat_of = await repository.latest_within(
        data.customer_ref, data.category, received_at, timedelta(days=settings.repeat_window_days)
    )
    by = data.received_by.person or caller.sub
    complaint = Complaint(
        id=uuid.uuid4(),
        channel=data.channel,
        customer_ref=data.customer_ref,
        ticket_id=ticket_id,
        source=source,
        process_key=process_key,
        node_key=data.node_key,
        category=data.category,
        severity=data.severity,
        description=data.description,
        status="received",
        received_at=received_at,
        received_by_department=data.received_by.department,
        received_by_person=data.received_by.person,
        owner_department=data.received_by.department,
        owner_person=data.received_by.person,
        repeat_of=repeat_of,
        transition_count=1,
        created_at=now,
        updated_at=now,
    )
    await repository.add(complaint)
    await repository.add_history(
        [
            ComplaintTransition(
                complaint_id=complaint.id, seq=1, from_status=None, to_status="received", at=received_at, by=by
            )
        ],
        [
            ComplaintOwner(
                complaint_id=complaint.id,
                seq=1,
                department=data.received_by.department,
                person=data.received_by.person,
                since=received_at,
                assigned_by=by,
                reason="first receiver",
            )
        ],
    )
    events = workflow.tracking_events(_facts(complaint, settings), 1, None, "received", received_at)
    await repository.add_commands(complaint.id, events)
    return await _public(repository, settings, complaint)


async def _visible(
    repository: ComplaintRepository, caller: Caller, complaint_id: uuid.UUID, *, for_update: bool = False
) -> Complaint:
    """The complaint, or 404 when there is none or it concerns a source the caller is not bound to."""
    complaint = await repository.get(complaint_id, for_update=for_update)
    if complaint is None or not visible_to(caller, complaint.source):
        raise NotFound(f"no complaint {complaint_id}")
    return complaint


async def _last_change(repository: ComplaintRepository, complaint: Complaint) -> datetime:
    history = await repository.history(complaint.id)
    owners = await repository.ownership(complaint.id)
    return max([t.at for t in history] + [o.since for o in owners])


async def transition(
    session: AsyncSession,
    tracking: TrackingClient,
    settings: Settings,
    caller: Caller,
    complaint_id: uuid.UUID,
    data: ComplaintTransitionCreate,
) -> ComplaintPublic:
    repository = ComplaintRepository(session)
    complaint = await _visible(repository, caller, complaint_id, for_update=True)
    current, target = complaint.status, data.to
    if target == "closed" and current != "resolved":
        raise Conflict(
            f"a complaint must be resolved before it is closed; it is {current}",
            errors=[{"field": "to", "message": f"cannot close a complaint in status {current}"}],
            status_now=current,
        )
    if not workflow.may_transition(current, target):
        allowed = workflow.allowed_from(current)
        raise Conflict(
            f"a complaint in status {current} cannot go to {target}; allowed: {', '.join(allowed) or 'none'}",
            errors=[{"field": "to", "message": f"not allowed from {current}"}],
            status_now=current,
            allowed=allowed,
        )
    if target == "resolved":
        if not data.resolution:
            raise invalid("resolution", "required to resolve a complaint")
        if not data.root_cause:
            raise invalid("root_cause", "a root-cause category is required to resolve a complaint")
    if data.node_key is not None:
        if target != "resolved":
            raise invalid("node", "a complaint is attributed to a node when it is filed or resolved")
        if complaint.process_key is None:
            raise invalid("node", "a complaint about no process has no node")
        await require_known_node(tracking, complaint.process_key, data.node_key)
    if target == "closed" and data.customer_confirmed is None:
        raise invalid("customer_confirmed", "record whether the customer confirmed the resolution (true/false)")
    if target == "reopened" and not data.reason:
        raise invalid("reason", "say why the complaint is reopened")

    now = utcnow()
    at = _instant(data.at, now, await _last_change(repository, complaint))
    seq = complaint.transition_count + 1
    if target == "acknowledged":
        complaint.acknowledged_at = at
    elif target == "investigating":
        complaint.investigated = True
    elif target == "resolved":
        complaint.resolution = data.resolution
        complaint.root_cause = data.root_cause
        complaint.node_key = data.node_key or complaint.node_key
        complaint.resolved_at = at
    elif target == "closed":
        complaint.closed_at = at
        complaint.customer_confirmed = data.customer_confirmed
        complaint.customer_confirmation_note = data.confirmation_note
    elif target == "reopened":
        complaint.reopens += 1
        complaint.closed_at = None
        complaint.customer_confirmed = None
        complaint.customer_confirmation_note = None
    complaint.status = target
    complaint.transition_count = seq
    complaint.updated_at = now
    await repository.add(complaint)
    await repository.add_history(
        [
            ComplaintTransition(
                complaint_id=complaint.id,
                seq=seq,
                from_status=current,
                to_status=target,
                at=at,
                by=data.by or caller.sub,
                reason=data.reason,
            )
        ]
    )
    await repository.add_commands(
        complaint.id, workflow.tracking_events(_facts(complaint, settings), seq, current, target, at)
    )
    return await get(session, settings, caller, complaint.id)


async def transfer(
    session: AsyncSession, settings: Settings, caller: Caller, complaint_id: uuid.UUID, data: ComplaintTransferCreate
) -> ComplaintPublic:
    repository = ComplaintRepository(session)
    complaint = await _visible(repository, caller, complaint_id, for_update=True)
    if complaint.status == "closed":
        raise Conflict(
            "a closed complaint has no owner to transfer from; reopen it first",
            errors=[{"field": "to", "message": "complaint is closed"}],
            status_now=complaint.status,
        )
    owner = await repository.current_owner(complaint.id)
    assert owner is not None
    if owner.department == data.to.department and owner.person == data.to.person:
        raise invalid("to", "is already the owner")
    now = utcnow()
    at = _instant(data.at, now, await _last_change(repository, complaint))
    owner.until = at
    complaint.owner_department = data.to.department
    complaint.owner_person = data.to.person
    complaint.transfers += 1
    complaint.updated_at = now
    await repository.add(complaint)
    await repository.add_history(
        owners=[
            owner,
            ComplaintOwner(
                complaint_id=complaint.id,
                seq=owner.seq + 1,
                department=data.to.department,
                person=data.to.person,
                since=at,
                assigned_by=data.by or caller.sub,
                reason=data.reason,
            ),
        ]
    )
    return await get(session, settings, caller, complaint.id)


async def get(session: AsyncSession, settings: Settings, caller: Caller, complaint_id: uuid.UUID) -> ComplaintPublic:
    repository = ComplaintRepository(session)
    complaint = await _visible(repository, caller, complaint_id)
    found = await _public(repository, settings, complaint)
    found.suggested_practices = await practices.suggested(session, caller, complaint.root_cause)
    return found


async def _public(repository: ComplaintRepository, settings: Settings, complaint: Complaint) -> ComplaintPublic:
    complaint_id = complaint.id
    history = await repository.history(complaint_id)
    owners = await repository.ownership(complaint_id)
    tracking = await repository.tracking_state(complaint_id)
    confirmation = (
        ConfirmationPublic(confirmed=complaint.customer_confirmed, note=complaint.customer_confirmation_note)
        if complaint.customer_confirmed is not None
        else None
    )
    return ComplaintPublic(
        id=complaint.id,
        status=complaint.status,  # type: ignore[arg-type]
        channel=complaint.channel,
        customer_ref=complaint.customer_ref,
        ticket_id=complaint.ticket_id,
        source=complaint.source,
        process_key=complaint.process_key,
        node_key=complaint.node_key,
        category=complaint.category,
        severity=complaint.severity,  # type: ignore[arg-type]
        description=complaint.description,
        received_at=complaint.received_at,
        received_by=PartyPublic(department=complaint.received_by_department, person=complaint.received_by_person),
        owner=PartyPublic(department=complaint.owner_department, person=complaint.owner_person),
        resolution=complaint.resolution,
        root_cause=complaint.root_cause,
        acknowledged_at=complaint.acknowledged_at,
        resolved_at=complaint.resolved_at,
        closed_at=complaint.closed_at,
        customer_confirmation=confirmation,
        repeat_of=complaint.repeat_of,
        repeated_by=await repository.repeated_by(complaint_id),
        transfers=complaint.transfers,
        reopens=complaint.reopens,
        allowed_transitions=workflow.allowed_from(complaint.status),
        history=[TransitionPublic.model_validate(t, from_attributes=True) for t in history],
        ownership=[OwnerPublic.model_validate(o, from_attributes=True) for o in owners],
        tracking=TrackingPublic(
            process_key=settings.complaint_process_key,
            segment=complaint.severity,
            ticket_id=complaint.tracking_ticket_id,
            pending_events=tracking.pending,
            last_error=tracking.last_error,
        ),
        created_at=complaint.created_at,
        updated_at=complaint.updated_at,
    )


async def list_page(
    session: AsyncSession, where: ComplaintFilter, cursor: str | None, limit: int
) -> Page[ComplaintSummary]:
    after = decode_cursor(cursor, datetime.fromisoformat, uuid.UUID, field="query.cursor")
    rows = await ComplaintRepository(session).page(where, after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        ComplaintSummary(
            id=c.id,
            status=c.status,  # type: ignore[arg-type]
            severity=c.severity,  # type: ignore[arg-type]
            category=c.category,
            customer_ref=c.customer_ref,
            source=c.source,
            process_key=c.process_key,
            node_key=c.node_key,
            owner=PartyPublic(department=c.owner_department, person=c.owner_person),
            received_at=c.received_at,
            repeat_of=c.repeat_of,
        )
        for c in rows
    ]
    return Page[ComplaintSummary](
        items=items, next_cursor=encode_cursor(rows[-1].received_at, rows[-1].id) if more else None
    )
