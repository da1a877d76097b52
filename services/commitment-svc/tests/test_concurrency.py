"""Two transactions activating overlapping versions at once: the database lets exactly one commit."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

INSERT = text(
    "INSERT INTO commitment_versions (id, commitment_key, version, process_key, node_key, segment_key, limit_unit,"
    " commitment_limit, tolerance_limit, calendar_key, status, effective_from)"
    " VALUES (:id, :key, 1, 'race', 'step', 'default', 'duration', interval '1 hour', interval '2 hours', '24x7',"
    " 'active', :start)"
)


async def _clean(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM commitment_versions WHERE process_key = 'race'"))
        await conn.execute(text("DELETE FROM process_nodes WHERE process_key = 'race'"))
        await conn.execute(text("DELETE FROM processes WHERE key = 'race'"))


async def _insert(conn: AsyncConnection, key: str, start: datetime) -> None:
    await conn.execute(INSERT, {"id": uuid.uuid4(), "key": key, "start": start})


async def test_concurrent_overlapping_activations_commit_only_one(engine: AsyncEngine) -> None:
    await _clean(engine)
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO processes (key, name) VALUES ('race', 'Race')"))
        await conn.execute(
            text("INSERT INTO process_nodes (process_key, key, name, position) VALUES ('race', 'step', 'S', 1)")
        )
    try:
        async with engine.connect() as first, engine.connect() as second:
            await first.begin()
            await second.begin()
            await _insert(first, "a", datetime(2026, 1, 1, tzinfo=UTC))
            blocked = asyncio.create_task(_insert(second, "b", datetime(2026, 2, 1, tzinfo=UTC)))
            await asyncio.sleep(0.2)  # the second insert waits on the first transaction's index entry
            assert not blocked.done()
            await first.commit()
            with pytest.raises(IntegrityError, match="commitment_versions_one_governs"):
                await blocked
            await second.rollback()
        async with engine.connect() as conn:
            keys = (
                (await conn.execute(text("SELECT commitment_key FROM commitment_versions WHERE process_key = 'race'")))
                .scalars()
                .all()
            )
        assert keys == ["a"]
    finally:
        await _clean(engine)
