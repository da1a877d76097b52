"""Raising alerts (the scanner) and handling them (list, acknowledge)."""

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pledge_common.identity import Caller
from pledge_common.outbox import emit_many
from pledge_common.pagination import decode_cursor, encode_cursor
from pledge_common.problems import Conflict, NotFound
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evaluation_svc.alerts.repository import AlertRepository
from evaluation_svc.alerts.rules import DEFAULT_LATE_AFTER
from evaluation_svc.alerts.schemas import AlertPage, AlertPublic
from evaluation_svc.kinds.alerts import scan_service_alerts
from evaluation_svc.webhooks.repository import WebhookRepository

log = logging.getLogger("evaluation.alerts")


async def publish(session: AsyncSession, event_type: str, alerts: Sequence[AlertPublic]) -> None:
    """Emit on our feed and queue a delivery per matching webhook subscription, in the same transaction."""
    await emit_many(session, [(event_type, str(a.id), a.event_payload()) for a in alerts])
    await WebhookRepository(session).enqueue(event_type, alerts)


async def scan_once(
    session: AsyncSession,
    now: datetime,
    batch_size: int,
    settle: float = 0.0,
    late_after: timedelta = DEFAULT_LATE_AFTER,
) -> int:
    """Raise the alerts of open runs whose due instants have passed; returns how many runs were claimed.

    One statement claims the runs, records every level each has passed, advances them and emits the
    events; the alerts come back to Python only to queue webhook deliveries, and only while someone
    subscribes. With `settle` (seconds), a run is claimed only once its last change is that old: when a
    source sends a backlog, its runs are judged on their latest facts, not on each step of the replay.
    A level reached more than `late_after` before `now` (old work orders loaded now) is recorded as late
    and not delivered.
    """
    claimed, inserted = await AlertRepository(session).raise_due(now, batch_size, settle, late_after.total_seconds())
    if inserted:
        await WebhookRepository(session).enqueue("alert.raised", [AlertPublic(**a) for a in inserted])
    return claimed


class AlertScanner:
    """A background worker; several replicas share the work through row locks taken with SKIP LOCKED."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        interval: float,
        batch_size: int,
        settle: float = 0.0,
        late_after: timedelta = DEFAULT_LATE_AFTER,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.interval = interval
        self.batch_size = batch_size
        self.settle = settle
        self.late_after = late_after

    async def tick(self) -> int:
        async with self.sessionmaker() as session, session.begin():
            now = datetime.now(UTC)
            claimed = await scan_once(session, now, self.batch_size, self.settle, self.late_after)
        try:
            async with self.sessionmaker() as session, session.begin():
                await scan_service_alerts(session, now, self.late_after)
        except (ValueError, TypeError, OverflowError):  # a commitment the rules refuse: the runs' alerts went on
            log.exception("service alert scan failed")
        return claimed

    async def round(self) -> bool:
        """One scan (a worker step: a failed one is retried by the worker supervisor; nothing was committed);
        True while runs are still waiting."""
        return await self.tick() >= self.batch_size


async def list_alerts(
    session: AsyncSession,
    caller: Caller,
    *,
    department: Sequence[str],
    level: Sequence[str],
    state: Sequence[str],
    process: Sequence[str],
    position: Sequence[str],
    late: bool | None,
    node_run_id: str | None,
    cursor: str | None,
    limit: int,
) -> AlertPage:
    rows = await AlertRepository(session).page(
        department=department,
        level=level,
        state=state,
        process=process,
        position=position,
        late=late,
        node_run_id=node_run_id,
        sources=caller.sources,
        after=decode_cursor(cursor, datetime.fromisoformat, uuid.UUID, field="query.cursor"),
        limit=limit + 1,
    )
    items = [AlertPublic(**r) for r in rows[:limit]]
    return AlertPage(
        items=items, next_cursor=encode_cursor(items[-1].raised_at, items[-1].id) if len(rows) > limit else None
    )


async def get_alert(session: AsyncSession, caller: Caller, alert_id: uuid.UUID) -> AlertPublic:
    row = await AlertRepository(session).get(alert_id)
    if row is None or not caller.can_see_source(row["source"]):
        raise NotFound(f"no alert {alert_id}")
    return AlertPublic(**row)


async def acknowledge(session: AsyncSession, caller: Caller, alert_id: uuid.UUID, note: str | None) -> AlertPublic:
    """Record who acknowledged the alert and when. Acknowledging again changes nothing (the first
    acknowledgement stays); an alert resolved before anyone acknowledged it cannot be acknowledged."""
    repo = AlertRepository(session)
    row = await repo.get(alert_id, for_update=True)
    if row is None or not caller.can_see_source(row["source"]):
        raise NotFound(f"no alert {alert_id}")
    if row["acknowledged_at"] is not None:
        return AlertPublic(**row)
    if row["state"] == "resolved":
        raise Conflict(
            f"alert {alert_id} was resolved when its run ended ({row['final_state']}); nothing to acknowledge"
        )
    alert = AlertPublic(**await repo.acknowledge(alert_id, caller.sub, note, datetime.now(UTC)))
    await publish(session, "alert.acknowledged", [alert])
    return alert


async def resolve_ended_runs(session: AsyncSession, run_ids: Sequence[str]) -> int:
    """Resolve the alerts of those runs that have ended (called by the writer of the runs, in its transaction)."""
    return await AlertRepository(session).resolve_ended(run_ids)
