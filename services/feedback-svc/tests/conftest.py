from typing import Any

import httpx
import pytest
from feedback_svc.config import Settings
from feedback_svc.main import ALEMBIC_INI, create_app
from pledge_dev.testing import ServiceSpec
from upstreams import Upstreams

UPSTREAMS = Upstreams()


def _create_app(settings: Settings | None = None) -> Any:
    return create_app(settings, upstream_transport=httpx.MockTransport(UPSTREAMS.handle))


@pytest.fixture(scope="session")
def service_spec() -> ServiceSpec:
    return ServiceSpec(
        name="feedback",
        alembic_ini=ALEMBIC_INI,
        create_app=_create_app,
        settings_factory=Settings,
        env={"run_sender": "false", "run_ticket_consumer": "false"},
    )


@pytest.fixture(autouse=True)
def upstreams() -> Upstreams:
    """tracking-svc and evaluation-svc as seen over the network, fresh for every test."""
    UPSTREAMS.reset()
    return UPSTREAMS
