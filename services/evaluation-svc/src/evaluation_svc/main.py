"""evaluation-svc: How far the real service is from the promise: seven states, reports, alerts."""

from pathlib import Path

from fastapi import FastAPI
from pledge_common.app import create_service_app

from evaluation_svc.config import Settings

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        service="evaluation",
        title="Pledge evaluation-svc",
        description="How far the real service is from the promise: seven states, reports, alerts.",
        settings=settings,
        alembic_ini=ALEMBIC_INI,
    )
