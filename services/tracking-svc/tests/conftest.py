import pytest
from pledge_dev.testing import ServiceSpec
from tracking_svc.config import Settings
from tracking_svc.main import ALEMBIC_INI, create_app


@pytest.fixture(scope="session")
def service_spec() -> ServiceSpec:
    return ServiceSpec(name="tracking", alembic_ini=ALEMBIC_INI, create_app=create_app, settings_factory=Settings)
