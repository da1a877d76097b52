"""Complaint tickets that source systems send to tracking-svc count as complaints: each one becomes a complaint
(once: keyed by tracking's ticket id) when tracking's feed first shows it.

A ticket is a complaint ticket when its process is one of `complaint_ticket_processes` and it was not opened
by this service (whose own complaint tickets already belong to a complaint). The complaint is read from the
ticket: customer, opening instant, and the attributes `category`, `severity`, `description` and `department`
when the source system sends them (defaults otherwise). Its handling stays with the source system: no tracking
command is queued for it, and the ticket's node runs are what evaluation-svc judges."""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, get_args

from fastapi import FastAPI
from pledge_common.consumer import FeedConsumer
from pledge_common.internal import make_http_client
from pledge_common.outbox import FeedEvent
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_svc.common import utcnow
from feedback_svc.complaints.models import Complaint, ComplaintOwner, ComplaintTransition
from feedback_svc.complaints.repository import ComplaintRepository
from feedback_svc.complaints.workflow import SOURCE, Severity
from feedback_svc.config import Settings

log = logging.getLogger("feedback.intake")
CONSUMER_NAME = "feedback.tracking"
UNKNOWN_CATEGORY = "unspecified"
SEVERITIES = frozenset(get_args(Severity))


@dataclass(frozen=True, slots=True)
class TicketComplaint:
    tracking_ticket_id: str
    source: str
    external_id: str
    process_key: str
    customer_ref: str
    category: str
    severity: str
    description: str
    department: str
    received_at: datetime


def _text(value: Any, limit: int) -> str | None:
    return value.strip()[:limit] or None if isinstance(value, str) else None


def complaint_of_ticket(
    payload: dict[str, Any], processes: frozenset[str], default_department: str
) -> TicketComplaint | None:
    """The complaint a `ticket.upserted` payload stands for, or None when it is not a source system's
    complaint ticket (another process, this service's own ticket, or not opened yet)."""
    if payload.get("process_key") not in processes or payload.get("source") in (None, SOURCE):
        return None
    opened = payload.get("opened_at")
    if not isinstance(opened, str) or not isinstance(payload.get("id"), str):
        return None
    try:
        received_at = datetime.fromisoformat(opened)
    except ValueError:
        log.warning("skipping ticket %s: opened_at %r is not an instant", payload.get("id"), opened)
        return None
    if received_at.tzinfo is None:
        return None
    given = payload.get("attributes")
    attributes: dict[str, Any] = given if isinstance(given, dict) else {}
    severity = attributes.get("severity")
    return TicketComplaint(
        tracking_ticket_id=str(payload["id"]),
        source=str(payload["source"]),
        external_id=str(payload.get("external_id")),
        process_key=str(payload["process_key"]),
        customer_ref=_text(payload.get("customer_ref"), 200) or "unknown",
        category=_text(attributes.get("category"), 200) or UNKNOWN_CATEGORY,
        severity=str(severity) if severity in SEVERITIES else "general",
        description=_text(attributes.get("description"), 10_000)
        or f"complaint ticket {payload.get('external_id')} from {payload['source']}",
        department=_text(attributes.get("department"), 200) or default_department,
        received_at=received_at,
    )


async def link(session: AsyncSession, settings: Settings, found: TicketComplaint) -> bool:
    """Create the complaint of a source system's complaint ticket unless it exists; True when created."""
    repository = ComplaintRepository(session)
    if await repository.of_intake_ticket(found.tracking_ticket_id) is not None:
        return False
    await repository.lock_customer_category(found.customer_ref, found.category)
    repeat_of = await repository.latest_within(
        found.customer_ref, found.category, found.received_at, timedelta(days=settings.repeat_window_days)
    )
    now = utcnow()
    complaint = Complaint(
        id=uuid.uuid4(),
        channel=found.source,
        customer_ref=found.customer_ref,
        ticket_id=None,
        source=found.source,
        process_key=found.process_key,
        category=found.category,
        severity=found.severity,
        description=found.description,
        status="received",
        received_at=found.received_at,
        received_by_department=found.department,
        owner_department=found.department,
        repeat_of=repeat_of,
        tracking_ticket_id=found.tracking_ticket_id,
        intake_ticket_id=found.tracking_ticket_id,
        transition_count=1,
        created_at=now,
        updated_at=now,
    )
    await repository.add(complaint)
    by = f"{found.source}:{found.external_id}"
    await repository.add_history(
        [
            ComplaintTransition(
                complaint_id=complaint.id, seq=1, from_status=None, to_status="received", at=found.received_at, by=by
            )
        ],
        [
            ComplaintOwner(
                complaint_id=complaint.id,
                seq=1,
                department=found.department,
                since=found.received_at,
                assigned_by=by,
                reason="complaint ticket of a source system",
            )
        ],
    )
    return True


async def handle_tracking(session: AsyncSession, settings: Settings, events: Sequence[FeedEvent]) -> None:
    """The feed handler: every complaint ticket of a source system becomes a complaint, once."""
    processes = frozenset(settings.complaint_ticket_processes)
    for event in events:
        if event.type != "ticket.upserted":
            continue
        found = complaint_of_ticket(event.payload, processes, settings.complaint_ticket_department)
        if found is not None:
            await link(session, settings, found)


def ticket_consumer(app: FastAPI, settings: Settings) -> FeedConsumer:
    async def handle(session: AsyncSession, events: Sequence[FeedEvent]) -> None:
        await handle_tracking(session, settings, events)

    return FeedConsumer(
        name=CONSUMER_NAME,
        client=make_http_client(settings.tracking_url, token=settings.service_token),
        feed_path="/internal/v1/events",
        engine=app.state.engine,
        sessionmaker=app.state.sessionmaker,
        handler=handle,
        batch_size=settings.feed_batch_size,
        wait=settings.feed_wait_seconds,
    )
