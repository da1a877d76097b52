"""Years of history: node runs in month partitions, an expired month dropped whole while the rollups keep
its counts, and a report reaching before the retention horizon refused (docs/operations.md)."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from evalfactories import at, calendar_w, commitment, node_run, process
from evaluation_svc.config import Settings
from evaluation_svc.history import maintenance
from evaluation_svc.main import ALEMBIC_INI
from evaluation_svc.readmodel.service import Projection
from evaluation_svc.reports.query import build_query
from evaluation_svc.reports.repository import ReportFilter, ReportRepository
from fastapi import FastAPI
from httpx import AsyncClient
from pledge_common.db import create_engine, create_sessionmaker
from pledge_common.partitions import maintain, retention_horizon
from pledge_common.problems import Unprocessable
from pledge_dev import migrate
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
MARCH = (at("2026-03-01 00:00"), at("2026-04-01 00:00"))


@pytest.fixture
async def history(fresh_db_url: str) -> AsyncIterator[AsyncEngine]:
    """A database of its own (partitions are dropped), migrated, with runs of March 2026 recorded in March."""
    await migrate.upgrade_async(ALEMBIC_INI, fresh_db_url)
    engine = create_engine(fresh_db_url, "evaluation", pool_size=2)
    try:
        await maintain(engine, maintenance(Settings()), now=at("2026-03-02 00:00"))
        projection = Projection()
        async with create_sessionmaker(engine)() as session, session.begin():
            await projection.handle_commitment(session, [calendar_w(), process(), commitment()])
            await projection.handle_tracking(
                session,
                [
                    node_run("normal", started=at("2026-03-03 10:00"), completed=at("2026-03-03 15:00")),
                    node_run("acceptable", started=at("2026-03-03 10:00"), completed=at("2026-03-04 11:30")),
                    node_run("warning", started=at("2026-03-03 10:00"), completed=at("2026-03-04 13:30")),
                ],
            )
            # as if projected in March (the projection records a run in the month it first writes it)
            await session.execute(text("UPDATE node_runs SET recorded_at = '2026-03-01 00:00+00'"))
        yield engine
    finally:
        await engine.dispose()


async def partitions_of_node_runs(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'node_runs'::regclass")
        )
        return {r[0] for r in rows}


async def march_states(engine: AsyncEngine) -> dict[str, int]:
    q = build_query(now=NOW, as_of=None, start=MARCH[0], end=MARCH[1], bucket=None, timezone="UTC", group_by=None,
                    default_group=(), flt=ReportFilter(), agreement=None, max_days=366)  # fmt: skip
    async with engine.connect() as conn:
        counts = await ReportRepository(conn).state_counts(q.windows, q.filter, q.group_by)
    return {state: n for _, _, state, _, n in counts if n}


async def test_a_run_lands_in_the_partition_of_the_month_it_was_recorded_in(history: AsyncEngine) -> None:
    async with history.connect() as conn:
        where = await conn.execute(text("SELECT DISTINCT tableoid::regclass::text FROM node_runs"))
        assert [r[0] for r in where] == ["node_runs_p202603"]


async def test_partitions_are_created_ahead_of_the_current_month(history: AsyncEngine) -> None:
    await maintain(history, maintenance(Settings()), now=NOW)
    names = await partitions_of_node_runs(history)
    assert {"node_runs_p202612", "node_runs_p202701", "node_runs_p202702", "node_runs_p202703"} <= names
    assert "node_runs_default" in names


async def test_an_expired_month_is_dropped_and_the_rollups_still_answer(history: AsyncEngine) -> None:
    before = await march_states(history)
    assert before == {"completed_normal": 1, "completed_acceptable": 1, "completed_warning": 1}
    settings = Settings(retention_months=6)
    done = await maintain(history, maintenance(settings), now=NOW)
    assert "-node_runs_p202603" in done["node_runs"]
    assert "node_runs_p202603" not in await partitions_of_node_runs(history)
    async with history.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM node_runs"))).scalar_one() == 0
    assert await march_states(history) == before  # whole hours of March come from the rollups


async def test_a_report_reaching_before_the_retention_horizon_is_refused_naming_from() -> None:
    horizon = retention_horizon(NOW, 6)
    with pytest.raises(Unprocessable) as refused:
        build_query(now=NOW, as_of=None, start=MARCH[0], end=MARCH[1], bucket=None, timezone="UTC", group_by=None,
                    default_group=(), flt=ReportFilter(), agreement=None, max_days=366,
                    retained_from=horizon)  # fmt: skip
    assert refused.value.errors is not None
    assert refused.value.errors[0]["field"] == "query.from"
    assert "beyond retention" in str(refused.value)
    kept = build_query(now=NOW, as_of=None, start=at("2026-07-01 08:00"), end=at("2026-08-01 08:00"), bucket=None,
                       timezone="UTC", group_by=None, default_group=(), flt=ReportFilter(), agreement=None,
                       max_days=366, retained_from=horizon)  # fmt: skip
    assert kept.start is not None


async def test_a_report_of_a_period_beyond_retention_is_a_422_naming_from(app: FastAPI, client: AsyncClient) -> None:
    app.state.settings = app.state.settings.model_copy(update={"retention_months": 6})
    old = {"from": "2024-01-01T00:00:00+08:00", "to": "2024-02-01T00:00:00+08:00"}
    response = await client.get("/v1/reports/status", params=old)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["query.from"]
    recent = {"from": datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0).isoformat(),
              "to": datetime.now(UTC).isoformat()}  # fmt: skip
    assert (await client.get("/v1/reports/status", params=recent)).status_code == 200
