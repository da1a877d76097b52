"""tracking-svc: How the work actually runs: tickets and node runs ingested from source systems, and the facts
of services (outages, samples, occurrences, deliverables)."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pledge_common.app import create_service_app
from pledge_common.db import unit_of_work
from pledge_common.partitions import maintenance_step

from tracking_svc.catalogue.consumer import register_commitment_consumer
from tracking_svc.catalogue.router import router as catalogue_router
from tracking_svc.config import Settings
from tracking_svc.examples import EXAMPLES
from tracking_svc.facts.integrations import mappings_router, webhook_router
from tracking_svc.facts.router import router as facts_router
from tracking_svc.facts.schemas import openapi_components as fact_components
from tracking_svc.history import maintenance
from tracking_svc.ingest.coalesce import SingleEvents
from tracking_svc.ingest.router import router as events_router
from tracking_svc.ingest.schemas import openapi_components
from tracking_svc.tickets.router import router as tickets_router

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
# Bulk ingest allocates ~20 container objects per event that all die by reference counting; with the
# default thresholds (700, 10, 10) the cyclic collector ran thousands of times per 10 000-event chunk and
# took about a third of the service's CPU (bench/ingest.py). Collect young objects every 100 000
# allocations instead, and keep the objects that live as long as the process out of every collection.
GC_THRESHOLDS = (100_000, 50, 100)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()  # everything built at startup (modules, app, engine) is never garbage
    app.state.single_events = SingleEvents(lambda: unit_of_work(app), app.state.settings)
    settings: Settings = app.state.settings
    register_commitment_consumer(app)
    if settings.run_maintenance:
        step = maintenance_step(app.state.engine, maintenance(settings))
        app.state.workers.add_polling(
            "partition-maintenance", step, interval=settings.maintenance_interval_seconds, kind="maintenance"
        )
    yield


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = create_service_app(
        service="tracking",
        title="Pledge tracking-svc",
        description="How the work actually runs: tickets and node runs ingested from source systems.",
        settings=settings,
        alembic_ini=ALEMBIC_INI,
        public_routers=[events_router, tickets_router, catalogue_router, facts_router, mappings_router, webhook_router],
        extra_lifespan=lifespan,
        # checked per item by ingest (one bad item never refuses the others); Alertmanager's firing alerts carry
        # the zero instant `endsAt: 0001-01-01T00:00:00Z`, which the webhook ignores rather than refuses
        raw_bodies=["/v1/events/bulk", "/v1/service-facts/bulk", "/v1/integrations/alertmanager$"],
        examples=EXAMPLES,
    )
    _document_event_format(app)
    return app


def _document_event_format(app: FastAPI) -> None:
    """The ingest routes decode raw bodies (msgspec); their OpenAPI document names the event schemas."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(openapi_components())
            components.update(fact_components())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
