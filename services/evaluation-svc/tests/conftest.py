import pytest
from evaluation_svc.config import Settings
from evaluation_svc.main import ALEMBIC_INI, create_app
from pledge_dev.testing import ServiceSpec


@pytest.fixture(scope="session")
def service_spec() -> ServiceSpec:
    return ServiceSpec(name="evaluation", alembic_ini=ALEMBIC_INI, create_app=create_app, settings_factory=Settings)
