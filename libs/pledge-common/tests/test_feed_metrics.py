"""A consumer's lag and projection rate, and the producer's backlog per reader, move as events are applied."""

from types import SimpleNamespace

import httpx
from fastapi import FastAPI
from pledge_common.consumer import FeedConsumer
from pledge_common.db import create_sessionmaker
from pledge_common.outbox import emit_many
from pledge_common.runtime_metrics import RuntimeCollector, refresh_outbox_stats
from pledge_common.workers import Workers
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine
from test_feed_ordering import applied, record


def samples(registry: CollectorRegistry, name: str) -> dict[str, float]:
    found = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            if sample.name == name:
                found[sample.labels.get("consumer", "")] = sample.value
    return found


async def test_lag_shrinks_and_the_applied_count_grows_as_a_consumer_catches_up(
    clean_feed: AsyncEngine, feed_client: httpx.AsyncClient
) -> None:
    maker = create_sessionmaker(clean_feed)
    async with maker() as session, session.begin():
        await emit_many(session, [("thing.changed", f"k{i}", {"i": i}) for i in range(5)])
    consumer = FeedConsumer(
        name="metered",
        client=feed_client,
        feed_path="/internal/v1/events",
        engine=clean_feed,
        sessionmaker=maker,
        handler=record,
        batch_size=2,
        wait=0,
    )
    workers = Workers("svc")
    workers.consumers[consumer.name] = consumer
    registry = CollectorRegistry()
    registry.register(RuntimeCollector(SimpleNamespace(state=SimpleNamespace(service="svc", workers=workers))))  # type: ignore[arg-type]
    assert samples(registry, "pledge_feed_lag_events") == {}  # nothing known before the first page

    for _ in range(100):  # another session's transaction on the shared server may hold the events back a while
        if await consumer.step(wait=0.5):
            break
    assert len(await applied(clean_feed)) == 2
    assert consumer.progress.lag_events() == 3
    assert samples(registry, "pledge_feed_lag_events") == {"metered": 3.0}
    assert samples(registry, "pledge_feed_events_applied_total") == {"metered": 2.0}
    assert samples(registry, "pledge_feed_lag_seconds")["metered"] >= 0

    await consumer.drain()  # ends on an empty page: caught up
    assert samples(registry, "pledge_feed_lag_events") == {"metered": 0.0}
    assert samples(registry, "pledge_feed_lag_seconds") == {"metered": 0.0}
    assert samples(registry, "pledge_feed_events_applied_total") == {"metered": 5.0}


async def test_the_producer_counts_what_each_named_reader_has_not_been_served(
    clean_feed: AsyncEngine, feed_client: httpx.AsyncClient
) -> None:
    app: FastAPI = feed_client._transport.app  # type: ignore[attr-defined]
    app.state.service = "svc"
    registry = CollectorRegistry()
    registry.register(RuntimeCollector(app))
    maker = create_sessionmaker(clean_feed)
    async with maker() as session, session.begin():
        await emit_many(session, [("thing.changed", f"k{i}", {"i": i}) for i in range(4)])
    for _ in range(100):
        first = await feed_client.get(
            "/internal/v1/events", params={"limit": 1, "wait": 0.5}, headers={"Pledge-Consumer": "reader"}
        )
        if first.json()["events"]:
            break
    assert int(first.headers["Pledge-Feed-Head"]) > first.json()["events"][0]["seq"]
    await refresh_outbox_stats(app)
    assert samples(registry, "pledge_outbox_backlog_events") == {"reader": 3.0}

    await feed_client.get(
        "/internal/v1/events", params={"after": first.json()["next"]}, headers={"Pledge-Consumer": "reader"}
    )
    await refresh_outbox_stats(app)
    assert samples(registry, "pledge_outbox_backlog_events") == {"reader": 0.0}
    assert samples(registry, "pledge_outbox_unpublished_events") == {"": 0.0}
