"""tracking-svc: How the work actually runs: tickets and node runs ingested from source systems."""

from pathlib import Path

from fastapi import FastAPI
from pledge_common.app import create_service_app

from tracking_svc.catalogue.consumer import consume_commitment_feed
from tracking_svc.catalogue.router import router as catalogue_router
from tracking_svc.config import Settings
from tracking_svc.ingest.router import router as events_router
from tracking_svc.tickets.router import router as tickets_router

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        service="tracking",
        title="Pledge tracking-svc",
        description="How the work actually runs: tickets and node runs ingested from source systems.",
        settings=settings,
        alembic_ini=ALEMBIC_INI,
        public_routers=[events_router, tickets_router, catalogue_router],
        extra_lifespan=consume_commitment_feed,
    )
