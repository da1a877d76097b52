"""A database that cannot serve is a 503 problem with Retry-After; a fault of the code stays a 500."""

import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pledge_common.db import create_engine, database_unavailable
from pledge_common.observability import Metrics, RequestContextMiddleware
from pledge_common.problems import DATABASE_RETRY_AFTER_SECONDS, install_problem_handlers
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def unreachable() -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"postgresql://postgres@127.0.0.1:{closed_port()}/nothing", "public")
    try:
        yield engine
    finally:
        await engine.dispose()


async def _error_of(engine: AsyncEngine, sql: str = "SELECT 1") -> BaseException:
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    except Exception as err:
        return err
    raise AssertionError("the statement did not fail")


async def test_a_refused_connection_is_unavailability(unreachable: AsyncEngine) -> None:
    assert database_unavailable(await _error_of(unreachable))


async def test_a_session_ended_by_the_server_is_unavailability(database_url: str) -> None:
    """What clients of a server shutting down see: their backend is terminated (57P01)."""
    victim = create_engine(database_url, "public", pool_size=1)
    killer = create_engine(database_url, "public", pool_size=1)
    try:
        async with victim.connect() as conn:
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))
            async with killer.connect() as other:
                await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            with pytest.raises(DBAPIError) as raised:
                await conn.execute(text("SELECT 1"))
        assert database_unavailable(raised.value)
    finally:
        await victim.dispose()
        await killer.dispose()


async def test_a_statement_the_database_refuses_is_not_unavailability(database_url: str) -> None:
    engine = create_engine(database_url, "public", pool_size=1)
    try:
        assert not database_unavailable(await _error_of(engine, "SELECT 1 / 0"))
    finally:
        await engine.dispose()


def test_a_network_error_outside_the_database_driver_is_not_unavailability() -> None:
    with pytest.raises(ConnectionRefusedError) as raised:
        raise ConnectionRefusedError(111, "an upstream refused")
    assert not database_unavailable(raised.value)


def _app(engine: AsyncEngine) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, metrics=Metrics("outagetest"))

    @app.get("/rows")
    async def rows() -> int:
        async with engine.connect() as conn:
            return int(await conn.scalar(text("SELECT 1")) or 0)

    @app.get("/bug")
    async def bug() -> int:
        raise RuntimeError("a fault of the code")

    return app


async def test_a_route_whose_database_is_down_answers_503_with_retry_after(unreachable: AsyncEngine) -> None:
    transport = httpx.ASGITransport(app=_app(unreachable), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        response = await client.get("/rows")
        bug = await client.get("/bug")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == str(DATABASE_RETRY_AFTER_SECONDS)
    assert (response.json()["type"], response.json()["title"]) == (
        "/problems/database-unavailable",
        "Database Unavailable",
    )
    assert bug.status_code == 500
    assert "retry-after" not in bug.headers
