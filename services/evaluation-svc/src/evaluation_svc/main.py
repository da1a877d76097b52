"""evaluation-svc: How far the real service is from the promise: seven states, reports, alerts."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from pledge_common.app import create_service_app
from pledge_common.consumer import FeedConsumer
from pledge_common.internal import make_http_client

from evaluation_svc.config import Settings
from evaluation_svc.readmodel.service import Projection
from evaluation_svc.reports.router import router as reports_router

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def make_consumers(app: FastAPI, settings: Settings, projection: Projection) -> list[FeedConsumer]:
    """The two feed consumers of this service (commitment definitions, tracking's node runs)."""
    consumers = []
    for name, url, handler in (
        ("commitment", settings.commitment_url, projection.handle_commitment),
        ("tracking", settings.tracking_url, projection.handle_tracking),
    ):
        consumers.append(
            FeedConsumer(
                name=name,
                client=make_http_client(url, token=settings.service_token),
                feed_path="/internal/v1/events",
                engine=app.state.engine,
                sessionmaker=app.state.sessionmaker,
                handler=handler,
                batch_size=settings.feed_batch_size,
                wait=settings.feed_wait_seconds,
            )
        )
    return consumers


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    projection = Projection()

    @asynccontextmanager
    async def background(app: FastAPI) -> AsyncIterator[None]:
        app.state.projection = projection
        consumers = make_consumers(app, settings, projection)
        app.state.consumers = {c.name: c for c in consumers}
        tasks: list[asyncio.Task[None]] = []
        if settings.consume_feeds:
            tasks += [asyncio.create_task(c.run(), name=f"consumer-{c.name}") for c in consumers]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for consumer in consumers:
                await consumer.client.aclose()

    return create_service_app(
        service="evaluation",
        title="Pledge evaluation-svc",
        description="How far the real service is from the promise: seven states, reports, alerts.",
        settings=settings,
        alembic_ini=ALEMBIC_INI,
        public_routers=[reports_router],
        extra_lifespan=background,
    )
