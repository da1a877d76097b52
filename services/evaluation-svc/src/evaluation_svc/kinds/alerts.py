"""The alerts of service commitments, raised by the alert scanner on each tick (docs/kinds.md "Alerts"):
the missing occurrence of a frequency commitment as its due instants pass, and the burn-rate alerts of an
availability commitment covered by a signed agreement (its target). One replica does it per tick (an advisory
lock); each alert is recorded once per (unit, level) while it fires, and resolves when it stops firing."""

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.alerts.repository import raise_service_alerts, resolve_service_alerts
from evaluation_svc.alerts.schemas import AlertPublic
from evaluation_svc.kinds.repository import KindsRepository
from evaluation_svc.kinds.service import LONGEST_WINDOW, calendars_of, latest_versions
from evaluation_svc.rules.kinds import (
    Outage,
    ServiceAlert,
    burn_alert,
    burn_rates,
    judge_intervals,
    missing_occurrence_alerts,
)
from evaluation_svc.webhooks.repository import WebhookRepository

LOCK = "SELECT pg_try_advisory_xact_lock(hashtext('evaluation.service-alerts'))"
INSTANT = timedelta(microseconds=1)


async def firing(session: AsyncSession, now: datetime) -> list[ServiceAlert]:
    """Every service alert that fires at `now`."""
    repo = KindsRepository(session)
    commitments = latest_versions(await repo.commitments(["frequency", "availability"], now, now + INSTANT))
    calendars = await calendars_of(session, commitments)
    alerts: list[ServiceAlert] = []
    frequency = [c for c in commitments if c.kind == "frequency"]
    last = await repo.occurrences({(c.service_key, c.obligation_key or "") for c in frequency}, now, now)
    for c in frequency:
        calendar = calendars.get(c.calendar_key)
        if calendar is None:
            continue
        previous, at_now = last.get((c.service_key, c.obligation_key or ""), (None, []))
        latest = max([*at_now, *([previous] if previous else [])], default=None)
        origin, first_due = c.effective_from or now, c.first_due_at
        if latest is not None and latest > origin:
            origin, first_due = latest, None
        try:
            [*_, open_interval] = judge_intervals([], calendar, c.gap_limits(), origin, now, first_due_at=first_due)
        except (ValueError, TypeError, OverflowError):
            continue
        alerts += missing_occurrence_alerts(c, open_interval, now)
    availability = [c for c in commitments if c.kind == "availability"]
    targets = await repo.targets(c.commitment_key for c in availability)
    recent: dict[str, list[Outage]] = {}
    for o in await repo.outages({c.service_key for c in availability}, now - LONGEST_WINDOW, now):
        recent.setdefault(o.service_key, []).append(o.outage)
    for c in availability:
        calendar, target = calendars.get(c.calendar_key), targets.get(c.commitment_key)
        if calendar is None or target is None or c.service_key not in recent:  # nothing can burn
            continue
        alert = burn_alert(c, burn_rates(recent[c.service_key], calendar, target, now), now)
        if alert is not None:
            alerts.append(alert)
    return alerts


async def scan_service_alerts(session: AsyncSession, now: datetime, late_after: timedelta) -> int:
    """Raise the service alerts firing at `now` and resolve those no longer firing; returns how many were raised."""
    if not await session.scalar(text(LOCK)):
        return 0  # another replica scans them in this tick
    alerts = await firing(session, now)
    services = await KindsRepository(session).services(a.service_key for a in alerts)
    rows = [
        {
            "unit": a.unit,
            "level": a.level,
            "kind": a.kind,
            "segment": services[a.service_key].segment if a.service_key in services else "default",
            "department": a.department,
            "commitment_id": a.commitment_id,
            "commitment_key": a.commitment_key,
            "due_at": a.due_at.isoformat(),
        }
        for a in alerts
    ]
    await resolve_service_alerts(session, [f"{a.unit}/{a.level}" for a in alerts], now)
    raised = await raise_service_alerts(session, rows, now, late_after.total_seconds())
    if raised:
        await WebhookRepository(session).enqueue("alert.raised", [AlertPublic(**r) for r in raised])
    return len(raised)
