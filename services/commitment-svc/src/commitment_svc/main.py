"""commitment-svc: What the organisation promises: processes, nodes, calendars, versioned commitments, agreements."""

from pathlib import Path

from fastapi import FastAPI
from pledge_common.app import create_service_app

from commitment_svc.config import Settings

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        service="commitment",
        title="Pledge commitment-svc",
        description="What the organisation promises: processes, nodes, calendars, versioned commitments, agreements.",
        settings=settings,
        alembic_ini=ALEMBIC_INI,
    )
