"""What the suite does, as Prometheus metrics: alerts, deliveries, ingest, sender backlogs, database pools.

Counters are process-wide (one registry, served by every app's `/metrics` beside its HTTP metrics): the code
that counts (a scanner, a sender, an ingest service) needs no handle on the app. Gauges read from the
database (backlogs) are set by a scrape hook just before each scrape; the pool gauges are read from the
engine at collection. The table of every metric is in docs/operations.md, "Metrics".
"""

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

REGISTRY = CollectorRegistry()

ALERTS_RAISED = Counter(
    "pledge_alerts_raised_total",
    "Alerts recorded by the scanner, by level; late ones (a backfill) are recorded but never delivered",
    ["level", "late"],
    registry=REGISTRY,
)
NOTIFICATIONS = Counter(
    "pledge_notifications_total",
    "Notification attempts by channel kind and outcome (delivered, failed, skipped)",
    ["channel", "outcome"],
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "pledge_webhook_deliveries_total",
    "Webhook delivery attempts by outcome (delivered, failed)",
    ["outcome"],
    registry=REGISTRY,
)
INGESTED = Counter(
    "pledge_ingest_items_total",
    "Items offered to ingest (single and bulk) by kind (ticket_event, service_fact) and outcome "
    "(accepted, duplicate, rejected)",
    ["kind", "outcome"],
    registry=REGISTRY,
)
SENDER_BACKLOG = Gauge(
    "pledge_sender_backlog",
    "Messages waiting to be sent (queued or to be retried), by sender (webhooks, notifications)",
    ["sender"],
    registry=REGISTRY,
)
SENDER_OLDEST_DUE = Gauge(
    "pledge_sender_oldest_due_seconds",
    "Age of the oldest message whose attempt is due, by sender (0 when none is due)",
    ["sender"],
    registry=REGISTRY,
)


_ON_COMMIT = "pledge.metrics.on_commit"


def on_commit(session: AsyncSession, action: Callable[[], None]) -> None:
    """Run `action` (counting) once the session's transaction commits; never when it rolls back. What a counter
    says then happened: an alert raised in a scan that failed later in its transaction was never raised."""
    session.sync_session.info.setdefault(_ON_COMMIT, []).append(action)


@event.listens_for(Session, "after_commit")
def _run_on_commit(session: Session) -> None:
    for action in session.info.pop(_ON_COMMIT, ()):
        action()


@event.listens_for(Session, "after_rollback")
def _drop_on_rollback(session: Session) -> None:
    session.info.pop(_ON_COMMIT, None)


def count_ingest(kind: str, accepted: int, duplicate: int, rejected: int) -> None:
    """Count the outcomes of one ingest call (one item or a bulk)."""
    for outcome, n in (("accepted", accepted), ("duplicate", duplicate), ("rejected", rejected)):
        if n:
            INGESTED.labels(kind, outcome).inc(n)


def count_outcomes(session: AsyncSession, kind: str, statuses: Sequence[str]) -> None:
    """Count the outcomes of one ingest chunk, given as their statuses: the rejected items now (nothing of them is
    written, and a refused single item rolls its transaction back), the accepted and duplicate ones on commit."""
    count_ingest(kind, 0, 0, statuses.count("rejected"))
    accepted, duplicate = statuses.count("accepted"), statuses.count("duplicate")
    if accepted or duplicate:
        on_commit(session, lambda: count_ingest(kind, accepted, duplicate, 0))


def count_alerts(alerts: Iterable[Mapping[str, Any]]) -> Callable[[], None]:
    """An action counting `alerts` (rows with `level` and `late`) by level: for `on_commit`."""
    counts: dict[tuple[str, str], int] = {}
    for alert in alerts:
        key = (str(alert["level"]), "true" if alert["late"] else "false")
        counts[key] = counts.get(key, 0) + 1

    def count() -> None:
        for (level, late), n in counts.items():
            ALERTS_RAISED.labels(level, late).inc(n)

    return count


class PoolCollector(Collector):
    """The SQLAlchemy pool of the app's engine, read at each collection: connections checked out, the pool's
    size and the most it may open (size + overflow). A saturated pool makes requests wait up to the pool timeout.
    """

    def __init__(self, service: str, engine_of: Callable[[], AsyncEngine | None]) -> None:
        self.service = service
        self.engine_of = engine_of

    def collect(self) -> Iterator[GaugeMetricFamily]:
        engine = self.engine_of()
        if engine is None:
            return
        pool = engine.sync_engine.pool
        size = getattr(pool, "size", None)
        checked_out = getattr(pool, "checkedout", None)
        if size is None or checked_out is None:
            return
        overflow = max(0, int(getattr(pool, "_max_overflow", 0)))
        families = (
            ("pledge_db_pool_checked_out", "Database connections in use (checked out of the pool)", checked_out()),
            ("pledge_db_pool_size", "Connections the pool keeps open", size()),
            ("pledge_db_pool_max", "Most connections the pool may open (size + overflow)", size() + overflow),
        )
        for name, documentation, value in families:
            family = GaugeMetricFamily(name, documentation, labels=["service"])
            family.add_metric([self.service], float(value))
            yield family
