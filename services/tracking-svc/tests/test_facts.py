"""`POST /v1/service-facts`, `/v1/service-facts/bulk` and `GET /v1/outages`, on a real Postgres."""

import random
from itertools import permutations
from typing import Any

import httpx
import pytest
from conftest import T0, at, caller_headers, fact, feed, service_upserted
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from tracking_svc.catalogue.consumer import apply_commitment_events
from tracking_svc.config import Settings
from tracking_svc.facts.repository import FEW_KEYS

pytestmark = pytest.mark.usefixtures("services")


async def outages(session: AsyncSession) -> list[tuple[Any, ...]]:
    rows = await session.execute(
        text("SELECT service_key, outage_ref, started_at, ended_at, planned, weight FROM outages ORDER BY outage_ref")
    )
    return [tuple(r) for r in rows]


class TestServicesCatalogue:
    async def test_a_fact_for_a_service_not_in_the_catalogue_is_a_422_naming_service(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post("/v1/service-facts", json=fact("f1", "outage.started", 0, "mail", outage_ref="o"))
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "service"

    async def test_service_upserted_makes_the_service_known(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await apply_commitment_events(session, [service_upserted("mail")])
        response = await client.post("/v1/service-facts", json=fact("f1", "outage.started", 0, "mail", outage_ref="o"))
        assert response.status_code == 201, response.text

    async def test_a_later_upsert_replaces_the_service_fields(self, session: AsyncSession) -> None:
        await apply_commitment_events(session, [service_upserted("mail"), service_upserted("mail", "retired")])
        assert await session.scalar(text("SELECT status FROM known_services WHERE key = 'mail'")) == "retired"


class TestEveryFactType:
    async def test_an_outage_start_and_end_make_one_outage_on_the_feed(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        started = fact("f1", "outage.started", 0, outage_ref="o-1", planned=True, weight=0.5, summary="degraded")
        assert (await client.post("/v1/service-facts", json=started)).status_code == 201
        response = await client.post("/v1/service-facts", json=fact("f2", "outage.ended", 2, outage_ref="o-1"))
        assert response.status_code == 201
        assert response.json() == {
            "source": "monitoring",
            "external_id": "f2",
            "type": "outage.ended",
            "service": "core-network",
            "status": "accepted",
        }
        assert await outages(session) == [
            ("core-network", "o-1", T0, T0.replace(hour=4), True, 0.5),
        ]
        events = [e["payload"] for e in await feed(session, "outage.upserted")]
        assert [(e["started_at"], e["ended_at"]) for e in events] == [
            ("2026-03-03T02:00:00+00:00", None),
            ("2026-03-03T02:00:00+00:00", "2026-03-03T04:00:00+00:00"),
        ]
        assert events[0]["id"] == events[1]["id"]

    async def test_a_sample_is_recorded_with_its_value(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        body = fact("s1", "sample.recorded", 1, obligation="peak-concurrent-users", value=812.5)
        assert (await client.post("/v1/service-facts", json=body)).status_code == 201
        (event,) = await feed(session, "sample.recorded")
        assert event["payload"]["value"] == 812.5
        assert event["payload"]["obligation_key"] == "peak-concurrent-users"
        assert event["payload"]["at"] == "2026-03-03T03:00:00+00:00"

    async def test_an_occurrence_is_recorded(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        body = fact("b1", "occurrence.recorded", 1, service="backup", obligation="db-backup", evidence="s3://b/1")
        assert (await client.post("/v1/service-facts", json=body)).status_code == 201
        assert await session.scalar(text("SELECT evidence FROM occurrences")) == "s3://b/1"
        (event,) = await feed(session, "occurrence.recorded")
        assert event["payload"]["service_key"] == "backup"

    async def test_a_deliverable_signed_off_before_its_delivery_arrives_keeps_both(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        signed = fact("d2", "deliverable.signed_off", 5, obligation="staff-training", signed_by="li.wei")
        delivered = fact("d1", "deliverable.delivered", 4, obligation="staff-training", evidence="https://x/r.pdf")
        assert (await client.post("/v1/service-facts", json=signed)).status_code == 201
        assert (await client.post("/v1/service-facts", json=delivered)).status_code == 201
        last = (await feed(session, "deliverable.upserted"))[-1]["payload"]
        assert (last["delivered_at"], last["signed_off_at"], last["signed_by"], last["evidence"]) == (
            "2026-03-03T06:00:00+00:00",
            "2026-03-03T07:00:00+00:00",
            "li.wei",
            "https://x/r.pdf",
        )

    async def test_a_delivery_needs_its_evidence(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/service-facts", json=fact("d1", "deliverable.delivered", 4, obligation="staff-training")
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "evidence"

    @pytest.mark.parametrize("weight", [0, 1.5, -1])
    async def test_a_weight_outside_0_to_1_is_a_422_naming_it(self, client: httpx.AsyncClient, weight: float) -> None:
        body = fact("f1", "outage.started", 0, outage_ref="o", weight=weight)
        response = await client.post("/v1/service-facts", json=body)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "weight"

    async def test_a_field_of_another_type_is_refused(self, client: httpx.AsyncClient) -> None:
        body = fact("s1", "sample.recorded", 1, obligation="x", value=1, outage_ref="o")
        response = await client.post("/v1/service-facts", json=body)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "outage_ref"

    async def test_a_fact_in_the_future_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/service-facts", json=fact("s1", "sample.recorded", 1e5, obligation="x", value=1)
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "occurred_at"


class TestDuplicatesAndOrder:
    async def test_the_same_fact_again_is_a_duplicate_that_changes_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        body = fact("s1", "sample.recorded", 1, obligation="peak-concurrent-users", value=3)
        assert (await client.post("/v1/service-facts", json=body)).status_code == 201
        again = await client.post("/v1/service-facts", json={**body, "occurred_at": "2026-03-03T11:00:00+08:00"})
        assert again.status_code == 200
        assert again.json()["status"] == "duplicate"
        assert await session.scalar(text("SELECT count(*) FROM samples")) == 1
        assert len(await feed(session, "sample.recorded")) == 1

    async def test_the_same_external_id_with_another_content_is_a_409(self, client: httpx.AsyncClient) -> None:
        body = fact("s1", "sample.recorded", 1, obligation="peak-concurrent-users", value=3)
        assert (await client.post("/v1/service-facts", json=body)).status_code == 201
        response = await client.post("/v1/service-facts", json={**body, "value": 4})
        assert response.status_code == 409
        assert response.json()["errors"][0]["field"] == "external_id"

    async def test_an_end_before_its_start_arrives_is_kept_and_joined_by_it(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        assert (
            await client.post("/v1/service-facts", json=fact("e", "outage.ended", 3, outage_ref="o"))
        ).status_code == 201
        assert (await outages(session))[0][2:4] == (None, T0.replace(hour=5))
        assert (
            await client.post("/v1/service-facts", json=fact("s", "outage.started", 1, outage_ref="o"))
        ).status_code == 201
        assert (await outages(session))[0][2:4] == (T0.replace(hour=3), T0.replace(hour=5))

    async def test_a_second_start_at_another_instant_is_a_409(self, client: httpx.AsyncClient) -> None:
        await client.post("/v1/service-facts", json=fact("s1", "outage.started", 1, outage_ref="o"))
        response = await client.post("/v1/service-facts", json=fact("s2", "outage.started", 2, outage_ref="o"))
        assert response.status_code == 409
        assert response.json()["errors"][0]["field"] == "occurred_at"

    async def test_an_end_before_the_start_instant_is_a_422(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await client.post("/v1/service-facts", json=fact("s1", "outage.started", 2, outage_ref="o"))
        response = await client.post("/v1/service-facts", json=fact("e1", "outage.ended", 1, outage_ref="o"))
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "occurred_at"
        assert (await outages(session))[0][3] is None
        assert await session.scalar(text("SELECT count(*) FROM service_facts")) == 1  # nothing half-written

    @pytest.mark.parametrize("order", list(permutations(range(4))))
    async def test_any_arrival_order_of_two_outages_gives_the_same_rows(
        self, client: httpx.AsyncClient, session: AsyncSession, order: tuple[int, ...]
    ) -> None:
        facts = [
            fact("a-s", "outage.started", 0, outage_ref="a"),
            fact("a-e", "outage.ended", 1, outage_ref="a"),
            fact("b-s", "outage.started", 2, outage_ref="b", weight=0.25),
            fact("b-e", "outage.ended", 2.5, outage_ref="b"),
        ]
        split = random.Random(sum(order)).randint(0, 4)  # some in one request, the others in a bulk
        for i in order[:split]:
            assert (await client.post("/v1/service-facts", json=facts[i])).status_code == 201
        bulk = await client.post("/v1/service-facts/bulk", json=[facts[i] for i in order[split:]])
        assert bulk.status_code == 200
        assert await outages(session) == [
            ("core-network", "a", T0, T0.replace(hour=3), False, 1.0),
            ("core-network", "b", T0.replace(hour=4), T0.replace(hour=4, minute=30), False, 0.25),
        ]


class TestBulk:
    async def test_each_item_is_answered_on_its_own(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        items: list[Any] = [
            fact("s1", "sample.recorded", 1, obligation="u", value=1),
            fact("s2", "sample.recorded", 1, service="mail", obligation="u", value=1),
            fact("s1", "sample.recorded", 1, obligation="u", value=1),  # a copy inside the array
            {"source": "monitoring", "external_id": "x", "type": "outage.exploded"},
            fact("o-e", "outage.ended", 1, outage_ref="o"),
            fact("o-s", "outage.started", 2, outage_ref="o"),  # after its end: refused
            "not an object",
            fact("s3", "sample.recorded", 1, obligation="u", value=1, source="other"),
        ]
        response = await client.post("/v1/service-facts/bulk", json=items)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["accepted"], body["duplicates"], body["rejected"]) == (3, 1, 4)
        results = [(i["status"], (i["error"] or {}).get("field")) for i in body["items"]]
        assert results == [
            ("accepted", None),
            ("rejected", "service"),
            ("duplicate", None),
            ("rejected", "type"),
            ("accepted", None),
            ("rejected", "occurred_at"),
            ("rejected", "body"),
            ("accepted", None),
        ]
        assert body["items"][1]["external_id"] == "s2"
        assert await session.scalar(text("SELECT count(*) FROM samples")) == 2

    async def test_a_source_the_caller_may_not_write_is_rejected_per_item(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        items = [
            fact("s1", "sample.recorded", 1, obligation="u", value=1),
            fact("s2", "sample.recorded", 1, obligation="u", value=1, source="other"),
        ]
        response = await client.post(
            "/v1/service-facts/bulk", json=items, headers=caller_headers(settings, {"monitoring"})
        )
        assert [i["status"] for i in response.json()["items"]] == ["accepted", "rejected"]
        assert response.json()["items"][1]["error"]["status"] == 403

    async def test_a_bulk_of_many_outages_takes_one_lock_and_writes_them_all(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        items = [
            fact(f"o{i}-{end}", f"outage.{end}", 1 + (end == "ended"), outage_ref=f"o{i}")
            for i in range(FEW_KEYS)
            for end in ("ended", "started")
        ]
        response = await client.post("/v1/service-facts/bulk", json=items)
        assert response.json()["accepted"] == 2 * FEW_KEYS
        held = await session.scalar(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        )
        assert held == 1  # the ingest lock alone, not one per key: Postgres's lock table is shared and bounded
        assert await session.scalar(text("SELECT count(*) FROM outages WHERE started_at < ended_at")) == FEW_KEYS

    async def test_more_items_than_the_maximum_is_a_413(self, client: httpx.AsyncClient, settings: Settings) -> None:
        settings.bulk_max_items = 2
        items = [fact(f"s{i}", "sample.recorded", 1, obligation="u", value=i) for i in range(3)]
        response = await client.post("/v1/service-facts/bulk", json=items)
        assert response.status_code == 413

    async def test_an_item_nested_in_depth_is_rejected_alone(self, client: httpx.AsyncClient) -> None:
        deep = {**fact("s1", "sample.recorded", 1, obligation="u", value=1), "value": [[[[1]]]]}
        response = await client.post(
            "/v1/service-facts/bulk", json=[deep, fact("s2", "sample.recorded", 1, obligation="u", value=1)]
        )
        assert [i["status"] for i in response.json()["items"]] == ["rejected", "accepted"]

    async def test_not_an_array_is_a_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/service-facts/bulk", json={"a": 1})
        assert response.status_code == 422

    async def test_an_idempotency_key_replays_the_first_answer(self, client: httpx.AsyncClient) -> None:
        items = [fact("s1", "sample.recorded", 1, obligation="u", value=1)]
        first = await client.post("/v1/service-facts/bulk", json=items, headers={"Idempotency-Key": "k1"})
        again = await client.post("/v1/service-facts/bulk", json=items, headers={"Idempotency-Key": "k1"})
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.json() == first.json()
        assert first.json()["accepted"] == 1


class TestListOutages:
    async def test_outages_overlapping_the_window_are_listed_in_pages(self, client: httpx.AsyncClient) -> None:
        facts = [
            fact("a-s", "outage.started", 0, outage_ref="a"),
            fact("a-e", "outage.ended", 1, outage_ref="a"),
            fact("b-s", "outage.started", 5, outage_ref="b"),  # still down
            fact("c-e", "outage.ended", 7, outage_ref="c"),  # its start not arrived yet
            fact("d-s", "outage.started", 30, outage_ref="d"),  # after the window
            fact("e-s", "outage.started", 2, service="backup", outage_ref="e"),
        ]
        assert (await client.post("/v1/service-facts/bulk", json=facts)).json()["accepted"] == 6
        query = {"service": "core-network", "from": at(0.5), "to": at(24), "limit": 2}
        first = await client.get("/v1/outages", params=query)
        assert first.status_code == 200, first.text
        assert [o["outage_ref"] for o in first.json()["items"]] == ["a", "b"]
        assert first.json()["items"][0]["ended_at"] == "2026-03-03T03:00:00Z"
        assert 'rel="next"' in first.headers["link"]
        second = await client.get("/v1/outages", params={**query, "cursor": first.json()["next_cursor"]})
        assert [o["outage_ref"] for o in second.json()["items"]] == ["c"]
        assert second.json()["next_cursor"] is None
        everything = await client.get("/v1/outages", params={"from": at(0), "to": at(48)})
        assert [o["outage_ref"] for o in everything.json()["items"]] == ["a", "e", "b", "c", "d"]

    async def test_a_key_bound_to_sources_sees_the_outages_its_sources_reported(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        facts = [
            fact("a-s", "outage.started", 0, outage_ref="a"),
            fact("b-s", "outage.started", 1, outage_ref="b", source="nms"),
            fact("b-e", "outage.ended", 2, outage_ref="b"),  # reported by both
        ]
        assert (await client.post("/v1/service-facts/bulk", json=facts)).json()["accepted"] == 3
        window = {"from": at(0), "to": at(24)}
        nms = await client.get("/v1/outages", params=window, headers=caller_headers(settings, {"nms"}))
        other = await client.get("/v1/outages", params=window, headers=caller_headers(settings, {"crm"}))
        assert [o["outage_ref"] for o in nms.json()["items"]] == ["b"]
        assert other.json()["items"] == []

    async def test_a_window_ending_before_it_starts_is_a_422_naming_to(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/outages", params={"from": at(2), "to": at(1)})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "query.to"

    async def test_the_window_is_required(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/outages", params={"from": at(2)})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "query.to"


class TestScopes:
    async def test_writing_facts_needs_events_write(self, client: httpx.AsyncClient, settings: Settings) -> None:
        from pledge_common.identity import Caller, identity_headers

        reader = Caller(sub="r", kind="key", scopes=frozenset({"tickets:read"}), sources=None)
        headers = identity_headers(reader, settings.service_token)
        body = fact("s1", "sample.recorded", 1, obligation="u", value=1)
        assert (await client.post("/v1/service-facts", json=body, headers=headers)).status_code == 403
        assert (await client.post("/v1/service-facts/bulk", json=[body], headers=headers)).status_code == 403
        listed = await client.get("/v1/outages", params={"from": at(0), "to": at(1)}, headers=headers)
        assert listed.status_code == 200
