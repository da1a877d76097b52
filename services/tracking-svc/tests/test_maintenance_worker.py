"""Partition maintenance runs as a worker of the service's worker kit: its first round at startup makes the
months ahead (docs/operations.md, "Years of history")."""

import asyncio
from datetime import UTC, datetime
from typing import Any

from asgi_lifespan import LifespanManager
from pledge_common.partitions import add_months, month_start, partition_name
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from tracking_svc.main import create_app


async def test_the_first_round_at_startup_creates_the_months_ahead(settings: Any, engine: AsyncEngine) -> None:
    app = create_app(settings.model_copy(update={"run_maintenance": True, "partitions_ahead": 5}))
    async with LifespanManager(app):
        status = app.state.workers.status["partition-maintenance"]
        assert status.kind == "maintenance"
        for _ in range(200):  # its round beats once done
            if status.beats:
                break
            await asyncio.sleep(0.05)
        assert status.beats >= 1
        assert status.failures == 0
    furthest = partition_name("events", add_months(month_start(datetime.now(UTC)), 5))
    async with engine.connect() as conn:
        found = await conn.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": furthest})
        assert found.scalar_one(), furthest
