"""Two transactions storing the same event at once: the later one is refused, nothing is stored twice."""

import asyncio

import msgspec
import pytest
from conftest import ev, process_upserted
from pledge_common.identity import Caller
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from tracking_svc.catalogue.consumer import apply_commitment_events
from tracking_svc.config import Settings
from tracking_svc.ingest.schemas import EventIn
from tracking_svc.ingest.service import ConcurrentTwin, ingest_chunk

CALLER = Caller(sub="partner", kind="key", scopes=frozenset(), sources=None)
TABLES = "events, tickets, node_runs, outbox, known_processes, known_nodes"


async def test_a_concurrent_twin_committed_first_makes_the_other_chunk_fail(
    engine: AsyncEngine, settings: Settings
) -> None:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as setup:
        await setup.execute(text(f"TRUNCATE {TABLES}"))
        await apply_commitment_events(setup, [process_upserted()])
        await setup.commit()
    event = msgspec.convert(ev("twin-1", "node.completed", 0, "repair", external_id="WO-twin"), EventIn)
    try:
        async with sessions() as first, sessions() as second:
            result = await ingest_chunk(first, [event], caller=CALLER, settings=settings)
            assert result.outcomes[0].status == "accepted"
            # the second looks the event up before the first commits, then waits on the first's rows
            racing = asyncio.create_task(ingest_chunk(second, [event], caller=CALLER, settings=settings))
            await asyncio.sleep(0.3)
            assert not racing.done()
            await first.commit()
            with pytest.raises(ConcurrentTwin):
                await racing
            await second.rollback()
        async with sessions() as check:
            assert await check.scalar(text("SELECT count(*) FROM events WHERE event_id = 'twin-1'")) == 1
    finally:
        async with sessions() as cleanup:
            await cleanup.execute(text(f"TRUNCATE {TABLES}"))
            await cleanup.commit()
