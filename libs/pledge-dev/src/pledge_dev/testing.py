"""Pytest plugin (auto-loaded): a real Postgres per test session, migrated by Alembic, each test in a
rolled-back outer transaction, and an httpx client over ASGI for the app.

A service's tests/conftest.py only declares `service_spec`; everything else comes from here.
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pledge_common.db import _request_session, create_engine
from pledge_common.internal import internal_headers as internal_auth
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from pledge_dev import migrate
from pledge_dev.pg import create_database, drop_database, server_url


@dataclass
class ServiceSpec:
    name: str  # also the schema name
    alembic_ini: Path
    create_app: Callable[..., FastAPI]
    settings_factory: Callable[..., Any]
    env: dict[str, str] = field(default_factory=dict)
    produces_feed: bool = True


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The server tests run on: DATABASE_URL if set, else the embedded one under .data/pgtest."""
    return server_url("test")


@pytest.fixture(scope="session")
async def database_url(pg_server_url: str) -> AsyncIterator[str]:
    """A brand-new database for this test session, dropped at the end (runs never see each other)."""
    url = await create_database(pg_server_url)
    try:
        yield url
    finally:
        await drop_database(pg_server_url, url)


@pytest.fixture(scope="session")
async def migrated_url(service_spec: ServiceSpec, database_url: str) -> str:
    await migrate.upgrade_async(service_spec.alembic_ini, database_url)
    return database_url


@pytest.fixture(scope="session")
async def engine(service_spec: ServiceSpec, migrated_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(migrated_url, service_spec.name, pool_size=5)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside an outer transaction that is rolled back after the test."""
    async with engine.connect() as conn:
        outer = await conn.begin()
        try:
            yield conn
        finally:
            if outer.is_active:
                await outer.rollback()


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """The session routes get in tests: its commits are savepoints of the outer transaction."""
    async with AsyncSession(
        bind=connection, expire_on_commit=False, autoflush=False, join_transaction_mode="create_savepoint"
    ) as s:
        yield s


@pytest.fixture
def settings(service_spec: ServiceSpec, migrated_url: str) -> Any:
    return service_spec.settings_factory(database_url=migrated_url, environment="test", **service_spec.env)


@pytest.fixture
async def app(service_spec: ServiceSpec, settings: Any, session: AsyncSession) -> AsyncIterator[FastAPI]:
    application = service_spec.create_app(settings)

    async def test_session() -> AsyncIterator[AsyncSession]:
        # mirror the real dependency: a failed request leaves nothing half-written
        savepoint = await session.begin_nested()
        try:
            yield session
        except BaseException:
            if savepoint.is_active:
                await savepoint.rollback()
            raise
        else:
            if savepoint.is_active:
                await savepoint.commit()

    application.dependency_overrides[_request_session] = test_session
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
def internal_headers(settings: Any) -> dict[str, str]:
    return internal_auth(settings.service_token)


async def table_count(conn: AsyncConnection | AsyncSession, table: str) -> int:
    return int(await conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def fresh_db_url(pg_server_url: str) -> Iterator[str]:
    """A separate empty database for one test (migration round trips)."""
    url = asyncio.run(create_database(pg_server_url))
    try:
        yield url
    finally:
        asyncio.run(drop_database(pg_server_url, url))
