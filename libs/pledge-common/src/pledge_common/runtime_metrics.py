"""Metrics of a service's background work: its workers' heartbeats and restarts, its feed consumers' lag and
projection rate, and the backlog of its own outbox. Read from the running objects when Prometheus scrapes
(nothing to keep in step); the outbox figures are read from the database just before."""

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text

from pledge_common.observability import Metrics
from pledge_common.outbox import FEED_HEAD_SQL
from pledge_common.workers import Workers

log = logging.getLogger("pledge.metrics")
_OUTBOX = text(
    f"SELECT coalesce(({FEED_HEAD_SQL}), 0) AS head,"
    " (SELECT count(*) FROM outbox WHERE xid >= pg_snapshot_xmin(pg_current_snapshot())) AS unpublished"
)


class RuntimeCollector(Collector):
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def describe(self) -> list[Metric]:
        return []  # no collection at registration: the app has no workers yet

    def collect(self) -> Iterator[Metric]:
        state = self.app.state
        service: str = state.service
        yield from _worker_metrics(service, getattr(state, "workers", None))
        stats: dict[str, int] | None = getattr(state, "outbox_stats", None)
        if stats is not None:
            yield from _outbox_metrics(service, stats, getattr(state, "feed_readers", {}))


def _worker_metrics(service: str, workers: Workers | None) -> Iterator[Metric]:
    age = GaugeMetricFamily(
        "pledge_worker_heartbeat_age_seconds",
        "Seconds since a background worker last beat",
        labels=["service", "worker", "kind"],
    )
    stalled = GaugeMetricFamily(
        "pledge_worker_stalled",
        "1 while a worker is stalled or crashing again and again (the service is then not ready)",
        labels=["service", "worker", "kind"],
    )
    restarts = CounterMetricFamily(
        "pledge_worker_restarts", "Restarts of a background worker after a crash", labels=["service", "worker", "kind"]
    )
    lag_events = GaugeMetricFamily(
        "pledge_feed_lag_events",
        "Feed positions between a consumer's last applied event and the producer's newest",
        labels=["service", "consumer", "partition"],
    )
    lag_seconds = GaugeMetricFamily(
        "pledge_feed_lag_seconds",
        "Age of the oldest feed event a consumer has not applied yet (0 when caught up)",
        labels=["service", "consumer", "partition"],
    )
    applied = CounterMetricFamily(
        "pledge_feed_events_applied",
        "Feed events applied by a consumer (the projection rate is its rate())",
        labels=["service", "consumer", "partition"],
    )
    if workers is not None:
        for status in workers.status.values():
            labels = [service, status.name, status.kind]
            age.add_metric(labels, status.heartbeat_age())
            stalled.add_metric(labels, 1.0 if workers.trouble(status) else 0.0)
            restarts.add_metric(labels, status.restarts)
        now = datetime.now(UTC)
        for consumer in workers.consumers.values():
            labels = [service, consumer.base_name, str(consumer.partition)]
            progress = consumer.progress
            applied.add_metric(labels, progress.applied)
            if (events := progress.lag_events()) is not None:
                lag_events.add_metric(labels, events)
            if (seconds := progress.lag_seconds(now)) is not None:
                lag_seconds.add_metric(labels, seconds)
    yield from (age, stalled, restarts, lag_events, lag_seconds, applied)


def _outbox_metrics(service: str, stats: dict[str, int], readers: dict[str, int]) -> Iterator[Metric]:
    unpublished = GaugeMetricFamily(
        "pledge_outbox_unpublished_events",
        "Outbox events committed but held back from the feed by a transaction still running",
        labels=["service"],
    )
    unpublished.add_metric([service], stats["unpublished"])
    head = GaugeMetricFamily(
        "pledge_outbox_head_seq", "The sequence number of the newest event the feed serves", labels=["service"]
    )
    head.add_metric([service], stats["head"])
    backlog = GaugeMetricFamily(
        "pledge_outbox_backlog_events",
        "Feed positions not yet served to each named reader (its consumer and partition)",
        labels=["service", "consumer"],
    )
    for reader, seq in sorted(readers.items()):
        backlog.add_metric([service, reader], max(0, stats["head"] - seq))
    yield from (unpublished, head, backlog)


async def refresh_outbox_stats(app: FastAPI) -> None:
    """Read the outbox figures for the scrape that follows; skipped (last figures kept) if the database fails
    or takes more than 5 s."""
    engine: Any = getattr(app.state, "engine", None)
    if engine is None:
        return
    try:
        async with asyncio.timeout(5), engine.connect() as conn:
            row = (await conn.execute(_OUTBOX)).one()
    except Exception as err:  # metrics never fail for a database that does not answer: readiness says so
        log.debug("outbox figures not read: %s", type(err).__name__)
        return
    app.state.outbox_stats = {"head": int(row.head), "unpublished": int(row.unpublished)}


def install_runtime_metrics(app: FastAPI, metrics: Metrics) -> None:
    metrics.registry.register(RuntimeCollector(app))
