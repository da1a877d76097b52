from typing import Any

import pytest
from evaluation_svc.config import Settings
from evaluation_svc.main import ALEMBIC_INI, create_app
from pledge_dev.testing import ServiceSpec

# background loops are driven by hand in tests; webhook receivers run on loopback
TEST_ENV: dict[str, Any] = {
    "consume_feeds": False,
    "run_scanner": False,
    "run_webhooks": False,
    "webhook_allowed_networks": ["127.0.0.0/8"],
}


@pytest.fixture(scope="session")
def service_spec() -> ServiceSpec:
    return ServiceSpec(
        name="evaluation", alembic_ini=ALEMBIC_INI, create_app=create_app, settings_factory=Settings, env=TEST_ENV
    )
