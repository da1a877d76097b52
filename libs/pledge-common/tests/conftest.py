from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pledge_common.db import create_engine, create_sessionmaker
from pledge_common.outbox import CONSUMER_CURSOR_DDL, OUTBOX_DDL, OUTBOX_TRACE_DDL, feed_router
from pledge_common.problems import install_problem_handlers
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

SCHEMA = "feedtest"


@pytest.fixture(scope="session")
async def feed_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A schema with an outbox (producer side) and consumer cursors plus an `applied` table (consumer)."""
    engine = create_engine(database_url, SCHEMA, pool_size=8)
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        for statement in (*OUTBOX_DDL, *OUTBOX_TRACE_DDL, *CONSUMER_CURSOR_DDL):
            await conn.execute(text(statement))
        await conn.execute(text("CREATE TABLE applied (seq bigint, key text, applied_at timestamptz DEFAULT now())"))
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def clean_feed(feed_engine: AsyncEngine) -> AsyncEngine:
    async with feed_engine.begin() as conn:
        await conn.execute(text("TRUNCATE outbox, consumer_cursors, applied"))
    return feed_engine


@pytest.fixture
async def feed_client(clean_feed: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.engine = clean_feed
    app.state.sessionmaker = create_sessionmaker(clean_feed)
    app.include_router(feed_router(), prefix="/internal")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://producer") as client:
        yield client
