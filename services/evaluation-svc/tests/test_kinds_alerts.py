"""Alerts of service commitments: a missing occurrence as its due instants pass, and burn-rate alerts;
each recorded once while it fires, resolved when it stops, on the feed like every alert."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from evalfactories import agreement, kind_commitment, occurrence, outage, service
from evaluation_svc.kinds.alerts import scan_service_alerts
from evaluation_svc.readmodel.service import Projection
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

HOUR = timedelta(hours=1)
LATE_AFTER = timedelta(days=3650)  # these tests deliver what they raise, however old


def utc(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


async def alerts(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(
        text("SELECT node_run_id, cycle, level, kind, state, due_at FROM alerts ORDER BY raised_at, level")
    )
    return [dict(r) for r in rows.mappings()]


async def backup(session: AsyncSession) -> Projection:
    projection = Projection()
    commitment = kind_commitment(
        "c-backup",
        kind="frequency",
        key="backup",
        obligation_key="db-backup",
        commitment_limit="P2D",
        tolerance_limit="P3D",
        effective_from="2026-03-01T00:00:00+00:00",
        objective={"first_due_at": None},
    )
    await projection.handle_commitment(session, [service(), commitment])
    await projection.handle_tracking(session, [occurrence("b1", utc("2026-03-02T22:00"))])
    return projection


class TestMissingOccurrence:
    async def test_alerts_as_the_due_instants_pass_once_each(self, session: AsyncSession) -> None:
        await backup(session)
        assert await scan_service_alerts(session, utc("2026-03-04T21:59"), LATE_AFTER) == 0
        assert await scan_service_alerts(session, utc("2026-03-04T22:01"), LATE_AFTER) == 1
        assert await scan_service_alerts(session, utc("2026-03-04T23:00"), LATE_AFTER) == 0  # deduplicated
        assert await scan_service_alerts(session, utc("2026-03-05T22:01"), LATE_AFTER) == 1
        got = await alerts(session)
        assert [(a["level"], a["kind"], a["state"], a["due_at"]) for a in got] == [
            ("acceptable", "frequency", "open", utc("2026-03-04T22:00")),
            ("warning", "frequency", "open", utc("2026-03-05T22:00")),
        ]
        assert got[0]["node_run_id"] == "occurrence:c-backup:erp:2026-03-02T22:00:00+00:00"

    async def test_the_occurrence_resolves_them_and_the_next_interval_alerts_anew(self, session: AsyncSession) -> None:
        projection = await backup(session)
        await scan_service_alerts(session, utc("2026-03-05T22:01"), LATE_AFTER)
        await projection.handle_tracking(session, [occurrence("b2", utc("2026-03-06T08:00"))])
        await scan_service_alerts(session, utc("2026-03-06T09:00"), LATE_AFTER)
        assert {a["state"] for a in await alerts(session)} == {"resolved"}
        assert await scan_service_alerts(session, utc("2026-03-08T08:01"), LATE_AFTER) == 1
        assert (await alerts(session))[-1]["node_run_id"].endswith(":2026-03-06T08:00:00+00:00")

    async def test_the_feed_carries_raised_and_resolved(self, session: AsyncSession) -> None:
        projection = await backup(session)
        await scan_service_alerts(session, utc("2026-03-04T22:01"), LATE_AFTER)
        await projection.handle_tracking(session, [occurrence("b2", utc("2026-03-05T08:00"))])
        await scan_service_alerts(session, utc("2026-03-05T09:00"), LATE_AFTER)
        rows = await session.execute(text("SELECT type, payload FROM outbox ORDER BY seq"))
        events = [(r.type, r.payload["level"], r.payload["kind"], r.payload["state"]) for r in rows]
        assert events == [
            ("alert.raised", "acceptable", "frequency", "open"),
            ("alert.resolved", "acceptable", "frequency", "resolved"),
        ]


class TestBurnRate:
    async def test_an_outage_burning_the_budget_pages_once_and_resolves_when_it_slows(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = Projection()
        await projection.handle_commitment(
            session, [service(), kind_commitment(), agreement("sla-erp", covers=(("erp-uptime", 0.999),))]
        )
        t = utc("2026-06-10T12:00")
        await projection.handle_tracking(session, [outage("x", t - timedelta(minutes=70), t)])
        assert await scan_service_alerts(session, t, LATE_AFTER) == 1
        assert await scan_service_alerts(session, t + timedelta(minutes=1), LATE_AFTER) == 0
        [page] = await alerts(session)
        assert (page["node_run_id"], page["level"], page["cycle"]) == ("burn:c-erp-uptime-v1:erp", "page", 1)
        listed = await client.get("/v1/alerts", params={"level": "page"})
        assert listed.status_code == 200, listed.text
        [item] = listed.json()["items"]
        assert (item["kind"], item["commitment"], item["process"]) == ("availability", "erp-uptime", "")
        # an hour later the fast windows are clean: the page resolves, the 6 h & 3 d burn leaves a ticket
        assert await scan_service_alerts(session, t + 2 * HOUR, LATE_AFTER) == 1
        states = {(a["level"], a["state"]) for a in await alerts(session)}
        assert states == {("page", "resolved"), ("ticket", "open")}

    async def test_without_a_signed_agreement_nothing_burns(self, session: AsyncSession) -> None:
        projection = Projection()
        await projection.handle_commitment(session, [service(), kind_commitment()])
        t = utc("2026-06-10T12:00")
        await projection.handle_tracking(session, [outage("x", t - timedelta(minutes=70))])
        assert await scan_service_alerts(session, t, LATE_AFTER) == 0
