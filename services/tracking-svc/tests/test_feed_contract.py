"""The feed's contract (`tracking_svc.feed`): its JSON Schema file is current, and every event ingest writes —
built in SQL by `to_json` of rows, or encoded for runs created by COPY — is one the schema accepts."""

import httpx
import msgspec
from conftest import ev, fact, feed
from pledge_common.outbox import FeedEvent
from pledge_dev.feeds import (
    decoder_mismatches,
    example_mismatches,
    load_examples,
    load_schema,
    schema_drift,
    schema_errors,
)
from sqlalchemy.ext.asyncio import AsyncSession
from test_bulk import day
from tracking_svc import feed as contract
from tracking_svc.catalogue.consumer import apply_commitment_events
from tracking_svc.catalogue.repository import known_process
from tracking_svc.catalogue.upstream import DECODERS

SERVICE = "tracking-svc"
# Issue 20: commitment-svc adds `service.upserted` in the same release. Until its schema declares the type, the
# consumer is built to the contract (tests/test_facts.py feeds it); once declared, it is checked here.
AWAITED = {"service.upserted"}


class TestFeedContract:
    def test_the_schema_file_is_current(self) -> None:
        assert schema_drift(SERVICE, contract.schema()) is None, schema_drift(SERVICE, contract.schema())

    async def test_every_event_ingest_writes_matches_the_schema(
        self, client: httpx.AsyncClient, session: AsyncSession, catalogue: None, services: None
    ) -> None:
        facts = [
            fact("f1", "outage.started", 0, outage_ref="o-1", summary="core router down"),
            fact("f2", "outage.ended", 1, outage_ref="o-1"),
            fact("f3", "sample.recorded", 1, obligation="peak-concurrent-users", value=812),
            fact("f4", "occurrence.recorded", 2, service="backup", obligation="db-backup", evidence="s3://b/1"),
            fact("f5", "deliverable.delivered", 3, obligation="staff-training", evidence="https://x/report.pdf"),
            fact("f6", "deliverable.signed_off", 4, obligation="staff-training", signed_by="li.wei"),
        ]
        response = await client.post("/v1/service-facts/bulk", json=facts)
        assert response.json()["accepted"] == len(facts), response.text
        assert (await client.post("/v1/events/bulk", json=day(2))).status_code == 200
        for event in (  # one at a time, a late start, a pause left open, a cancellation ending its runs
            ev("L-o", "ticket.opened", 0, external_id="L", ticket={"segment": "vip", "customer": "c-1"}),
            ev("L-c1", "node.completed", 1, "accept", external_id="L"),
            ev("L-s1", "node.started", 0.5, "accept", external_id="L"),
            ev("L-s2", "node.started", 1, "dispatch", external_id="L"),
            ev("L-p2", "node.paused", 2, "dispatch", external_id="L", reason="awaiting-customer"),
            ev("L-x", "ticket.cancelled", 3, external_id="L"),
        ):
            response = await client.post("/v1/events", json=event)
            assert response.status_code in (200, 201, 202), response.text
        events = await feed(session)
        assert {e["type"] for e in events} == set(contract.EVENTS)
        assert any(e["payload"]["pauses"] for e in events if e["type"] == "ticket.upserted")
        assert any(e["payload"]["ended_by_ticket"] for e in events if e["type"] == "node_run.upserted")
        assert schema_errors(contract.schema(), events) == []
        assert example_mismatches(SERVICE, contract.schema(), events) == []

    def test_a_payload_the_schema_refuses_is_reported(self) -> None:
        wrong = {"type": "node_run.upserted", "key": "r", "payload": {"id": "r", "cycle": "one"}}
        assert schema_errors(contract.schema(), [wrong]) != []


class TestConsumerContract:
    """tracking reads commitment-svc's feed through `tracking_svc.catalogue.upstream`."""

    def test_the_decoders_read_only_what_commitment_svc_writes(self) -> None:
        declared = load_schema("commitment-svc")["x-event-types"]
        checked = {t: d for t, d in DECODERS.items() if t in declared or t not in AWAITED}
        assert decoder_mismatches("commitment-svc", checked) == []

    def test_a_decoder_reading_a_field_the_producer_lacks_is_reported(self) -> None:
        class Wishful(msgspec.Struct):
            key: str
            colour: str
            nodes: list[int]

        problems = decoder_mismatches("commitment-svc", {"process.upserted": Wishful})
        assert any("colour" in p for p in problems), problems
        assert any("nodes[]" in p for p in problems), problems

    async def test_the_sample_events_of_commitment_svc_decode_and_apply(self, session: AsyncSession) -> None:
        samples = load_examples("commitment-svc")
        events = [
            FeedEvent(cursor=f"1:{n}", seq=n, type=e["type"], key=e["key"], payload=e["payload"], occurred_at="")
            for n, e in enumerate(samples.values(), start=1)
        ]
        for event in events:
            if event.type in DECODERS:
                msgspec.convert(event.payload, DECODERS[event.type], strict=False)
        await apply_commitment_events(session, events)
        process = samples["process.upserted"]["payload"]
        known = await known_process(session, process["key"])
        assert known is not None
        assert [n["key"] for n in known[1]] == [n["key"] for n in process["nodes"]]
