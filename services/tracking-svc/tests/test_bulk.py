"""POST /v1/events/bulk: JSON arrays and NDJSON streams, partial failure, atomic, Idempotency-Key."""

import json
from typing import Any

import httpx
import pytest
from conftest import ev, feed
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

pytestmark = pytest.mark.usefixtures("catalogue")
NDJSON = {"content-type": "application/x-ndjson"}


def day(n: int = 3) -> list[dict[str, Any]]:
    """A small day: n tickets opened, accepted, dispatched (one paused and resumed), closed."""
    events: list[dict[str, Any]] = []
    for t in range(n):
        wo = f"WO-{t}"
        events += [
            ev(f"{wo}-o", "ticket.opened", 0, external_id=wo, ticket={"segment": "residential"}),
            ev(f"{wo}-s1", "node.started", 0, "accept", external_id=wo),
            ev(f"{wo}-c1", "node.completed", 0.5, "accept", external_id=wo),
            ev(f"{wo}-s2", "node.started", 0.5, "dispatch", external_id=wo),
            ev(f"{wo}-p2", "node.paused", 1, "dispatch", external_id=wo, reason="awaiting-customer"),
            ev(f"{wo}-r2", "node.resumed", 2, "dispatch", external_id=wo),
            ev(f"{wo}-c2", "node.completed", 3, "dispatch", external_id=wo),
            ev(f"{wo}-x", "ticket.closed", 3, external_id=wo),
        ]
    return events


def ndjson(items: list[Any]) -> bytes:
    return b"".join((i if isinstance(i, bytes) else json.dumps(i).encode()) + b"\n" for i in items)


async def count(session: AsyncSession, table: str) -> int:
    return int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


class TestBulkArray:
    async def test_a_day_in_order_is_accepted_and_read_back(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/events/bulk", json=day())
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["accepted"], body["duplicates"], body["rejected"]) == (24, 0, 0)
        assert [i["index"] for i in body["items"]] == list(range(24))
        detail = (await client.get("/v1/tickets/crm:WO-2")).json()
        assert detail["status"] == "closed"
        assert [(r["node"], r["status"], len(r["pauses"])) for r in detail["node_runs"]] == [
            ("accept", "completed", 1 - 1),
            ("dispatch", "completed", 1),
        ]

    async def test_reversed_day_gives_the_same_truth(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/events/bulk", json=list(reversed(day(1))))
        assert response.json()["accepted"] == 8
        detail = (await client.get("/v1/tickets/crm:WO-0")).json()
        assert detail["status"] == "closed"
        assert detail["opened_at"] == "2026-03-03T02:00:00Z"
        assert [(r["node"], r["status"], r["started_at"]) for r in detail["node_runs"]] == [
            ("accept", "completed", "2026-03-03T02:00:00Z"),
            ("dispatch", "completed", "2026-03-03T02:30:00Z"),
        ]

    async def test_bad_items_are_rejected_with_reasons_and_the_others_accepted(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        items: list[Any] = [
            ev("a", "node.started", 0, "accept"),
            ev("b", "node.started", 0, "warp"),
            "not an object",
            {**ev("c", "ticket.opened", 0), "extra": 1},
            ev("d", "node.completed", 1, "accept"),
            ev("a", "node.started", 0, "accept"),
            ev("a", "node.started", 5, "accept"),
        ]
        body = (await client.post("/v1/events/bulk", json=items)).json()
        assert [(i["status"], (i["error"] or {}).get("field")) for i in body["items"]] == [
            ("accepted", None),
            ("rejected", "node"),
            ("rejected", "body"),
            ("rejected", "extra"),
            ("accepted", None),
            ("duplicate", None),
            ("rejected", "event_id"),
        ]
        assert body["items"][6]["error"]["status"] == 409
        assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 4)
        assert await count(session, "events") == 2

    async def test_atomic_refuses_everything_when_one_item_is_bad(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        items = [*day(1), ev("bad", "node.started", 0, "warp")]
        response = await client.post("/v1/events/bulk", params={"atomic": "true"}, json=items)
        assert response.status_code == 422
        assert response.json()["errors"] == [
            {"field": "items[8].node", "message": "unknown node warp of process fault-repair", "status": 422}
        ]
        assert await count(session, "events") == 0
        assert await count(session, "tickets") == 0
        assert await feed(session) == []

    async def test_atomic_accepts_a_clean_batch(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/events/bulk", params={"atomic": "true"}, json=day(1))
        assert response.json()["accepted"] == 8

    async def test_replay_is_all_duplicates_and_writes_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await client.post("/v1/events/bulk", json=day())
        events, outbox = await count(session, "events"), await count(session, "outbox")
        body = (await client.post("/v1/events/bulk", json=day())).json()
        assert (body["accepted"], body["duplicates"]) == (0, 24)
        assert all(i["ticket_id"] for i in body["items"])
        assert (await count(session, "events"), await count(session, "outbox")) == (events, outbox)

    async def test_replay_of_a_request_mixing_partner_systems_is_all_duplicates(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        items = [
            ev("same-id", "ticket.opened", 0, source="crm"),
            ev("same-id", "ticket.opened", 0, source="field-service"),
            ev("fs-2", "node.started", 1, "accept", source="field-service"),
        ]
        first = (await client.post("/v1/events/bulk", json=items)).json()
        assert (first["accepted"], first["duplicates"]) == (3, 0)
        again = (await client.post("/v1/events/bulk", json=items)).json()
        assert (again["accepted"], again["duplicates"]) == (0, 3)
        assert [i["ticket_id"] for i in again["items"]] == [i["ticket_id"] for i in first["items"]]
        changed = [{**items[1], "occurred_at": items[2]["occurred_at"]}]
        conflict = (await client.post("/v1/events/bulk", json=changed)).json()["items"][0]
        expected = ("rejected", "field-service", 409)
        assert (conflict["status"], conflict["source"], conflict["error"]["status"]) == expected
        assert await count(session, "events") == 3

    async def test_more_items_than_the_maximum_is_413(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        app.state.settings.bulk_max_items = 5
        response = await client.post("/v1/events/bulk", json=day(1))
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"

    async def test_body_that_is_not_an_array_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/events/bulk", json={"events": []})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body"

    async def test_other_media_type_is_415(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/events/bulk", content=b"x", headers={"content-type": "text/csv"})
        assert response.status_code == 415


class TestIdempotencyKey:
    async def test_same_key_and_body_gives_the_same_answer(self, client: httpx.AsyncClient) -> None:
        headers = {"Idempotency-Key": "batch-1"}
        first = await client.post("/v1/events/bulk", json=day(1), headers=headers)
        again = await client.post("/v1/events/bulk", json=day(1), headers=headers)
        assert again.status_code == first.status_code == 200
        assert again.json() == first.json()
        assert again.json()["accepted"] == 8
        assert again.headers["Idempotent-Replayed"] == "true"

    async def test_same_key_with_another_body_is_422(self, client: httpx.AsyncClient) -> None:
        headers = {"Idempotency-Key": "batch-1"}
        await client.post("/v1/events/bulk", json=day(1), headers=headers)
        response = await client.post("/v1/events/bulk", json=day(2), headers=headers)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "header.Idempotency-Key"

    async def test_same_key_and_ndjson_body_gives_the_same_answer(self, client: httpx.AsyncClient) -> None:
        headers = {"Idempotency-Key": "stream-1", **NDJSON}
        first = await client.post("/v1/events/bulk", content=ndjson(day(1)), headers=headers)
        again = await client.post("/v1/events/bulk", content=ndjson(day(1)), headers=headers)
        assert again.json() == first.json()
        other = await client.post("/v1/events/bulk", content=ndjson(day(2)), headers=headers)
        assert other.status_code == 422

    async def test_a_key_expires_and_its_answer_is_then_not_replayed(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        headers = {"Idempotency-Key": "batch-ttl"}
        await client.post("/v1/events/bulk", json=day(1), headers=headers)
        kept = await session.scalar(text("SELECT expires_at - created_at FROM idempotency_keys"))
        assert kept is not None
        assert kept.total_seconds() == 24 * 3600
        expire = "UPDATE idempotency_keys SET created_at = now() - interval '2 days', expires_at = created_at"
        await session.execute(text(expire))
        again = await client.post("/v1/events/bulk", json=day(1), headers=headers)
        assert "Idempotent-Replayed" not in again.headers
        assert again.json()["duplicates"] == 8
        assert await session.scalar(text("SELECT count(*) FROM idempotency_keys WHERE expires_at > now()")) == 1


class TestSingleEventKey:
    async def test_same_key_and_event_replays_the_first_answer(self, client: httpx.AsyncClient) -> None:
        headers = {"Idempotency-Key": "one-event"}
        first = await client.post("/v1/events", json=ev("k1", "ticket.opened", 0), headers=headers)
        again = await client.post("/v1/events", json=ev("k1", "ticket.opened", 0), headers=headers)
        assert first.status_code == again.status_code == 201, first.text
        assert again.content == first.content
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Pledge-Duplicate" not in again.headers

    async def test_another_event_under_the_same_key_is_422_and_not_recorded(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        headers = {"Idempotency-Key": "one-event"}
        await client.post("/v1/events", json=ev("k1", "ticket.opened", 0), headers=headers)
        other = await client.post("/v1/events", json=ev("k2", "ticket.opened", 0, external_id="WO-2"), headers=headers)
        assert other.status_code == 422
        assert other.json()["errors"][0]["field"] == "header.Idempotency-Key"
        assert await session.scalar(text("SELECT count(*) FROM events WHERE event_id = 'k2'")) == 0


class TestBulkNdjson:
    async def test_chunks_of_one_stream_see_each_other(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        app.state.settings.ingest_chunk_size = 3
        response = await client.post("/v1/events/bulk", content=ndjson(list(reversed(day(2)))), headers=NDJSON)
        assert response.json()["accepted"] == 16
        detail = (await client.get("/v1/tickets/crm:WO-1")).json()
        assert [r["status"] for r in detail["node_runs"]] == ["completed", "completed"]
        assert detail["status"] == "closed"

    async def test_stream_is_processed_in_chunks_and_lists_only_non_accepted_items(
        self, client: httpx.AsyncClient, app: FastAPI, session: AsyncSession
    ) -> None:
        app.state.settings.ingest_chunk_size = 4
        items: list[Any] = [*day(2)]
        items.insert(5, b"{not json")
        items.insert(9, ev("bad", "node.started", 0, "warp"))
        items.append(day(1)[0])  # a duplicate of the first line

        async def stream() -> Any:
            payload = ndjson(items) + b"\n\n"  # blank lines are skipped
            for start in range(0, len(payload), 37):  # arbitrary network pieces, cutting lines
                yield payload[start : start + 37]

        response = await client.post("/v1/events/bulk", content=stream(), headers=NDJSON)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["accepted"], body["duplicates"], body["rejected"]) == (16, 1, 2)
        assert [(i["index"], i["status"]) for i in body["items"]] == [
            (5, "rejected"),
            (9, "rejected"),
            (18, "duplicate"),
        ]
        assert body["items"][0]["error"]["field"] == "body"
        assert await count(session, "events") == 16

    async def test_atomic_stream_with_a_bad_line_writes_nothing(
        self, client: httpx.AsyncClient, app: FastAPI, session: AsyncSession
    ) -> None:
        app.state.settings.ingest_chunk_size = 4
        items: list[Any] = [*day(2), ev("bad", "node.started", 0, "warp")]
        response = await client.post(
            "/v1/events/bulk", params={"atomic": "true"}, content=ndjson(items), headers=NDJSON
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "items[16].node"
        assert await count(session, "events") == 0

    async def test_atomic_stream_refused_in_an_early_chunk_writes_nothing_of_the_later_ones(
        self, client: httpx.AsyncClient, app: FastAPI, session: AsyncSession
    ) -> None:
        # the chunks after the bad one are read and parsed while it is being written; none is written
        app.state.settings.ingest_chunk_size = 2
        items: list[Any] = [day(1)[0], ev("bad", "node.started", 0, "warp"), *day(1)[1:], *day(2)]
        response = await client.post(
            "/v1/events/bulk", params={"atomic": "true"}, content=ndjson(items), headers=NDJSON
        )
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["items[1].node"]
        assert await count(session, "events") == 0

    async def test_line_longer_than_the_limit_is_rejected_alone(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        app.state.settings.ndjson_max_line_bytes = 1024
        items: list[Any] = [day(1)[0], b'{"event_id": "' + b"x" * 5000 + b'"}', day(1)[1]]
        body = (await client.post("/v1/events/bulk", content=ndjson(items), headers=NDJSON)).json()
        assert (body["accepted"], body["rejected"]) == (2, 1)
        assert body["items"][0]["index"] == 1
        assert "longer than" in body["items"][0]["error"]["detail"]

    async def test_listed_items_are_capped(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        app.state.settings.ndjson_max_listed_items = 2
        items = [ev(f"b{i}", "node.started", 0, "warp") for i in range(5)]
        body = (await client.post("/v1/events/bulk", content=ndjson(items), headers=NDJSON)).json()
        assert (body["rejected"], len(body["items"]), body["items_truncated"]) == (5, 2, True)


class TestNulCharacter:
    """Postgres cannot store NUL (U+0000) in text or jsonb: an event holding one is refused on its own."""

    MESSAGE = "contains the NUL character (U+0000), which cannot be stored"

    def bad(self) -> list[dict[str, Any]]:
        return [
            ev("WO-9-o", "ticket.opened", 0, external_id="WO-9", ticket={"attributes": {"note": ["ok", "a\x00"]}}),
            ev("WO-9-p", "node.paused", 1, "dispatch", external_id="WO-9", reason="parts\x00"),
            ev("bad\x00id", "ticket.opened", 0, external_id="WO-10"),
        ]

    def assert_refused(self, items: list[dict[str, Any]], fields: dict[int, str]) -> None:
        for index, field in fields.items():
            item = items[index]
            assert item["status"] == "rejected", item
            assert item["error"] == {"status": 422, "field": field, "detail": self.MESSAGE}

    async def test_in_a_json_array_only_those_events_are_refused(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        good = day(1)
        response = await client.post("/v1/events/bulk", json=[*good[:2], *self.bad(), *good[2:]])
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["accepted"], body["rejected"]) == (8, 3)
        self.assert_refused(body["items"], {2: "ticket.attributes.note.1", 3: "reason", 4: "event_id"})
        assert body["items"][2]["event_id"] == "WO-9-o"
        assert body["items"][4]["event_id"] is None  # an id that cannot be stored is not echoed either
        assert await count(session, "events") == 8
        assert (await client.get("/v1/tickets/crm:WO-0")).json()["status"] == "closed"

    async def test_in_an_ndjson_stream_and_under_an_idempotency_key(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        headers = {**NDJSON, "Idempotency-Key": "nul-1"}
        payload = ndjson([*day(1), *self.bad()])
        first = await client.post("/v1/events/bulk", content=payload, headers=headers)
        assert first.status_code == 200, first.text
        body = first.json()
        assert (body["accepted"], body["rejected"]) == (8, 3)
        self.assert_refused(body["items"], {0: "ticket.attributes.note.1", 1: "reason", 2: "event_id"})
        again = await client.post("/v1/events/bulk", content=payload, headers=headers)
        assert again.json() == body
        assert again.headers["Idempotent-Replayed"] == "true"
        assert await count(session, "events") == 8

    async def test_a_single_event_and_the_queries(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        response = await client.post("/v1/events", json=ev("WO-1-o", "ticket.opened", 0, external_id="WO\x001"))
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"] == [{"field": "ticket.external_id", "message": self.MESSAGE}]
        assert await count(session, "events") == 0
        listed = await client.get("/v1/tickets", params={"source": "crm\x00"})
        assert listed.status_code == 422
        assert listed.json()["errors"][0]["field"] == "query.source"
        one = await client.get("/v1/tickets/crm:WO%001")
        assert one.status_code == 422
        assert one.json()["errors"][0]["field"] == "path"
