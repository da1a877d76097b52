"""Month partitions created ahead, expired ones dropped whole, and the scheduled purge of idempotency keys,
on a real Postgres."""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from pledge_common.db import create_engine
from pledge_common.idempotency import IDEMPOTENCY_DDL, purge_expired_keys
from pledge_common.partitions import (
    Maintenance,
    PartitionedTable,
    expired,
    maintain,
    maintenance_step,
    months_wanted,
    partitions,
    retention_horizon,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

SCHEMA = "partitiontest"
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
LOG = PartitionedTable(SCHEMA, "log", "at")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A schema with a table partitioned by month on `at` (no partition yet) and an idempotency table."""
    engine = create_engine(database_url, SCHEMA, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        await conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        await conn.execute(
            text("CREATE TABLE log (id bigint, at timestamptz NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)")
        )
        for statement in IDEMPOTENCY_DDL:
            await conn.execute(text(statement))
    try:
        yield engine
    finally:
        async with engine.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA {SCHEMA} CASCADE"))
        await engine.dispose()


async def names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await partitions(conn, LOG))


async def partition_of(engine: AsyncEngine, row_id: int) -> str:
    async with engine.connect() as conn:
        return str(
            (
                await conn.execute(text("SELECT tableoid::regclass::text FROM log WHERE id = :i"), {"i": row_id})
            ).scalar_one()
        )


def test_the_months_wanted_run_from_the_current_one_to_ahead() -> None:
    assert months_wanted(NOW, 2) == [date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)]


def test_a_month_expires_once_it_ended_before_the_retention_cutoff() -> None:
    parts = ["log_p202510", "log_p202511", "log_p202512", "log_default", "other_p202001"]
    assert expired("log", parts, NOW, 12) == ["log_p202510", "log_p202511"]
    assert retention_horizon(NOW, 12) == datetime(2025, 12, 1, tzinfo=UTC)
    assert retention_horizon(NOW, None) is None


async def test_partitions_are_created_ahead_with_a_default(engine: AsyncEngine) -> None:
    await maintain(engine, Maintenance(tables=[LOG], ahead=3), now=NOW)
    assert await names(engine) == {"log_default", "log_p202612", "log_p202701", "log_p202702", "log_p202703"}
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO log VALUES (1, '2027-03-15+00'), (2, '2031-01-01+00')"))
    assert await partition_of(engine, 1) == "log_p202703"
    assert await partition_of(engine, 2) == "log_default"


async def test_a_month_already_in_the_default_partition_gets_its_own_with_its_rows(engine: AsyncEngine) -> None:
    await maintain(engine, Maintenance(tables=[LOG], ahead=1), now=NOW)
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO log VALUES (1, '2027-02-10+00')"))
    assert await partition_of(engine, 1) == "log_default"
    await maintain(engine, Maintenance(tables=[LOG], ahead=1), now=NOW + timedelta(days=31))  # now in January
    assert await partition_of(engine, 1) == "log_p202702"


async def test_retention_drops_expired_months_whole_and_keeps_the_rest(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for month in ("2025-10", "2025-11", "2025-12"):
            m = f"{month.replace('-', '')}"
            end = {"2025-10": "2025-11", "2025-11": "2025-12", "2025-12": "2026-01"}[month]
            await conn.execute(
                text(f"CREATE TABLE log_p{m} PARTITION OF log FOR VALUES FROM ('{month}-01+00') TO ('{end}-01+00')")
            )
        await conn.execute(
            text("INSERT INTO log VALUES (1, '2025-10-05+00'), (2, '2025-11-30+00'), (3, '2025-12-01+00')")
        )
        await conn.execute(text("CREATE TABLE gone (id bigint, at timestamptz)"))
        await conn.execute(text("INSERT INTO gone VALUES (1, '2025-11-30+00'), (3, '2025-12-01+00')"))
    plan = Maintenance(
        tables=[LOG], ahead=1, retention_months=12, after_retention=["DELETE FROM gone WHERE at < :cutoff"]
    )
    done = await maintain(engine, plan, now=NOW)
    assert sorted(n for n in done["log"] if n.startswith("-")) == ["-log_p202510", "-log_p202511"]
    left = await names(engine)
    assert {"log_p202512", "log_default"} <= left
    assert "log_p202511" not in left
    async with engine.connect() as conn:
        assert [r[0] for r in await conn.execute(text("SELECT id FROM log ORDER BY id"))] == [3]
        assert [r[0] for r in await conn.execute(text("SELECT id FROM gone ORDER BY id"))] == [3]


async def test_without_retention_nothing_is_dropped(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE log_p200001 PARTITION OF log FOR VALUES FROM ('2000-01-01+00') TO ('2000-02-01+00')")
        )
    await maintain(engine, Maintenance(tables=[LOG]), now=NOW)
    assert "log_p200001" in await names(engine)


async def test_the_scheduled_purge_deletes_only_expired_idempotency_keys(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO idempotency_keys"
                " (caller, key, request_hash, status_code, response_body, created_at, expires_at)"
                " SELECT 'api_key:k', 'old-' || g, '\\x00'::bytea, 201, '{}', now() - interval '2 days',"
                " now() - interval '1 day'"
                " FROM generate_series(1, 12) g"
                " UNION ALL SELECT 'api_key:k', 'live', '\\x00', 201, '{}', now() - interval '1 hour',"
                " now() + interval '1 hour'"
            )
        )
    assert await purge_expired_keys(engine, batch=5) == 12
    async with engine.connect() as conn:
        assert [r[0] for r in await conn.execute(text("SELECT key FROM idempotency_keys"))] == ["live"]


async def test_maintenance_runs_the_purge_in_the_same_pass(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO idempotency_keys"
                " (caller, key, request_hash, status_code, response_body, created_at, expires_at)"
                " VALUES ('user:u', 'old', '\\x00', 200, '{}', now() - interval '2 days', now() - interval '1 day')"
            )
        )
    await maintain(engine, Maintenance(tables=[LOG], also=[purge_expired_keys]), now=NOW)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM idempotency_keys"))).scalar_one() == 0


async def test_the_worker_round_makes_the_partitions_and_a_failed_pass_waits_for_the_next(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    step = maintenance_step(engine, Maintenance(tables=[LOG], ahead=1))
    assert await step() is False  # a round, then the kit waits its interval
    this_month = datetime.now(UTC).strftime("log_p%Y%m")  # the step runs at the real now
    assert {"log_default", this_month} <= await names(engine)
    away = create_engine("postgresql://postgres@127.0.0.1:1/nowhere", SCHEMA, pool_size=1)  # nothing listens
    try:
        failing = maintenance_step(away, Maintenance(tables=[LOG], ahead=1))
        assert await failing() is False  # logged, not raised: the worker is not restarted nor the service unready
    finally:
        await away.dispose()
    assert "partition maintenance failed" in caplog.text
