"""Ingest limits through the gateway: free JSON nested too deep is refused per item (never a 500), a value
stored before the limits is still answered, a JSON array too large is refused before it is read, and a
partner's slow atomic stream holds back no other partner's events on their way to evaluation."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from pledge_common.settings import to_plain_url
from pledge_dev.suite import Suite
from support import bearer

PROCESS = "e2e-limits"
A, B = "lim-a", "lim-b"
SCOPES = ["events:write", "tickets:read", "reports:read"]
NDJSON = {"content-type": "application/x-ndjson"}


def event(source: str, external_id: str, kind: str, node: str | None = None, **ticket: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": f"{external_id}-{kind}-{node or ''}",
        "type": kind,
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "source": source,
        "ticket": {"external_id": external_id, "process": PROCESS, **ticket},
    }
    if node:
        body["node"] = node
    return body


def with_deep_attributes(body: dict[str, Any], depth: int) -> bytes:
    """The event's JSON text with attributes `depth` levels deep (past what json.dumps can write)."""
    text = json.dumps(body)
    assert text.endswith("}}")  # the ticket is the last member
    deep = '{"k": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
    return (text[:-2] + ', "attributes": ' + deep + "}}").encode()


@dataclass
class Partners:
    a_key: str
    b_key: str


@pytest.fixture(scope="module")
async def partners(suite: Suite) -> AsyncIterator[Partners]:
    """Two partners, each bound to its own source; the process known to tracking-svc."""
    async with httpx.AsyncClient(base_url=suite.gateway_url, headers=bearer(suite.admin_key or ""), timeout=30) as gw:
        created = await gw.put(
            f"/v1/processes/{PROCESS}", json={"name": "Limits", "nodes": [{"key": "accept", "name": "Accept"}]}
        )
        assert created.status_code in (200, 201), created.text
        keys = []
        for source in (A, B):
            response = await gw.post(
                "/v1/api-keys", json={"name": f"e2e limits {source}", "scopes": SCOPES, "sources": [source]}
            )
            assert response.status_code == 201, response.text
            keys.append(response.json()["key"])
        probe = event(A, f"probe-{uuid.uuid4().hex[:6]}", "ticket.opened")
        for _ in range(300):  # tracking learns the process from commitment's feed
            if (await gw.post("/v1/events", json=probe, headers=bearer(keys[0]))).status_code == 201:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("tracking-svc never learnt the process")
        yield Partners(*keys)


async def test_free_json_nested_too_deep_is_refused_per_item_never_a_500(
    gateway: httpx.AsyncClient, partners: Partners
) -> None:
    key = bearer(partners.a_key)
    for depth in (17, 300, 1000, 5000):
        body = with_deep_attributes(event(A, f"deep-{depth}", "ticket.opened"), depth)
        single = await gateway.post("/v1/events", content=body, headers={"content-type": "application/json", **key})
        assert single.status_code == 422, single.text
        assert single.headers["content-type"].startswith("application/problem+json")
        assert single.json()["errors"][0]["field"].startswith("ticket.attributes")

    good = json.dumps(event(A, "deep-ok", "ticket.opened")).encode()
    deep = with_deep_attributes(event(A, "deep-bulk", "ticket.opened"), 5000)
    stream = await gateway.post("/v1/events/bulk", content=good + b"\n" + deep + b"\n", headers={**NDJSON, **key})
    assert stream.status_code == 200, stream.text
    assert (stream.json()["accepted"], stream.json()["rejected"]) == (1, 1)
    assert stream.json()["items"][0]["error"]["field"] == "ticket.attributes"
    array = await gateway.post(
        "/v1/events/bulk", content=b"[" + deep + b"," + good + b"]", headers={"content-type": "application/json", **key}
    )
    assert array.status_code == 200, array.text
    assert [i["status"] for i in array.json()["items"]] == ["rejected", "duplicate"]


async def test_a_value_stored_before_the_limits_is_still_answered(
    gateway: httpx.AsyncClient, suite: Suite, partners: Partners
) -> None:
    wo = f"stored-{uuid.uuid4().hex[:6]}"
    opened = await gateway.post("/v1/events", json=event(A, wo, "ticket.opened"), headers=bearer(partners.a_key))
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["ticket_id"]
    deep = "[" * 3000 + "]" * 3000
    conn = await asyncpg.connect(to_plain_url(suite.database_url))
    try:  # as ingest stored it before nesting was limited
        await conn.execute(
            "UPDATE tracking.tickets SET attributes = $1::jsonb WHERE id = $2::uuid", f'{{"deep": {deep}}}', ticket_id
        )
        await conn.execute(
            "UPDATE tracking.events SET body = $1::json WHERE ticket_id = $2::uuid",
            with_deep_attributes(event(A, wo, "ticket.opened"), 3000).decode(),
            ticket_id,
        )
    finally:
        await conn.close()

    listed = await gateway.get("/v1/tickets", params={"source": A, "limit": 500})
    assert listed.status_code == 200, listed.text
    (mine,) = [t for t in listed.json()["items"] if t["id"] == ticket_id]
    detail = await gateway.get(f"/v1/tickets/{ticket_id}")
    assert detail.status_code == 200, detail.text
    overview = await gateway.get(f"/v1/tickets/{ticket_id}/overview")
    assert overview.status_code == 200, overview.text
    for attributes in (mine["attributes"], detail.json()["attributes"], overview.json()["ticket"]["attributes"]):
        part: Any = attributes["deep"]
        for _ in range(127):  # levels 2 to 128 as stored, the rest as its JSON text
            (part,) = part
        assert part == "[" * 2873 + "]" * 2873


async def test_a_json_array_too_large_is_413_before_it_is_decoded(
    gateway: httpx.AsyncClient, partners: Partners
) -> None:
    body = b"[" + b" " * 21_000_000 + b"]"  # above 10 000 items x 2 048 bytes
    response = await gateway.post(
        "/v1/events/bulk", content=body, headers={"content-type": "application/json", **bearer(partners.a_key)}
    )
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def _projected(gateway: httpx.AsyncClient, key: str, source: str, wo: str) -> float:
    """Seconds from sending a ticket's node.started (partner `source`) to evaluation reporting its run."""
    sent = time.monotonic()
    for kind, node in (("ticket.opened", None), ("node.started", "accept")):
        response = await gateway.post("/v1/events", json=event(source, wo, kind, node), headers=bearer(key))
        assert response.status_code == 201, response.text
    ticket_id = response.json()["ticket_id"]
    while time.monotonic() - sent < 15:
        runs = await gateway.get("/v1/reports/status/runs", params={"ticket_id": ticket_id}, headers=bearer(key))
        if runs.status_code == 200 and runs.json()["items"]:
            return time.monotonic() - sent
        await asyncio.sleep(0.05)
    raise AssertionError(f"partner {source}'s run did not reach evaluation within 15 s")


async def test_a_slow_atomic_stream_holds_back_no_other_partners_events(
    gateway: httpx.AsyncClient, partners: Partners
) -> None:
    usual = await _projected(gateway, partners.b_key, B, f"usual-{uuid.uuid4().hex[:6]}")
    run = uuid.uuid4().hex[:6]
    lines = [json.dumps(event(A, f"slow-{run}-{i}", "ticket.opened")).encode() + b"\n" for i in range(5_001)]
    release = asyncio.Event()

    async def trickle() -> AsyncIterator[bytes]:
        yield b"".join(lines)  # more than a chunk (5 000 events) at once ...
        await asyncio.wait_for(release.wait(), 30)  # ... then the rest only later
        yield json.dumps(event(A, f"slow-{run}-last", "ticket.opened")).encode() + b"\n"

    slow = asyncio.create_task(
        gateway.post(
            "/v1/events/bulk",
            params={"atomic": "true"},
            content=trickle(),
            headers={**NDJSON, **bearer(partners.a_key)},
            timeout=60,
        )
    )
    try:
        await asyncio.sleep(2)  # A's first chunk is in (before: written, its transaction left open)
        assert not slow.done(), slow.result().text if slow.done() else ""
        during = await _projected(gateway, partners.b_key, B, f"during-{run}")
    finally:
        release.set()
        answer = await slow
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 5_002
    print(
        f"partner B's run reached evaluation in {usual * 1000:.0f} ms usually, {during * 1000:.0f} ms during A's stream"
    )
