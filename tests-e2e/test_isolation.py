"""One service down fails small: ingestion through the gateway keeps answering, the gateway stays ready, the
stopped service's routes answer a 503 problem naming it, and its feed backlog is visible on the producer's
metrics until it is back and has caught up.

The test stops evaluation-svc in the session's suite and starts it again before it ends (whatever happens), so
the tests after it find the suite whole."""

import asyncio
import uuid

import httpx
from pledge_dev.suite import Suite
from prometheus_client.parser import text_string_to_metric_families
from support import eventually, ok, post_event
from test_tracking import define_process, event

PROBLEM = "application/problem+json"


async def metric(client: httpx.AsyncClient, url: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples on a component's /metrics whose labels start with the given values."""
    response = await client.get(f"{url}/metrics")
    assert response.status_code == 200, response.text
    text = response.text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k, "").startswith(v) for k, v in labels.items()):
                total += sample.value
    return total


async def test_one_service_down_leaves_ingestion_and_the_gateway_ready(
    suite: Suite, gateway: httpx.AsyncClient
) -> None:
    process = await define_process(gateway)
    tracking, evaluation = suite.url("tracking"), suite.url("evaluation")
    async with httpx.AsyncClient(timeout=30) as plain:
        applied_before = await metric(
            plain, evaluation, "pledge_feed_events_applied_total", consumer="evaluation.tracking"
        )
        head_before = await metric(plain, tracking, "pledge_outbox_head_seq")
        wo = f"WO-{uuid.uuid4().hex[:8]}"
        await post_event(gateway, event(process, wo, f"{wo}-o", "ticket.opened", "08:00"))

        # the events moved the metrics: tracking's feed grew, evaluation applied them and is caught up (the feed
        # serves an event once every older transaction of the server has ended: on a shared server, a while)
        async def feed_grew() -> bool:
            return await metric(plain, tracking, "pledge_outbox_head_seq") > head_before

        await eventually(feed_grew, "tracking's feed serving the new event")

        async def applied_more() -> bool:
            now = await metric(plain, evaluation, "pledge_feed_events_applied_total", consumer="evaluation.tracking")
            return now > applied_before

        await eventually(applied_more, "evaluation applying tracking's new events")

        async def caught_up() -> bool:
            lag = await metric(plain, evaluation, "pledge_feed_lag_events", consumer="evaluation.tracking")
            return lag == 0

        await eventually(caught_up, "evaluation's tracking consumers catching up")
        heartbeat = await metric(plain, evaluation, "pledge_worker_heartbeat_age_seconds", worker="alert-scanner")
        assert heartbeat >= 0

        await asyncio.to_thread(suite.stop_component, "evaluation")
        try:
            backlog_at_stop = await metric(
                plain, tracking, "pledge_outbox_backlog_events", consumer="evaluation.tracking"
            )
            # ingestion answers through the gateway while evaluation is down
            for step, (kind, at, node) in enumerate(
                [("node.started", "08:05", "accept"), ("node.completed", "08:30", "accept")]
            ):
                answer = await gateway.post("/v1/events", json=event(process, wo, f"{wo}-{step}", kind, at, node))
                assert answer.status_code == 201, answer.text
            ticket = ok(await gateway.get(f"/v1/tickets/crm:{wo}"))
            assert [r["node"] for r in ticket["node_runs"]] == ["accept"]

            # the gateway is ready; evaluation's routes answer a 503 problem naming it
            ready = await plain.get(f"{suite.gateway_url}/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["services"]["evaluation"].startswith("unreachable")
            alerts = await gateway.get("/v1/alerts")
            assert alerts.status_code == 503
            assert alerts.headers["content-type"] == PROBLEM
            assert alerts.json()["service"] == "evaluation"
            assert "evaluation service is unavailable" in alerts.json()["detail"]
            assert alerts.headers["retry-after"]
            # and no other service became unready for it
            for other in ("commitment", "tracking", "feedback"):
                answer = await plain.get(f"{suite.url(other)}/readyz")
                assert answer.status_code == 200, f"{other}: {answer.text}"

            # tracking's outbox backlog for evaluation's consumers grows while they are away
            async def backlog_grew() -> bool:
                now = await metric(plain, tracking, "pledge_outbox_backlog_events", consumer="evaluation.tracking")
                return now > backlog_at_stop

            await eventually(backlog_grew, "tracking's backlog for evaluation growing")
        finally:
            await asyncio.to_thread(suite.start_component, "evaluation")

        ok(await gateway.get("/v1/alerts"))

        async def drained() -> bool:
            backlog = await metric(plain, tracking, "pledge_outbox_backlog_events", consumer="evaluation.tracking")
            lag = await metric(plain, evaluation, "pledge_feed_lag_events", consumer="evaluation.tracking")
            return backlog == 0 and lag == 0

        await eventually(drained, "evaluation catching up with what tracking wrote while it was down")
