"""evaluation-svc: How far the real service is from the promise: seven states, reports, alerts."""

import gc
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from pledge_common.app import create_service_app
from pledge_common.consumer import FeedConsumer
from pledge_common.internal import make_http_client
from pledge_common.outbox import FeedEvent
from pledge_common.partitions import maintenance_step
from pledge_common.tracing import traced_batch
from pledge_common.workers import Workers
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.alerts.router import router as alerts_router
from evaluation_svc.alerts.service import AlertScanner
from evaluation_svc.backlog import refresh_backlogs
from evaluation_svc.config import Settings
from evaluation_svc.examples import EXAMPLES
from evaluation_svc.history import maintenance
from evaluation_svc.insights.router import router as insights_router
from evaluation_svc.kinds.router import router as kinds_router
from evaluation_svc.kpis.router import routers as kpi_routers
from evaluation_svc.notify.router import ROUTERS as NOTIFY_ROUTERS
from evaluation_svc.notify.service import Notifier
from evaluation_svc.readmodel.service import Projection
from evaluation_svc.rejudge.router import internal as rejudge_internal
from evaluation_svc.rejudge.router import router as rejudge_router
from evaluation_svc.rejudge.service import apply_requested
from evaluation_svc.reports.router import router as reports_router
from evaluation_svc.settlement.router import router as settlement_router
from evaluation_svc.settlement.satisfaction import FeedbackClient
from evaluation_svc.webhooks.outbound import outbound
from evaluation_svc.webhooks.router import router as webhooks_router
from evaluation_svc.webhooks.service import WebhookSender

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
# The projection allocates a few dozen short-lived objects per node-run change, all freed by reference
# counting; with the default thresholds (700, 10, 10) the cyclic collector ran many times per feed page.
# Collect young objects every 100 000 allocations, and keep the startup objects out of every collection.
GC_THRESHOLDS = (100_000, 50, 100)


def make_consumers(app: FastAPI, settings: Settings, projection: Projection) -> list[FeedConsumer]:
    """The feed consumers of this service: commitment definitions, and tracking's node runs in
    `tracking_partitions` partitions (every change of one run falls in one partition, in order)."""

    # Names carry the service so that cursors and logs read unambiguously (leases are keyed by schema too).
    async def handle_commitment(session: AsyncSession, events: Sequence[FeedEvent]) -> None:
        # a re-judging act first: it puts its versions in force itself and records every run it takes over
        await apply_requested(session, projection, events)
        await projection.handle_commitment(session, events)

    feeds = [("evaluation.commitment", settings.commitment_url, handle_commitment, 0, 1)]
    partitions = settings.tracking_partitions
    feeds += [("evaluation.tracking", settings.tracking_url, projection.handle_tracking, k, partitions)
              for k in range(partitions)]  # fmt: skip
    return [
        FeedConsumer(
            name=name,
            client=make_http_client(url, token=settings.service_token),
            feed_path="/internal/v1/events",
            engine=app.state.engine,
            sessionmaker=app.state.sessionmaker,
            handler=traced_batch(name, handler),
            batch_size=settings.feed_batch_size,
            wait=settings.feed_wait_seconds,
            partition=partition,
            partitions=count,
        )
        for name, url, handler, partition, count in feeds
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    projection = Projection(builtin_calendar=settings.builtin_calendar, rollup_timezone=settings.rollup_timezone)

    @asynccontextmanager
    async def background(app: FastAPI) -> AsyncIterator[None]:
        gc.set_threshold(*GC_THRESHOLDS)
        gc.freeze()  # modules, app, engine: never garbage
        app.state.projection = projection
        consumers = make_consumers(app, settings, projection)
        app.state.consumers = {c.name: c for c in consumers}
        scanner = AlertScanner(
            app.state.sessionmaker,
            settings.scanner_interval,
            settings.scanner_batch_size,
            settings.alert_settle_seconds,
            settings.alert_late_after,
        )
        sender = WebhookSender(app.state.sessionmaker, settings)
        feedback = None
        if settings.feedback_url:
            http = make_http_client(settings.feedback_url, timeout=settings.feedback_timeout_seconds)
            feedback = FeedbackClient(http, settings.service_token)
        app.state.feedback = feedback
        notifier = Notifier(app.state.sessionmaker, settings, feedback)
        app.state.notifier = notifier
        app.state.scanner, app.state.sender = scanner, sender
        workers: Workers = app.state.workers
        if settings.consume_feeds:
            for consumer in consumers:
                consumer.register(workers)
        if settings.run_scanner:
            workers.add_polling("alert-scanner", scanner.round, interval=settings.scanner_interval, kind="scanner")
        if settings.run_webhooks:
            workers.add_polling("webhook-sender", sender.round, interval=settings.webhook_poll_seconds, kind="sender")
        if settings.run_notifications:
            workers.add_polling("notifier", notifier.round, interval=settings.notify_poll_seconds, kind="sender")
        if settings.run_maintenance:
            step = maintenance_step(app.state.engine, maintenance(settings))
            workers.add_polling(
                "partition-maintenance", step, interval=settings.maintenance_interval_seconds, kind="maintenance"
            )
        try:
            yield  # the app starts the workers now, and stops them before what follows
        finally:
            if not settings.consume_feeds:  # else closed with the workers
                for consumer in consumers:
                    await consumer.client.aclose()
            await sender.aclose()
            await notifier.aclose()
            if feedback is not None:
                await feedback.aclose()

    app = create_service_app(
        service="evaluation",
        title="Pledge evaluation-svc",
        description="How far the real service is from the promise: seven states, reports, alerts.",
        settings=settings,
        alembic_ini=ALEMBIC_INI,
        public_routers=[
            insights_router,
            settlement_router,
            rejudge_router,
            reports_router,
            kinds_router,
            *kpi_routers,
            alerts_router,
            webhooks_router,
            *NOTIFY_ROUTERS,
        ],
        internal_routers=[rejudge_internal],
        extra_lifespan=background,
        examples=EXAMPLES,
        webhooks=outbound,
    )
    app.state.metrics.on_scrape(lambda: refresh_backlogs(app.state.engine))
    return app
