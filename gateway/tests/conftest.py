from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pledge_dev.testing import ServiceSpec
from pledge_gateway.config import Settings
from pledge_gateway.keys.schemas import ApiKeyCreate
from pledge_gateway.keys.service import create_key
from pledge_gateway.main import ALEMBIC_INI, create_app
from pledge_gateway.routes import Scope
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from upstream_stub import STATE, TOKEN, running_stubs

GatewayFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture(scope="session")
def upstreams() -> Iterator[dict[str, str]]:
    with running_stubs() as urls:
        yield urls


@pytest.fixture(scope="session")
def service_spec(upstreams: dict[str, str]) -> ServiceSpec:
    env = {f"{service}_url": url for service, url in upstreams.items()}
    env["PLEDGE_SERVICE_TOKEN"] = TOKEN
    env["PLEDGE_ENVIRONMENT"] = "test"
    return ServiceSpec(
        name="gateway",
        alembic_ini=ALEMBIC_INI,
        create_app=create_app,
        settings_factory=Settings,
        env=env,
        produces_feed=False,
    )


@pytest.fixture(autouse=True)
def stub_state() -> Iterator[dict[str, dict[str, Any]]]:
    """Every test starts with healthy upstreams."""
    for state in STATE.values():
        state.update(ready=True, openapi=True, down_parts=False)
    yield STATE
    for state in STATE.values():
        state.update(ready=True, openapi=True, down_parts=False)


@pytest.fixture
async def clean_keys(engine: AsyncEngine) -> None:
    """Tests with API keys commit for real (the edge looks keys up on its own connections)."""
    async with engine.begin() as conn:
        await conn.execute(text("TRUNCATE api_keys"))


@pytest.fixture
def make_gateway(service_spec: ServiceSpec, migrated_url: str) -> GatewayFactory:
    """A gateway app with real commits and settings overrides, and a client on it."""

    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        values: dict[str, Any] = {"database_url": migrated_url, **service_spec.env, **overrides}
        application = create_app(Settings(**values))
        async with LifespanManager(application):
            transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
                yield client

    return factory


async def new_key(
    engine: AsyncEngine,
    scopes: list[Scope],
    sources: list[str] | None = None,
    name: str = "test key",
    **extra: Any,
) -> tuple[str, str]:
    """A committed key: (full key, id)."""
    from pledge_common.db import create_sessionmaker

    async with create_sessionmaker(engine)() as session:
        data = ApiKeyCreate(name=name, scopes=scopes, sources=sources, **extra)
        created = await create_key(session, data, None, rate_limit_classes=data.rate_limits.keys())
        await session.commit()
    return created.key, str(created.id)


@pytest.fixture
async def admin_key(engine: AsyncEngine, clean_keys: None) -> str:
    key, _ = await new_key(engine, [Scope.admin], name="admin")
    return key
