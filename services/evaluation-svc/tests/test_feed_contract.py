"""Feed contracts. As a producer (`evaluation_svc.feed`): the JSON Schema file is current and the alert events
the scanner, acknowledgements and run ends write (built in SQL) match it. As a consumer: the decoders of the
commitment-svc and tracking-svc feeds (`evaluation_svc.upstream`) read only fields those producers' schemas
declare, with compatible types, and decode the sample events their real code wrote."""

from typing import Any

import httpx
import pytest
from evalfactories import at, calendar_w, commitment, node_run, process
from evaluation_svc import feed
from evaluation_svc.alerts.service import scan_once
from evaluation_svc.readmodel.service import Projection
from evaluation_svc.rejudge.service import REQUESTED, apply_requested
from evaluation_svc.upstream import COMMITMENT_FEED, TRACKING_FEED, decode
from pledge_common.outbox import FeedEvent
from pledge_dev.feeds import decoder_mismatches, example_mismatches, load_examples, schema_drift, schema_errors
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


class TestConsumerContract:
    """evaluation reads the commitment-svc and tracking-svc feeds through `evaluation_svc.upstream`."""

    @pytest.mark.parametrize(
        ("producer", "decoders"), [("commitment-svc", COMMITMENT_FEED), ("tracking-svc", TRACKING_FEED)]
    )
    def test_the_decoders_read_only_what_the_producer_writes(self, producer: str, decoders: dict[str, Any]) -> None:
        assert decoder_mismatches(producer, decoders) == []

    async def test_the_producers_sample_events_decode_and_project(self, session: AsyncSession) -> None:
        def events(producer: str) -> list[FeedEvent]:
            return [
                FeedEvent(cursor=f"1:{n}", seq=n, type=e["type"], key=e["key"], payload=e["payload"], occurred_at="")
                for n, e in enumerate(load_examples(producer).values(), start=1)
            ]

        commitment_events, tracking_events = events("commitment-svc"), events("tracking-svc")
        for event in (*commitment_events, *tracking_events):
            assert decode(event) is not None, event.type
        projection = Projection()
        await projection.handle_commitment(session, [e for e in commitment_events if e.type != REQUESTED])
        await apply_requested(session, projection, commitment_events)
        await projection.handle_tracking(session, tracking_events)
        run = load_examples("tracking-svc")["node_run.upserted"]["payload"]
        stored = await session.scalar(text("SELECT process_key FROM node_runs WHERE id = :i"), {"i": run["id"]})
        assert stored == run["process_key"]
        calendar = load_examples("commitment-svc")["calendar.upserted"]["payload"]
        assert await session.scalar(text("SELECT timezone FROM ref_calendars WHERE key = :k"), {"k": calendar["key"]})
