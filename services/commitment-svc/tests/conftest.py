import pytest
from commitment_svc.config import Settings
from commitment_svc.main import ALEMBIC_INI, create_app
from pledge_dev.testing import ServiceSpec


@pytest.fixture(scope="session")
def service_spec() -> ServiceSpec:
    return ServiceSpec(name="commitment", alembic_ini=ALEMBIC_INI, create_app=create_app, settings_factory=Settings)
