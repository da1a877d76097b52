"""Each metric of docs/operations.md moves under load: the suite's `/metrics` is scraped before and after
tickets are pushed (some twice, some refused), service facts are sent, alerts are raised and their deliveries to a
webhook and a chat channel fail. The gateway labels every call with a route template, and long-polls stay apart."""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web
from pledge_dev.metrics import Samples, delta, label_values, samples, value
from pledge_dev.suite import Suite
from support import eventually, ok, post_event
from test_alerts import define

SERVICES = ("commitment", "tracking", "evaluation", "feedback")
FEED = "/internal/v1/events"


@pytest.fixture
async def failing_receiver() -> AsyncIterator[tuple[str, list[str]]]:
    """A partner's endpoint that fails every request (500): webhook deliveries and chat messages fail."""
    hits: list[str] = []

    async def fail(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=500, text="down for maintenance")

    app = web.Application()
    app.router.add_post("/{name}", fail)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", hits
    finally:
        await runner.cleanup()


async def scrape(suite: Suite, gateway: httpx.AsyncClient) -> dict[str, Samples]:
    """Every process's metrics: the services' (inside the cluster, open) and the gateway's (admin credentials)."""
    own = await gateway.get("/metrics")
    assert own.status_code == 200, own.text
    found = {"gateway": samples(own.text)}
    async with httpx.AsyncClient(timeout=30) as plain:
        for service in SERVICES:
            response = await plain.get(suite.url(service) + "/metrics")
            assert response.status_code == 200
            found[service] = samples(response.text)
    return found


def event(tag: str, n: int, suffix: str, kind: str, at: datetime, **extra: Any) -> dict[str, Any]:
    ticket = {"external_id": f"{tag}-{n}", "process": tag, "segment": f"{tag}-seg"}
    return {"source": "e2e", "ticket": ticket, "event_id": f"{tag}-{n}-{suffix}", "type": kind,
            "occurred_at": at.isoformat(), **extra}  # fmt: skip


async def test_each_metric_moves_under_load(
    suite: Suite, gateway: httpx.AsyncClient, failing_receiver: tuple[str, list[str]]
) -> None:
    base, hits = failing_receiver
    tag = f"m{uuid.uuid4().hex[:8]}"
    await define(gateway, tag)  # a 2 s / 4 s commitment: a started node passes every level within seconds
    ok(await gateway.post("/v1/webhooks", json={"url": f"{base}/hook", "department": f"{tag}-desk"}), 201)
    channel = ok(await gateway.post("/v1/channels", json={"kind": "slack", "name": tag, "url": f"{base}/chat"}), 201)
    rule = {"name": tag, "processes": [tag], "levels": ["prewarning"], "channel_ids": [channel["id"]]}
    ok(await gateway.post("/v1/notification-rules", json=rule, headers={"Idempotency-Key": f"{tag}-rule"}), 201)
    service = f"{tag}-net"
    ok(await gateway.post("/v1/services", json={"key": service, "name": "Network"}), 201)

    before = await scrape(suite, gateway)
    now = datetime.now(UTC) - timedelta(milliseconds=200)
    # single events: ticket 1 opened and its node started (post_event waits until tracking knows the process)
    await post_event(gateway, event(tag, 1, "o", "ticket.opened", now))
    await post_event(gateway, event(tag, 1, "s", "node.started", now, node="answer"))
    # a bulk: two accepted, one duplicate (ticket 1's opening again), one refused (a node the process lacks)
    items = [
        event(tag, 2, "o", "ticket.opened", now),
        event(tag, 2, "s", "node.started", now, node="answer"),
        event(tag, 1, "o", "ticket.opened", now),
        event(tag, 2, "x", "node.started", now, node="teleport"),
    ]
    bulk = ok(await gateway.post("/v1/events/bulk", json=items))
    assert (bulk["accepted"], bulk["duplicates"], bulk["rejected"]) == (2, 1, 1)
    # service facts: one accepted (once tracking knows the service from commitment's feed), then a duplicate,
    # and one for a service nobody defined
    fact = {"source": "e2e", "external_id": f"{tag}-start", "type": "outage.started", "service": service,
            "occurred_at": now.isoformat(), "outage_ref": f"{tag}-1"}  # fmt: skip

    async def fact_accepted() -> bool:
        response = await gateway.post("/v1/service-facts", json=fact)
        return response.status_code == 201

    await eventually(fact_accepted, f"tracking-svc to know the service {service}")
    ok(await gateway.post("/v1/service-facts", json=fact), 200)  # the duplicate
    unknown = await gateway.post("/v1/service-facts", json={**fact, "external_id": f"{tag}-x", "service": f"{tag}-no"})
    assert unknown.status_code == 422
    # an alert per level for each ticket, a failed webhook delivery and a failed chat message
    page: dict[str, Any] = {}

    async def six_alerts() -> bool:
        page.update(ok(await gateway.get("/v1/alerts", params={"process": tag})))
        return len(page["items"]) >= 6

    await eventually(six_alerts, "three alerts for each ticket", lambda: page)

    async def both_failed() -> bool:
        return "/hook" in hits and "/chat" in hits

    await eventually(both_failed, "a webhook delivery and a chat message to fail", lambda: hits)

    async def failures_counted() -> dict[str, Samples] | None:
        found = await scrape(suite, gateway)
        moved = (before["evaluation"], found["evaluation"])
        webhook_failed = delta(*moved, "pledge_webhook_deliveries_total", outcome="failed")
        chat_failed = delta(*moved, "pledge_notifications_total", channel="slack", outcome="failed")
        return found if webhook_failed and chat_failed else None

    after = await eventually(failures_counted, "the failed attempts to be counted")  # recorded after the attempt

    # ingest: tracking-svc counted each item of the single and bulk calls, and the facts
    tracking = (before["tracking"], after["tracking"])
    assert delta(*tracking, "pledge_ingest_items_total", kind="ticket_event", outcome="accepted") >= 4
    assert delta(*tracking, "pledge_ingest_items_total", kind="ticket_event", outcome="duplicate") >= 1
    assert delta(*tracking, "pledge_ingest_items_total", kind="ticket_event", outcome="rejected") >= 1
    assert delta(*tracking, "pledge_ingest_items_total", kind="service_fact", outcome="accepted") >= 1
    assert delta(*tracking, "pledge_ingest_items_total", kind="service_fact", outcome="duplicate") >= 1
    assert delta(*tracking, "pledge_ingest_items_total", kind="service_fact", outcome="rejected") >= 1

    # alerts by level; deliveries failed by channel; both senders have messages waiting for their retry
    evaluation = (before["evaluation"], after["evaluation"])
    for level in ("prewarning", "acceptable", "warning"):
        assert delta(*evaluation, "pledge_alerts_raised_total", level=level, late="false") >= 2, level
    assert delta(*evaluation, "pledge_webhook_deliveries_total", outcome="failed") >= 1
    assert delta(*evaluation, "pledge_notifications_total", channel="slack", outcome="failed") >= 1
    assert value(after["evaluation"], "pledge_sender_backlog", sender="webhooks") >= 1
    assert value(after["evaluation"], "pledge_sender_backlog", sender="notifications") >= 1
    assert ("pledge_sender_oldest_due_seconds", frozenset({("sender", "webhooks")})) in after["evaluation"]

    # every process shows its database pool
    for name, found in after.items():
        assert value(found, "pledge_db_pool_max", service=name) >= value(found, "pledge_db_pool_size", service=name)
        assert value(found, "pledge_db_pool_size", service=name) > 0, name
        assert ("pledge_db_pool_checked_out", frozenset({("service", name)})) in found, name

    # the gateway labels calls with templates: the route table's, or the service's own within it
    gateway_routes = label_values(after["gateway"], "http_requests_total", "route")
    gateway_delta = (before["gateway"], after["gateway"])
    assert delta(*gateway_delta, "http_requests_total", route="/v1/events", method="POST", status="201") >= 2
    assert delta(*gateway_delta, "http_requests_total", route="/v1/events/bulk", method="POST", status="200") == 1
    assert delta(*gateway_delta, "http_requests_total", route="/v1/alerts", method="GET") >= 1
    assert not any(tag in route for route in gateway_routes)  # never a path
    assert delta(*gateway_delta, "http_requests_total", route="unmatched") == 0
    # services name their own templates (FastAPI's, full paths)
    assert "/v1/webhooks" in label_values(after["evaluation"], "http_requests_total", "route")

    # long-polls apart: the consumers poll tracking's and commitment's feeds all along (a poll is counted when it
    # ends: tracking's feed had events during the test, commitment's polls may still be waiting on theirs)
    assert delta(before["tracking"], after["tracking"], "http_long_poll_requests_total", route=FEED) > 0
    for producer in ("commitment", "tracking"):
        assert value(after[producer], "http_long_poll_requests_total", route=FEED) > 0, producer
        assert FEED not in label_values(after[producer], "http_requests_total", "route"), producer
        assert FEED not in label_values(after[producer], "http_request_duration_seconds_count", "route"), producer


async def test_the_access_logs_leave_feed_polls_out(suite: Suite, gateway: httpx.AsyncClient) -> None:
    """At INFO, no process writes a line per feed poll (they were 40-60 % of the lines)."""
    ok(await gateway.get("/v1/alerts"))  # at least one line of a request
    lines = [
        json.loads(line)
        for component in ("commitment", "tracking", "gateway")
        for line in (suite.log_dir / f"{component}.log").read_text().splitlines()
        if line.startswith("{")
    ]
    assert any(line.get("route") for line in lines)
    # feed polls reach the producers only; at the gateway, a path under /internal is an outside probe answered 404,
    # and logged as any refused request is (the fuzz pass of the session sends some)
    polls = [line for line in lines if line.get("service") != "gateway" and line.get("path", "").startswith(FEED)]
    assert not [line for line in polls if line["level"] == "info"]
