"""tracking's feed read in partitions, applied side by side: each partition its own consumer, and the
rollup cells they share stay exact."""

import asyncio
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from evalfactories import at, calendar_w, commitment, node_run, process
from evaluation_svc.config import Settings
from evaluation_svc.main import make_consumers
from evaluation_svc.readmodel.service import Projection
from pledge_common.db import create_sessionmaker
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker


async def test_tracking_feed_is_read_in_the_configured_partitions(engine: AsyncEngine) -> None:
    app: Any = SimpleNamespace(state=SimpleNamespace(engine=engine, sessionmaker=create_sessionmaker(engine)))
    consumers = make_consumers(app, Settings(tracking_partitions=3), Projection())
    try:
        assert [(c.name, c.partition, c.partitions) for c in consumers] == [
            ("evaluation.commitment", 0, 1),
            ("evaluation.tracking.p0of3", 0, 3),
            ("evaluation.tracking.p1of3", 1, 3),
            ("evaluation.tracking.p2of3", 2, 3),
        ]
    finally:
        for c in consumers:
            await c.client.aclose()


async def test_partitions_moving_runs_between_shared_cells_at_once_keep_the_rollups_exact(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    """Each round, two consumers move their runs between the same 60 hours in opposite directions (each
    change takes a run out of one cell and into another) and commit at the same time."""
    projection = Projection()
    async with committed() as session, session.begin():
        await projection.handle_commitment(session, [calendar_w(), process(), commitment()])
    start = at("2026-03-02 09:00")
    hours = [start + timedelta(hours=h) for h in range(1, 61)]

    async def move(name: str, round_: int) -> None:
        shift = round_ if name == "a" else -round_
        runs = [
            node_run(f"{name}-{i}", started=start, completed=hours[(i + shift) % len(hours)]) for i in range(len(hours))
        ]
        async with committed() as session, session.begin():
            await projection.handle_tracking(session, runs)

    for round_ in range(12):
        await asyncio.wait_for(asyncio.gather(move("a", round_), move("b", round_)), timeout=30)
    async with committed() as session:
        rolled = (
            await session.execute(
                text("SELECT hour, state, sum(n) FROM run_state_hourly GROUP BY 1, 2 HAVING sum(n) <> 0")
            )
        ).all()
        stored = (
            await session.execute(
                text("SELECT date_trunc('hour', ended_at), final_state, count(*) FROM node_runs GROUP BY 1, 2")
            )
        ).all()
    assert sorted(rolled) == sorted(stored)
    assert sum(n for *_, n in stored) == 2 * len(hours)


async def test_partitions_writing_the_same_rollup_cells_at_once_both_count(
    committed: async_sessionmaker[AsyncSession],
) -> None:
    """Two consumers commit runs that end in the same 40 hours, found in opposite orders, at the same time
    and many times over: none waits for the other forever, and every run counts once."""
    projection = Projection()
    async with committed() as session, session.begin():
        await projection.handle_commitment(session, [calendar_w(), process(), commitment()])
    start = at("2026-03-02 09:00")
    hours = [start + timedelta(hours=h) for h in range(1, 41)]

    async def partition(name: str, ends: list[Any], round_: int) -> None:
        runs = [node_run(f"{name}{round_}-{i}", started=start, completed=end) for i, end in enumerate(ends)]
        async with committed() as session, session.begin():
            await projection.handle_tracking(session, runs)

    for round_ in range(15):
        await asyncio.wait_for(
            asyncio.gather(partition("a", hours, round_), partition("b", hours[::-1], round_)), timeout=30
        )
    async with committed() as session:
        rolled = dict((await session.execute(text("SELECT state, sum(n) FROM run_state_hourly GROUP BY 1"))).all())
        stored = dict((await session.execute(text("SELECT final_state, count(*) FROM node_runs GROUP BY 1"))).all())
    assert sum(stored.values()) == 2 * 15 * 40
    assert rolled == stored
