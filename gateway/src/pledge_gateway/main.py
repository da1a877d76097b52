"""The gateway: the one public entry of Pledge (routing; security comes with its own issue)."""

from pathlib import Path

from fastapi import FastAPI

from pledge_common.app import create_service_app
from pledge_gateway.config import Settings

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        service="gateway",
        title="Pledge gateway",
        description="The one public entry of Pledge.",
        settings=settings,
        alembic_ini=ALEMBIC_INI,
        produces_feed=False,
    )
