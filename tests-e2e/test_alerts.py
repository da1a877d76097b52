"""Alerts end to end: a node run passes its due instants, evaluation-svc raises each alert once and
delivers it, signed, to a webhook receiver on loopback; the alert is acknowledged through the gateway; the
run's completion resolves its alerts, whose deliveries still pending are never sent."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook
from support import bearer, eventually, ok, post_event

Received = list[tuple[dict[str, str], bytes]]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, Received]]:
    received: Received = []

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/hook", received
    finally:
        await runner.cleanup()


async def define(gateway: httpx.AsyncClient, tag: str) -> None:
    """A department, a process with one node, and a 2 s / 4 s commitment on the 24x7 calendar."""
    ok(await gateway.put(f"/v1/departments/{tag}-desk", json={"name": "Desk", "positions": []}), 200, 201)
    ok(await gateway.put(f"/v1/segments/{tag}-seg", json={"name": "Segment"}), 200, 201)
    ok(
        await gateway.put(
            f"/v1/processes/{tag}",
            json={
                "name": "Quick process",
                "description": "",
                "owner_department": f"{tag}-desk",
                "nodes": [{"key": "answer", "name": "Answer", "department": f"{tag}-desk", "position_key": None}],
            },
        ),
        200,
        201,
    )
    created = ok(
        await gateway.post(
            "/v1/commitments",
            json={
                "key": f"{tag}-answer",
                "process": tag,
                "node": "answer",
                "segment": "default",
                "commitment_limit": "PT2S",
                "tolerance_limit": "PT4S",
                "calendar": "24x7",
                "owner_department": f"{tag}-desk",
                "prewarning_fraction": 0.5,
            },
        ),
        201,
    )
    ok(await gateway.post(f"/v1/commitments/{created['id']}/transitions", json={"to": "negotiating"}))
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    ok(
        await gateway.post(
            f"/v1/commitments/{created['id']}/transitions", json={"to": "active", "effective_from": since}
        )
    )


async def test_alerts_are_raised_once_delivered_signed_and_acknowledged(
    gateway: httpx.AsyncClient, receiver: tuple[str, Received]
) -> None:
    url, received = receiver
    tag = f"e2e-{uuid.uuid4().hex[:8]}"
    await define(gateway, tag)
    subscription = ok(await gateway.post("/v1/webhooks", json={"url": url, "department": f"{tag}-desk"}), 201)
    # evaluation learns the commitment from commitment-svc's feed: wait until it judges a run by it
    started = datetime.now(UTC) - timedelta(milliseconds=200)
    event = {
        "source": "e2e",
        "ticket": {"external_id": f"{tag}-1", "process": tag, "segment": f"{tag}-seg"},
    }
    await post_event(
        gateway, {**event, "event_id": f"{tag}-a", "type": "ticket.opened", "occurred_at": started.isoformat()}
    )
    await post_event(
        gateway,
        {**event, "event_id": f"{tag}-b", "type": "node.started", "occurred_at": started.isoformat(), "node": "answer"},
    )

    async def three_alerts() -> bool:
        page = ok(await gateway.get("/v1/alerts", params={"process": tag}))
        return len(page["items"]) >= 3

    await eventually(three_alerts, "three alerts")
    alerts = ok(await gateway.get("/v1/alerts", params={"process": tag}))["items"]
    assert sorted(a["level"] for a in alerts) == ["acceptable", "prewarning", "warning"]
    assert all(a["department"] == f"{tag}-desk" for a in alerts)
    await asyncio.sleep(1.0)  # more scans: still exactly one alert per level
    assert len(ok(await gateway.get("/v1/alerts", params={"process": tag}))["items"]) == 3

    async def three_deliveries() -> bool:
        return len(received) >= 3

    await eventually(three_deliveries, "three deliveries")
    webhook = Webhook(subscription["secret"])  # a receiver verifies with the Standard Webhooks library
    for headers, body in received:
        assert webhook.verify(body, headers)["type"] == "alert.raised"
    assert len({h["webhook-id"] for h, _ in received}) == 3
    assert sorted(json.loads(b)["alert"]["level"] for _, b in received) == ["acceptable", "prewarning", "warning"]

    warning = next(a for a in alerts if a["level"] == "warning")
    acked = ok(await gateway.post(f"/v1/alerts/{warning['id']}/acknowledge", json={"note": "on it"}))
    assert acked["state"] == "acknowledged"

    async def acknowledgement_delivered() -> bool:
        return any(json.loads(b)["type"] == "alert.acknowledged" for _, b in received)

    await eventually(acknowledgement_delivered, "acknowledgement delivered")
    log = ok(await gateway.get(f"/v1/webhooks/{subscription['id']}/deliveries"))
    assert len(log["items"]) == 4
    assert all(d["status"] == "delivered" and d["log"][0]["status_code"] == 204 for d in log["items"])

    # the seven-state table sees the same run beyond its tolerance
    status = ok(await gateway.get("/v1/reports/status", params={"process": tag}))
    [row] = [r for r in status["rows"] if r["group"]["node"] == "answer"]
    assert row["counts"]["in_progress_warning"] == 1


async def test_alerts_resolve_when_their_run_completes_and_are_then_never_delivered(
    gateway: httpx.AsyncClient,
) -> None:
    """The receiver refuses every delivery (503) while the run is open: the deliveries wait for their retries.
    An alert is acknowledged by PATCH; the run completes; its alerts resolve with the run's final state and their
    deliveries are skipped. Then the receiver accepts: a second run's alert reaches it, the first run's never."""
    answered: list[tuple[int, dict[str, Any]]] = []
    accepting = False

    async def hook(request: web.Request) -> web.Response:
        status = 204 if accepting else 503
        answered.append((status, json.loads(await request.read())))
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        tag = f"e2e-{uuid.uuid4().hex[:8]}"
        await define(gateway, tag)
        subscription = ok(
            await gateway.post(
                "/v1/webhooks", json={"url": f"http://127.0.0.1:{port}/hook", "department": f"{tag}-desk"}
            ),
            201,
        )

        async def start(n: int) -> None:
            started = (datetime.now(UTC) - timedelta(milliseconds=200)).isoformat()
            event = {"source": "e2e", "ticket": {"external_id": f"{tag}-{n}", "process": tag, "segment": f"{tag}-seg"}}
            await post_event(
                gateway, {**event, "event_id": f"{tag}-{n}-o", "type": "ticket.opened", "occurred_at": started}
            )
            await post_event(
                gateway,
                {**event, "event_id": f"{tag}-{n}-s", "type": "node.started", "occurred_at": started, "node": "answer"},
            )

        async def alerts_of_process() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = ok(await gateway.get("/v1/alerts", params={"process": tag}))["items"]
            return sorted(items, key=lambda a: a["due_at"])

        await start(1)

        async def alerted_and_refused() -> bool:
            return len(await alerts_of_process()) >= 2 and len(answered) >= 1

        await eventually(alerted_and_refused, "alerted and refused")
        [run_id] = {a["node_run_id"] for a in await alerts_of_process()}
        first = (await alerts_of_process())[0]
        # reading alerts is not acknowledging them: that takes alerts:manage, and records whose key did it
        reader = ok(await gateway.post("/v1/api-keys", json={"name": f"{tag} reader", "scopes": ["reports:read"]}), 201)
        manager = ok(await gateway.post("/v1/api-keys", json={"name": f"{tag} lead", "scopes": ["alerts:manage"]}), 201)
        ack = {"state": "acknowledged", "note": "on it"}
        refused = await gateway.patch(f"/v1/alerts/{first['id']}", json=ack, headers=bearer(reader["key"]))
        assert (refused.status_code, refused.json()["required_scope"]) == (403, "alerts:manage")
        acked = ok(await gateway.patch(f"/v1/alerts/{first['id']}", json=ack, headers=bearer(manager["key"])))
        assert (acked["state"], acked["note"], acked["acknowledged_by"]) == ("acknowledged", "on it", manager["id"])
        assert acked["acknowledged_at"] is not None
        again = ok(await gateway.post(f"/v1/alerts/{first['id']}/acknowledge"))
        assert again["acknowledged_at"] == acked["acknowledged_at"]

        completed = datetime.now(UTC)
        await post_event(
            gateway,
            {
                "source": "e2e",
                "ticket": {"external_id": f"{tag}-1", "process": tag, "segment": f"{tag}-seg"},
                "event_id": f"{tag}-1-c",
                "type": "node.completed",
                "occurred_at": completed.isoformat(),
                "node": "answer",
            },
        )

        async def resolved() -> bool:
            return all(a["state"] == "resolved" for a in await alerts_of_process())

        await eventually(resolved, "resolved")
        alerts = await alerts_of_process()
        assert {(a["final_state"], datetime.fromisoformat(a["resolved_at"])) for a in alerts} == {
            (alerts[0]["final_state"], completed)
        }
        assert alerts[0]["final_state"].startswith("completed_")
        assert [a["acknowledged_by"] is not None for a in alerts] == [True] + [False] * (len(alerts) - 1)
        assert not any(a["late"] for a in alerts)
        listed = ok(await gateway.get("/v1/alerts", params={"process": tag, "state": "open,acknowledged"}))["items"]
        assert listed == []

        # the receiver now accepts: a second run's alert is delivered, the first run's deliveries stay skipped
        accepting = True
        await start(2)

        async def second_run_delivered() -> bool:
            return any(s == 204 and p["alert"]["node_run_id"] != run_id for s, p in answered)

        await eventually(second_run_delivered, "second run delivered")
        assert all(p["alert"]["node_run_id"] != run_id for s, p in answered if s == 204)
        log = ok(await gateway.get(f"/v1/webhooks/{subscription['id']}/deliveries", params={"limit": 100}))["items"]
        first_ids = {a["id"] for a in alerts}
        of_first = [d for d in log if d["alert_id"] in first_ids]
        assert {d["status"] for d in of_first} == {"skipped"}
        assert {d["alert_id"] for d in of_first if d["event_type"] == "alert.raised"} == first_ids
    finally:
        await runner.cleanup()


async def test_private_webhook_targets_are_refused_without_the_allowlist(gateway: httpx.AsyncClient) -> None:
    # the suite allows private targets for the receiver above; a malformed one is refused all the same
    response = await gateway.post("/v1/webhooks", json={"url": "gopher://127.0.0.1/x"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "url"
