"""Feed contracts. As a producer (`evaluation_svc.feed`): the JSON Schema file is current and the alert events
the scanner, acknowledgements and run ends write (built in SQL) match it. As a consumer: the decoders of the
commitment-svc and tracking-svc feeds (`evaluation_svc.upstream`) read only fields those producers' schemas
declare, with compatible types, and decode the sample events their real code wrote."""

import httpx
from evalfactories import at, calendar_w, commitment, node_run, process
from evaluation_svc import feed
from evaluation_svc.alerts.service import scan_once
from evaluation_svc.readmodel.service import Projection
from pledge_dev.feeds import example_mismatches, schema_drift, schema_errors
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

SERVICE = "evaluation-svc"


class TestProducerContract:
    def test_the_schema_file_is_current(self) -> None:
        assert schema_drift(SERVICE, feed.schema()) is None, schema_drift(SERVICE, feed.schema())

    async def test_every_alert_event_written_matches_the_schema(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = Projection()
        await projection.handle_commitment(session, [calendar_w(), process(), commitment()])
        await projection.handle_tracking(session, [node_run("a1", started=at("2026-03-03 10:00"))])
        await scan_once(session, at("2026-03-03 16:00"), 100)
        await scan_once(session, at("2026-03-03 17:30"), 100)
        [first] = (await client.get("/v1/alerts", params={"level": "prewarning"})).json()["items"]
        acked = await client.patch(f"/v1/alerts/{first['id']}", json={"state": "acknowledged", "note": "on it"})
        assert acked.status_code == 200, acked.text
        await projection.handle_tracking(
            session, [node_run("a1", started=at("2026-03-03 10:00"), completed=at("2026-03-03 17:45"))]
        )
        rows = await session.execute(text("SELECT type, key, payload FROM outbox ORDER BY seq"))
        events = [{"type": r.type, "key": r.key, "payload": r.payload} for r in rows]
        assert {e["type"] for e in events} == set(feed.EVENTS)
        assert schema_errors(feed.schema(), events) == []
        assert example_mismatches(SERVICE, feed.schema(), events) == []
