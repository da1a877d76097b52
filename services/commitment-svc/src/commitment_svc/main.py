"""commitment-svc: What the organisation promises: processes, nodes, calendars, versioned commitments, agreements."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI
from pledge_common.app import create_service_app
from pledge_common.internal import make_http_client

from commitment_svc.agreements.router import router as agreements_router
from commitment_svc.calendars.router import router as calendars_router
from commitment_svc.clients.evaluation import EvaluationClient
from commitment_svc.commitments.router import router as commitments_router
from commitment_svc.config import Settings
from commitment_svc.deadlines.router import router as deadlines_router
from commitment_svc.departments.router import router as departments_router
from commitment_svc.examples import EXAMPLES
from commitment_svc.processes.router import router as processes_router
from commitment_svc.segments.router import router as segments_router
from commitment_svc.services.router import router as services_router

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def create_app(
    settings: Settings | None = None, evaluation_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """The app; `evaluation_transport` replaces the network to evaluation-svc (tests only)."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def upstreams(app: FastAPI) -> AsyncIterator[None]:
        if evaluation_transport is not None:
            http = httpx.AsyncClient(base_url=settings.evaluation_url, transport=evaluation_transport)
        else:
            http = make_http_client(
                settings.evaluation_url, timeout=settings.evaluation_timeout, token=settings.service_token
            )
        app.state.evaluation = EvaluationClient(http)
        try:
            yield
        finally:
            await app.state.evaluation.aclose()

    return create_service_app(
        service="commitment",
        title="Pledge commitment-svc",
        description="What the organisation promises: processes, nodes, calendars, versioned commitments, agreements.",
        settings=settings,
        alembic_ini=ALEMBIC_INI,
        public_routers=[
            departments_router,
            segments_router,
            calendars_router,
            processes_router,
            services_router,
            commitments_router,
            agreements_router,
            deadlines_router,
        ],
        extra_lifespan=upstreams,
        examples=EXAMPLES,
    )
