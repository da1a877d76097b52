"""commitment-svc: What the organisation promises: processes, nodes, calendars, versioned commitments, agreements."""

from pathlib import Path

from fastapi import FastAPI
from pledge_common.app import create_service_app

from commitment_svc.agreements.router import router as agreements_router
from commitment_svc.calendars.router import router as calendars_router
from commitment_svc.commitments.router import router as commitments_router
from commitment_svc.config import Settings
from commitment_svc.deadlines.router import router as deadlines_router
from commitment_svc.departments.router import router as departments_router
from commitment_svc.processes.router import router as processes_router
from commitment_svc.segments.router import router as segments_router

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
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
            commitments_router,
            agreements_router,
            deadlines_router,
        ],
    )
