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


SERVICE_INSERT = text(
    "INSERT INTO commitment_versions (id, commitment_key, version, kind, service_key, obligation_key, segment_key,"
    " limit_unit, commitment_limit, tolerance_limit, objective, calendar_key, status, effective_from)"
    " VALUES (:id, :key, 1, :kind, 'race-svc', :obligation, 'default', 'duration', interval '4 hours',"
    " interval '8 hours', '{}'::jsonb, '24x7', 'active', :start)"
)


async def _clean_service(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM commitment_versions WHERE service_key = 'race-svc'"))
        await conn.execute(text("DELETE FROM services WHERE key = 'race-svc'"))


async def _insert_kind(conn: AsyncConnection, key: str, kind: str, obligation: str | None, start: datetime) -> None:
    values = {"id": uuid.uuid4(), "key": key, "kind": kind, "obligation": obligation, "start": start}
    await conn.execute(SERVICE_INSERT, values)


async def test_one_version_of_a_kind_governs_a_service_at_once_whoever_commits_first(engine: AsyncEngine) -> None:
    await _clean_service(engine)
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO services (key, name) VALUES ('race-svc', 'Race')"))
    try:
        async with engine.connect() as first, engine.connect() as second:
            await first.begin()
            await second.begin()
            await _insert_kind(first, "up-a", "availability", None, datetime(2026, 1, 1, tzinfo=UTC))
            blocked = asyncio.create_task(
                _insert_kind(second, "up-b", "availability", None, datetime(2026, 2, 1, tzinfo=UTC))
            )
            await asyncio.sleep(0.2)
            assert not blocked.done()
            await first.commit()
            with pytest.raises(IntegrityError, match="commitment_versions_one_governs"):
                await blocked
            await second.rollback()
        async with engine.begin() as conn:  # another kind, or another obligation, is another subject
            await _insert_kind(conn, "backup", "frequency", "db-backup", datetime(2026, 1, 1, tzinfo=UTC))
            await _insert_kind(conn, "report", "frequency", "monthly-report", datetime(2026, 1, 1, tzinfo=UTC))
        async with engine.connect() as conn:
            keys = (
                await conn.execute(
                    text("SELECT commitment_key FROM commitment_versions WHERE service_key = 'race-svc' ORDER BY 1")
                )
            ).scalars()
            assert list(keys) == ["backup", "report", "up-a"]
    finally:
        await _clean_service(engine)


async def test_the_database_refuses_a_version_whose_fields_do_not_fit_its_kind(engine: AsyncEngine) -> None:
    await _clean_service(engine)
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO services (key, name) VALUES ('race-svc', 'Race')"))
    try:
        for kind, obligation, constraint in (
            ("availability", "uptime", "commitment_versions_kind_subject"),
            ("frequency", None, "commitment_versions_kind_subject"),
            ("clause", "training", "commitment_versions_kind_limits"),
        ):
            async with engine.connect() as conn:
                await conn.begin()
                with pytest.raises(IntegrityError, match=constraint):
                    await _insert_kind(conn, "bad", kind, obligation, datetime(2026, 1, 1, tzinfo=UTC))
                await conn.rollback()
    finally:
        await _clean_service(engine)
