"""feedback-svc: The customer's side: feedback, SERVQUAL surveys, complaints, corrective actions."""

from pathlib import Path

from fastapi import FastAPI
from pledge_common.app import create_service_app

from feedback_svc.config import Settings

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        service="feedback",
        title="Pledge feedback-svc",
        description="The customer's side: feedback, SERVQUAL surveys, complaints, corrective actions.",
        settings=settings,
        alembic_ini=ALEMBIC_INI,
    )
