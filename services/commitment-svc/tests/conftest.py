from typing import Any

import httpx
import pytest
from commitment_svc.config import Settings
from commitment_svc.main import ALEMBIC_INI, create_app
from fastapi import FastAPI
from pledge_dev.testing import ServiceSpec
from support import W_CALENDAR, FakeEvaluation, ok

EVALUATION = FakeEvaluation()


def create_test_app(settings: Settings) -> FastAPI:
    """The app with evaluation-svc (outside this service) answered by `EVALUATION` instead of the network."""
    return create_app(settings, evaluation_transport=httpx.MockTransport(EVALUATION.handle))


@pytest.fixture(scope="session")
def service_spec() -> ServiceSpec:
    return ServiceSpec(
        name="commitment", alembic_ini=ALEMBIC_INI, create_app=create_test_app, settings_factory=Settings
    )


@pytest.fixture(autouse=True)
def evaluation() -> FakeEvaluation:
    """evaluation-svc as seen over the network: by default no judged run would change; fresh for every test."""
    EVALUATION.reset()
    return EVALUATION


@pytest.fixture
async def org(client: httpx.AsyncClient) -> dict[str, Any]:
    """Departments, a segment, calendar W of DESIGN.md and a three-node repair process."""
    await ok(
        await client.put(
            "/v1/departments/ops",
            json={"name": "Operations", "positions": [{"key": "dispatcher", "name": "Dispatcher"}]},
        ),
        201,
    )
    await ok(await client.put("/v1/departments/field", json={"name": "Field crews", "parent_key": "ops"}), 201)
    await ok(await client.put("/v1/segments/vip", json={"name": "VIP"}), 201)
    await ok(await client.put("/v1/calendars/w", json=W_CALENDAR), 201)
    process = await ok(
        await client.put(
            "/v1/processes/repair",
            json={
                "name": "Fault repair",
                "owner_department": "ops",
                "nodes": [
                    {"key": "dispatch", "name": "Dispatch", "department": "ops", "position_key": "dispatcher"},
                    {"key": "arrive", "name": "Arrive on site", "department": "field"},
                    {"key": "restore", "name": "Restore", "department": "field"},
                ],
            },
        ),
        201,
    )
    return {"process": process}
