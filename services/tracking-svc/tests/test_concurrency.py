"""Two transactions at once: the same event is stored once (the later one is refused); events of one new
ticket from two requests both count (the later request plans again with the ticket the first created)."""

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
TABLES = "events, event_keys, tickets, node_runs, outbox, known_processes, known_nodes"


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


async def test_two_requests_creating_the_same_ticket_both_count(engine: AsyncEngine, settings: Settings) -> None:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as setup:
        await setup.execute(text(f"TRUNCATE {TABLES}"))
        await apply_commitment_events(setup, [process_upserted()])
        await setup.commit()
    opened = msgspec.convert(ev("race-o", "ticket.opened", 0, external_id="WO-race"), EventIn)
    started = msgspec.convert(ev("race-s", "node.started", 1, "repair", external_id="WO-race"), EventIn)
    try:
        async with sessions() as first, sessions() as second:
            assert (await ingest_chunk(first, [opened], caller=CALLER, settings=settings)).outcomes[0].status == (
                "accepted"
            )
            # the second does not see the first's uncommitted ticket: it creates the same one and waits
            racing = asyncio.create_task(ingest_chunk(second, [started], caller=CALLER, settings=settings))
            await asyncio.sleep(0.3)
            assert not racing.done()
            await first.commit()
            outcome = (await racing).outcomes[0]
            await second.commit()
        assert outcome.status == "accepted"
        async with sessions() as check:
            [(ticket_id, status, opened_at)] = (
                await check.execute(text("SELECT id, status, opened_at FROM tickets WHERE external_id = 'WO-race'"))
            ).all()
            assert outcome.ticket_id == ticket_id
            assert (status, opened_at.isoformat()) == ("open", "2026-03-03T02:00:00+00:00")
            runs = (await check.execute(text("SELECT ticket_id, status FROM node_runs"))).all()
            assert runs == [(ticket_id, "in_progress")]
            keys = (await check.execute(text("SELECT type, key FROM outbox ORDER BY seq"))).all()
            assert ("ticket.upserted", str(ticket_id)) in keys
            assert ("node_run.upserted", str(ticket_id)) not in keys
            assert [k[0] for k in keys].count("node_run.upserted") == 1
    finally:
        async with sessions() as cleanup:
            await cleanup.execute(text(f"TRUNCATE {TABLES}"))
            await cleanup.commit()
