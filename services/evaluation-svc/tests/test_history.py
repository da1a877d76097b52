"""Years of history: evaluation's node runs stay one table (maintenance leaves it alone, docs/operations.md
says why), and a report reaching before the retention horizon is refused."""

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
    """A database of its own, migrated, with runs of March 2026."""
    await migrate.upgrade_async(ALEMBIC_INI, fresh_db_url)
    engine = create_engine(fresh_db_url, "evaluation", pool_size=2)
    try:
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
        yield engine
    finally:
        await engine.dispose()


async def march_states(engine: AsyncEngine) -> dict[str, int]:
    q = build_query(now=NOW, as_of=None, start=MARCH[0], end=MARCH[1], bucket=None, timezone="UTC", group_by=None,
                    default_group=(), flt=ReportFilter(), agreement=None, max_days=366)  # fmt: skip
    async with engine.connect() as conn:
        counts = await ReportRepository(conn).state_counts(q.windows, q.filter, q.group_by)
    return {state: n for _, _, state, _, n in counts if n}


async def test_node_runs_stay_one_table_and_maintenance_with_retention_leaves_them_whole(
    history: AsyncEngine,
) -> None:
    before = await march_states(history)
    assert before == {"completed_normal": 1, "completed_acceptable": 1, "completed_warning": 1}
    done = await maintain(history, maintenance(Settings(retention_months=6)), now=NOW)
    assert done["node_runs"] == []
    async with history.connect() as conn:
        kind = await conn.execute(text("SELECT relkind::text FROM pg_class WHERE oid = 'node_runs'::regclass"))
        assert kind.scalar_one() == "r"
        assert (await conn.execute(text("SELECT count(*) FROM node_runs"))).scalar_one() == 3
    assert await march_states(history) == before


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
