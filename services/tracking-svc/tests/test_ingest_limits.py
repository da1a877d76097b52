"""Ingest limits: free JSON nested too deep is refused per item, what was stored is always answered, JSON
arrays and atomic streams are bounded in bytes and time, and no client paces a write transaction."""

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from conftest import ev, process_upserted
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from tracking_svc.catalogue.consumer import apply_commitment_events
from tracking_svc.config import Settings
from tracking_svc.main import create_app

NDJSON = {"content-type": "application/x-ndjson"}
DEPTH_16 = "nested deeper than 16 levels of JSON arrays and objects"


def nested(depth: int) -> Any:
    """Attributes `depth` levels deep: {"k": [{"k": [...]}]}."""
    value: Any = 1
    for level in range(depth - 1):
        value = [value] if level % 2 == 0 else {"k": value}
    return {"k": value}


def deep_text(depth: int) -> str:
    """Attributes as JSON text, `depth` levels deep (past what json.dumps can write)."""
    return '{"k": ' + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "}"


def with_attributes(event: dict[str, Any], attributes_json: str) -> bytes:
    """The event's JSON text with `attributes_json` as its ticket's attributes."""
    text_ = json.dumps(event)
    assert text_.endswith("}}")  # the ticket is the last member
    return (text_[:-2] + ', "attributes": ' + attributes_json + "}}").encode()


def ndjson(items: list[Any]) -> bytes:
    return b"".join((i if isinstance(i, bytes) else json.dumps(i).encode()) + b"\n" for i in items)


async def count(session: AsyncSession, table: str) -> int:
    return int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


@pytest.mark.usefixtures("catalogue")
class TestDeepAttributes:
    async def test_attributes_at_the_limit_are_kept(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/events", json=ev("a", "ticket.opened", 0, ticket={"attributes": nested(16)}))
        assert response.status_code == 201, response.text
        assert (await client.get("/v1/tickets/crm:WO-1")).json()["attributes"] == nested(16)

    @pytest.mark.parametrize("depth", [17, 30, 300, 999, 1000, 5000])
    async def test_a_single_event_nested_too_deep_is_a_422_and_stores_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession, depth: int
    ) -> None:
        body = with_attributes(ev("a", "ticket.opened", 0), deep_text(depth))
        response = await client.post("/v1/events", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        (error,) = response.json()["errors"]
        assert error["field"].startswith("ticket.attributes")
        assert "nested deeper than" in error["message"]
        assert await count(session, "events") == 0

    async def test_an_array_item_nested_too_deep_is_rejected_alone(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        items = [
            json.dumps(ev("a", "ticket.opened", 0)).encode(),
            with_attributes(ev("b", "ticket.opened", 0, external_id="WO-2"), deep_text(5000)),
            with_attributes(ev("c", "ticket.opened", 0, external_id="WO-3"), deep_text(17)),
            json.dumps(ev("d", "node.started", 0, "accept")).encode(),
        ]
        body = b"[" + b",".join(items) + b"]"
        response = await client.post("/v1/events/bulk", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 200, response.text
        answer = response.json()
        assert (answer["accepted"], answer["rejected"]) == (2, 2)
        assert [(i["index"], i["status"]) for i in answer["items"]] == [
            (0, "accepted"),
            (1, "rejected"),
            (2, "rejected"),
            (3, "accepted"),
        ]
        for item in answer["items"][1:3]:
            assert item["error"] == {"status": 422, "field": "ticket.attributes", "detail": DEPTH_16}
        assert answer["items"][2]["event_id"] == "c"
        assert await count(session, "events") == 2

    async def test_an_ndjson_line_nested_too_deep_is_rejected_alone(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        lines = [
            ev("a", "ticket.opened", 0),
            with_attributes(ev("b", "ticket.opened", 0, external_id="WO-2"), deep_text(100_000)),
            with_attributes(ev("c", "ticket.opened", 0, external_id="WO-3"), deep_text(20)),
            ev("d", "node.started", 0, "accept"),
        ]
        response = await client.post("/v1/events/bulk", content=ndjson(lines), headers=NDJSON)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert (answer["accepted"], answer["rejected"]) == (2, 2)
        assert [(i["index"], i["error"]["field"]) for i in answer["items"]] == [
            (1, "ticket.attributes"),
            (2, "ticket.attributes"),
        ]
        assert await count(session, "events") == 2

    async def test_another_field_nested_too_deep_is_named(self, client: httpx.AsyncClient) -> None:
        item = json.dumps(ev("a", "node.started", 0)).replace('"type"', '"node": ' + "[" * 40 + "]" * 40 + ', "type"')
        response = await client.post("/v1/events/bulk", content=ndjson([item.encode()]), headers=NDJSON)
        (rejected,) = response.json()["items"]
        assert rejected["error"]["field"] == "node"


@pytest.mark.usefixtures("catalogue")
class TestStoredDeepValues:
    """Values stored before the limits existed (written here straight into the table) are still answered:
    each part below 128 levels as its JSON text."""

    @pytest.mark.parametrize("depth", [300, 3000])
    async def test_the_list_and_the_detail_answer_a_deep_stored_value(
        self, client: httpx.AsyncClient, session: AsyncSession, depth: int
    ) -> None:
        opened = ev("a", "ticket.opened", 0, ticket={"attributes": {"plain": "kept"}})
        assert (await client.post("/v1/events", json=opened)).status_code == 201
        await session.execute(
            text("UPDATE tickets SET attributes = CAST(:a AS jsonb)"),
            {"a": '{"plain": "kept", "deep": ' + "[" * depth + "]" * depth + "}"},
        )
        stored_event = with_attributes(ev("a", "ticket.opened", 0), deep_text(depth)).decode()
        await session.execute(text("UPDATE events SET body = CAST(:b AS json)"), {"b": stored_event})

        listed = await client.get("/v1/tickets")
        assert listed.status_code == 200, listed.text
        attributes = listed.json()["items"][0]["attributes"]
        assert attributes["plain"] == "kept"
        clipped: Any = attributes["deep"]
        for _ in range(127):  # the attributes object is level 1; levels 2 to 128 are kept as they are
            (clipped,) = clipped
        assert clipped == "[" * (depth - 127) + "]" * (depth - 127)

        detail = await client.get("/v1/tickets/crm:WO-1")
        assert detail.status_code == 200, detail.text
        (event,) = detail.json()["events"]
        assert event["body"]["event_id"] == "a"
        assert event["body"]["ticket"]["attributes"]["k"][0][0]  # kept down to level 128, then text


def slow_atomic_lines(n: int) -> list[bytes]:
    return [json.dumps(ev(f"a{i}", "ticket.opened", 0, external_id=f"A-{i}", source="crm")).encode() for i in range(n)]


class TestBodyBounds:
    @pytest.fixture(autouse=True)
    def small_arrays(self, app: FastAPI) -> None:
        settings: Settings = app.state.settings
        settings.bulk_max_items, settings.bulk_item_bytes = 4, 512  # arrays of at most 2 048 bytes

    @pytest.mark.usefixtures("catalogue")
    async def test_an_array_declared_larger_than_allowed_is_413_before_it_is_read(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        read: list[int] = []

        async def body() -> AsyncIterator[bytes]:
            for piece in (b"[", b"{}" + b", {}" * 2000, b"]"):
                read.append(len(piece))
                yield piece

        headers = {"content-type": "application/json", "content-length": str(1 + 2 + 4 * 2000 + 1)}
        response = await client.post("/v1/events/bulk", content=body(), headers=headers)
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "at most 2048 bytes" in response.json()["detail"]
        assert read == []  # refused from its Content-Length: not a byte decoded, nor read

    async def test_an_array_growing_past_the_limit_is_413_while_it_is_read(self, client: httpx.AsyncClient) -> None:
        read: list[int] = []

        async def body() -> AsyncIterator[bytes]:  # no Content-Length: chunked
            yield b"["
            for _ in range(100):
                read.append(1)
                yield b"{}, " * 100
            yield b"{}]"

        response = await client.post("/v1/events/bulk", content=body(), headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert len(read) < 100  # reading stopped once past the limit

    @pytest.mark.usefixtures("catalogue")
    async def test_an_atomic_stream_larger_than_allowed_is_413_and_writes_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        body = ndjson([ev(f"e{i}", "ticket.opened", 0, external_id=f"WO-{i}") for i in range(20)])
        assert len(body) > 2048
        response = await client.post("/v1/events/bulk", params={"atomic": "true"}, content=body, headers=NDJSON)
        assert response.status_code == 413
        assert await count(session, "events") == 0
        plain = await client.post("/v1/events/bulk", content=body, headers=NDJSON)  # any length without atomic
        assert plain.json()["accepted"] == 20

    @pytest.mark.parametrize("params", [{}, {"atomic": "true"}])
    async def test_a_body_that_stops_arriving_is_408(
        self, client: httpx.AsyncClient, app: FastAPI, params: dict[str, str]
    ) -> None:
        app.state.settings.body_idle_seconds = 0.2

        async def body() -> AsyncIterator[bytes]:
            yield json.dumps(ev("a", "ticket.opened", 0)).encode() + b"\n"
            await asyncio.sleep(30)
            yield b""

        response = await client.post("/v1/events/bulk", params=params, content=body(), headers=NDJSON)
        assert response.status_code == 408, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "body"

    async def test_an_array_trickled_past_the_time_allowed_is_408(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        app.state.settings.body_read_seconds = 0.5

        async def body() -> AsyncIterator[bytes]:
            yield b"["
            for _ in range(100):  # each piece in time, the whole too late
                await asyncio.sleep(0.05)
                yield b" "
            yield b"]"

        response = await client.post("/v1/events/bulk", content=body(), headers={"content-type": "application/json"})
        assert response.status_code == 408


TABLES = "events, event_keys, tickets, node_runs, outbox, known_processes, known_nodes, idempotency_keys"


@pytest.fixture
async def committing_app(engine: AsyncEngine, settings: Settings) -> AsyncIterator[FastAPI]:
    """The service with its real request sessions (each request commits), on emptied tables."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as setup:
        await setup.execute(text(f"TRUNCATE {TABLES}"))
        await apply_commitment_events(setup, [process_upserted()])
        await setup.commit()
    settings.ingest_chunk_size = 2
    app = create_app(settings)
    try:
        async with LifespanManager(app):
            yield app
    finally:
        async with sessions() as cleanup:
            await cleanup.execute(text(f"TRUNCATE {TABLES}"))
            await cleanup.commit()


async def test_a_slow_atomic_stream_does_not_hold_back_another_partners_events_on_the_feed(
    committing_app: FastAPI, internal_headers: dict[str, str]
) -> None:
    """Partner A trickles an atomic stream (several chunks of it sent, the rest held back); partner B's
    event reaches the feed meanwhile. Before, A's first chunks were written in a transaction left open
    while A sent the rest, and the feed served nothing after that transaction until A finished."""
    transport = httpx.ASGITransport(app=committing_app)
    release = asyncio.Event()
    lines = slow_atomic_lines(7)

    async def trickle() -> AsyncIterator[bytes]:
        for line in lines[:5]:  # two and a half chunks
            yield line + b"\n"
            await asyncio.sleep(0.05)
        await asyncio.wait_for(release.wait(), 30)
        for line in lines[5:]:
            yield line + b"\n"

    async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as client:
        slow = asyncio.create_task(
            client.post("/v1/events/bulk", params={"atomic": "true"}, content=trickle(), headers=NDJSON)
        )
        await asyncio.sleep(0.5)  # A's chunks are in
        sent = time.monotonic()
        other = ev("b1", "ticket.opened", 0, external_id="B-1", source="field-service")
        assert (await client.post("/v1/events", json=other)).status_code == 201
        seen_after: float | None = None
        cursor = "0:0"
        while seen_after is None and time.monotonic() - sent < 10:
            page = (
                await client.get("/internal/v1/events", params={"after": cursor, "wait": 0.5}, headers=internal_headers)
            ).json()
            cursor = page["next"]
            if any(e["payload"].get("external_id") == "B-1" for e in page["events"]):
                seen_after = time.monotonic() - sent
        release.set()
        answer = await slow
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == 7
    assert seen_after is not None, "partner B's event was held back behind partner A's stream"
    print(f"partner B's event on the feed after {seen_after * 1000:.0f} ms while A's atomic stream was open")
