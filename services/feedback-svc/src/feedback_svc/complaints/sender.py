"""Delivers the tracking command outbox to tracking-svc: in order per complaint, retried with backoff.

One delivery pass runs in one transaction: it locks the due head command of each complaint with
`FOR UPDATE SKIP LOCKED` (so several replicas share the work and never send the same complaint's
commands concurrently), sends it, and continues with that complaint's next command while deliveries
succeed. A failure backs the command off and ends that complaint's chain; an unreachable tracking-svc
ends the whole pass (the rest would fail the same way).
"""

import json
import logging
from dataclasses import dataclass
from typing import Any

from pledge_common.workers import Wakeup
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feedback_svc.clients import TrackingClient, UpstreamRejected, UpstreamUnavailable
from feedback_svc.complaints.workflow import backoff_seconds
from feedback_svc.config import Settings

log = logging.getLogger("feedback.sender")

_HEADS = text(
    """
    SELECT c.id, c.complaint_id, c.event_id, c.payload, c.attempts
    FROM tracking_commands c
    WHERE c.status = 'pending' AND c.next_attempt_at <= clock_timestamp()
      AND NOT EXISTS (
          SELECT 1 FROM tracking_commands p
          WHERE p.complaint_id = c.complaint_id AND p.status = 'pending' AND p.id < c.id
      )
    ORDER BY c.id
    LIMIT :batch
    FOR UPDATE OF c SKIP LOCKED
    """
)
_NEXT = text(
    """
    SELECT id, complaint_id, event_id, payload, attempts FROM tracking_commands
    WHERE complaint_id = :complaint_id AND status = 'pending' AND id > :after
    ORDER BY id LIMIT 1
    FOR UPDATE SKIP LOCKED
    """
)
_DELIVERED = text(
    "UPDATE tracking_commands SET status = 'delivered', delivered_at = clock_timestamp(), attempts = attempts + 1,"
    " last_error = NULL WHERE id = :id"
)
_FAILED = text(
    "UPDATE tracking_commands SET attempts = attempts + 1, last_error = :error,"
    " next_attempt_at = clock_timestamp() + make_interval(secs => :delay) WHERE id = :id"
)
_TICKET_ID = text(
    "UPDATE complaints SET tracking_ticket_id = :ticket_id WHERE id = :complaint_id AND tracking_ticket_id IS NULL"
)


@dataclass(frozen=True, slots=True)
class PassReport:
    delivered: int
    failed: int


def _ticket_id(answer: dict[str, Any]) -> str | None:
    ticket = answer.get("ticket")
    value = answer.get("ticket_id") or (ticket.get("id") if isinstance(ticket, dict) else None)
    return str(value) if value is not None else None


async def deliver_pass(session: AsyncSession, tracking: TrackingClient, settings: Settings) -> PassReport:
    """Send what is due; the caller commits. Returns how many commands were delivered and failed."""
    delivered = failed = 0
    heads = (await session.execute(_HEADS, {"batch": settings.sender_batch})).all()
    for head in heads:
        command: Any = head
        while command is not None:
            try:
                payload = command.payload if isinstance(command.payload, dict) else json.loads(command.payload)
                answer = await tracking.send_event(payload)
            except (UpstreamUnavailable, UpstreamRejected) as err:
                delay = backoff_seconds(command.attempts + 1, settings.sender_backoff_base, settings.sender_backoff_max)
                await session.execute(_FAILED, {"id": command.id, "error": str(err)[:1000], "delay": delay})
                failed += 1
                log.warning(
                    "tracking command not delivered",
                    extra={"event_id": command.event_id, "attempts": command.attempts + 1, "error": str(err)},
                )
                if isinstance(err, UpstreamUnavailable):
                    return PassReport(delivered, failed)
                break
            await session.execute(_DELIVERED, {"id": command.id})
            ticket_id = _ticket_id(answer)
            if ticket_id is not None:
                await session.execute(_TICKET_ID, {"ticket_id": ticket_id, "complaint_id": command.complaint_id})
            delivered += 1
            command = (
                await session.execute(_NEXT, {"complaint_id": command.complaint_id, "after": command.id})
            ).first()
    return PassReport(delivered, failed)


class TrackingCommandSender:
    """The background worker around `deliver_pass`; `wake()` after writing commands to send them at once."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], tracking: TrackingClient, settings: Settings
    ) -> None:
        self.sessionmaker = sessionmaker
        self.tracking = tracking
        self.settings = settings
        self.wakeup = Wakeup()

    def wake(self) -> None:
        self.wakeup.wake()

    async def run_once(self) -> PassReport:
        async with self.sessionmaker() as session, session.begin():
            return await deliver_pass(session, self.tracking, self.settings)

    async def round(self) -> bool:
        """One delivery pass (a worker step: a failed pass, a database restart say, is retried by the worker
        supervisor); True when it delivered everything it tried, so that the next pass runs at once."""
        report = await self.run_once()
        return bool(report.delivered and not report.failed)
