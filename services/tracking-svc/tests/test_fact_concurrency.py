"""Two transactions at once on the same outage or the same fact: the later one waits for the earlier and
builds on it (no lost update, no fact stored twice)."""

import asyncio

import msgspec
from conftest import fact, service_upserted
from pledge_common.identity import Caller
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from tracking_svc.catalogue.consumer import apply_commitment_events
from tracking_svc.config import Settings
from tracking_svc.facts.schemas import FactIn
from tracking_svc.facts.service import ingest_facts

CALLER = Caller(sub="monitor", kind="key", scopes=frozenset(), sources=None)
TABLES = "service_facts, outages, outbox, known_services"


def typed(body: dict[str, object]) -> FactIn:
    return msgspec.convert(body, FactIn)  # type: ignore[arg-type]


async def race(engine: AsyncEngine, settings: Settings, first: FactIn, second: FactIn) -> tuple[str, str]:
    """`first` written and held uncommitted while `second` is sent; the statuses of both."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as one, sessions() as two:
        (a,) = await ingest_facts(one, [first], caller=CALLER, settings=settings)
        racing = asyncio.create_task(ingest_facts(two, [second], caller=CALLER, settings=settings))
        await asyncio.sleep(0.3)
        assert not racing.done()  # waits for the first's locks
        await one.commit()
        (b,) = await racing
        await two.commit()
    return a.status, b.status


async def test_a_start_and_an_end_of_one_outage_at_once_both_count(engine: AsyncEngine, settings: Settings) -> None:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as setup:
        await setup.execute(text(f"TRUNCATE {TABLES}"))
        await apply_commitment_events(setup, [service_upserted("core-network")])
        await setup.commit()
    try:
        start = typed(fact("s", "outage.started", 0, outage_ref="o"))
        end = typed(fact("e", "outage.ended", 1, outage_ref="o"))
        assert await race(engine, settings, start, end) == ("accepted", "accepted")
        twin = typed(fact("e2", "sample.recorded", 1, obligation="u", value=1))
        assert await race(engine, settings, twin, twin) == ("accepted", "duplicate")
        async with sessions() as check:
            rows = (await check.execute(text("SELECT started_at IS NOT NULL, ended_at IS NOT NULL FROM outages"))).all()
            assert [tuple(r) for r in rows] == [(True, True)]
            assert await check.scalar(text("SELECT count(*) FROM service_facts")) == 3
    finally:
        async with sessions() as cleanup:
            await cleanup.execute(text(f"TRUNCATE {TABLES}, samples"))
            await cleanup.commit()
