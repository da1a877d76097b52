"""The outbox feed never skips an event whose transaction commits after a later sequence number."""

import asyncio
import contextlib
from collections.abc import Sequence

import httpx
from pledge_common.consumer import FeedConsumer
from pledge_common.db import create_sessionmaker
from pledge_common.outbox import FeedEvent, emit
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession


async def record(session: AsyncSession, events: Sequence[FeedEvent]) -> None:
    for event in events:
        await session.execute(text("INSERT INTO applied (seq, key) VALUES (:s, :k)"), {"s": event.seq, "k": event.key})


def consumer(
    engine: AsyncEngine, client: httpx.AsyncClient, name: str = "test", partition: int = 0, partitions: int = 1
) -> FeedConsumer:
    return FeedConsumer(
        name=name,
        client=client,
        feed_path="/internal/v1/events",
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        handler=record,
        batch_size=100,
        wait=0,
        partition=partition,
        partitions=partitions,
    )


async def drain_until(cons: FeedConsumer, engine: AsyncEngine, count: int, within: float = 20) -> None:
    """Consume until `count` events are applied. Snapshot xmin is cluster-wide, so a transaction of another
    session on the same server may hold events back for a while (later, never lost): wait, don't give up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while len(await applied(engine)) < count and loop.time() < deadline:
        await cons.step(wait=0.5)
    await cons.drain()


async def applied(engine: AsyncEngine) -> list[tuple[int, str]]:
    async with engine.connect() as conn:
        return [(r.seq, r.key) for r in await conn.execute(text("SELECT seq, key FROM applied ORDER BY seq"))]


async def emit_in(session: AsyncSession, key: str) -> int:
    await emit(session, "thing.changed", key, {"key": key})
    return int(await session.scalar(text("SELECT max(seq) FROM outbox WHERE key = :k"), {"k": key}) or 0)


async def test_event_committed_late_with_lower_seq_is_still_delivered(
    clean_feed: AsyncEngine, feed_client: httpx.AsyncClient
) -> None:
    """A takes seq 10, B takes seq 11 and commits first; a consumer that has read 11 still gets 10.

    B writes first so that its transaction id is the lower one: the feed may then hand out B's event
    while A is still open, which is exactly the interleaving that loses events with a plain seq cursor.
    """
    maker = create_sessionmaker(clean_feed)
    cons = consumer(clean_feed, feed_client)
    async with maker() as session_a, maker() as session_b:
        await session_b.execute(text("SELECT pg_current_xact_id()"))  # B's transaction id is assigned first
        seq_a = await emit_in(session_a, "A")
        seq_b = await emit_in(session_b, "B")
        assert seq_a < seq_b
        await session_b.commit()

        await drain_until(cons, clean_feed, 1)
        assert await applied(clean_feed) == [(seq_b, "B")]  # the consumer has read the later seq

        await session_a.commit()
    await drain_until(cons, clean_feed, 2)
    assert await applied(clean_feed) == [(seq_a, "A"), (seq_b, "B")]
    assert await cons.drain() == 0  # and nothing is delivered twice


async def test_feed_holds_back_later_transactions_until_earlier_ones_end(
    clean_feed: AsyncEngine, feed_client: httpx.AsyncClient
) -> None:
    """A (lower transaction id and seq) still open: B's committed event waits, then both arrive once, in order."""
    maker = create_sessionmaker(clean_feed)
    cons = consumer(clean_feed, feed_client)
    async with maker() as session_a, maker() as session_b:
        seq_a = await emit_in(session_a, "A")
        seq_b = await emit_in(session_b, "B")
        await session_b.commit()
        assert await cons.drain() == 0
        await session_a.commit()
    await drain_until(cons, clean_feed, 2)
    assert await applied(clean_feed) == [(seq_a, "A"), (seq_b, "B")]


async def test_rolled_back_events_are_never_delivered(clean_feed: AsyncEngine, feed_client: httpx.AsyncClient) -> None:
    maker = create_sessionmaker(clean_feed)
    async with maker() as session:
        await emit_in(session, "ghost")
        await session.rollback()
    async with maker() as session:
        await emit_in(session, "real")
        await session.commit()
    cons = consumer(clean_feed, feed_client)
    await drain_until(cons, clean_feed, 1)
    assert [key for _, key in await applied(clean_feed)] == ["real"]


async def test_many_concurrent_writers_every_event_delivered_exactly_once(
    clean_feed: AsyncEngine, feed_client: httpx.AsyncClient
) -> None:
    """Writers commit in random order while the consumer runs; the result is every event, once."""
    maker = create_sessionmaker(clean_feed)
    cons = consumer(clean_feed, feed_client)

    async def writer(n: int) -> None:
        async with maker() as session:
            for i in range(5):
                await emit_in(session, f"w{n}-{i}")
                await asyncio.sleep(0.001 * ((n * 7 + i) % 5))
            await session.commit()

    async def consume_while(task: "asyncio.Future[list[None]]") -> None:
        while not task.done():
            await cons.step(wait=0)
            await asyncio.sleep(0.002)

    writers = asyncio.gather(*(writer(n) for n in range(6)))
    await asyncio.gather(writers, consume_while(writers))
    await drain_until(cons, clean_feed, 30)
    keys = [key for _, key in await applied(clean_feed)]
    assert sorted(keys) == sorted(f"w{n}-{i}" for n in range(6) for i in range(5))


async def test_cursor_is_stored_with_the_batch_so_a_crash_reapplies_nothing(
    clean_feed: AsyncEngine, feed_client: httpx.AsyncClient
) -> None:
    maker = create_sessionmaker(clean_feed)
    async with maker() as session:
        for key in ("a", "b", "c"):
            await emit_in(session, key)
        await session.commit()

    async def crash(session: AsyncSession, events: Sequence[FeedEvent]) -> None:
        await record(session, events)
        raise RuntimeError("power cut after applying, before the cursor moved")

    crashing = consumer(clean_feed, feed_client)
    crashing.handler = crash
    with contextlib.suppress(RuntimeError):
        await crashing.step(wait=0)
    assert await applied(clean_feed) == []  # the batch and the cursor rolled back together
    restarted = consumer(clean_feed, feed_client)
    await drain_until(restarted, clean_feed, 3)
    assert [key for _, key in await applied(clean_feed)] == ["a", "b", "c"]


async def test_only_one_replica_holds_the_consumer_lease_and_another_takes_over(
    clean_feed: AsyncEngine, feed_client: httpx.AsyncClient
) -> None:
    first, second = consumer(clean_feed, feed_client, "leased"), consumer(clean_feed, feed_client, "leased")
    second.lease_retry = 0.05
    task1 = asyncio.create_task(first.run())
    await asyncio.sleep(0.2)
    task2 = asyncio.create_task(second.run())
    await asyncio.sleep(0.2)
    assert first.holding_lease
    assert not second.holding_lease
    task1.cancel()
    await asyncio.gather(task1, return_exceptions=True)
    for _ in range(100):
        if second.holding_lease:
            break
        await asyncio.sleep(0.05)
    assert second.holding_lease
    task2.cancel()
    await asyncio.gather(task2, return_exceptions=True)


async def test_long_poll_returns_as_soon_as_an_event_commits(
    clean_feed: AsyncEngine, feed_client: httpx.AsyncClient
) -> None:
    maker = create_sessionmaker(clean_feed)

    async def later() -> None:
        await asyncio.sleep(0.3)
        async with maker() as session:
            await emit_in(session, "late")
            await session.commit()

    writer = asyncio.create_task(later())
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await feed_client.get("/internal/v1/events", params={"wait": 10})
    waited = loop.time() - started
    await writer
    assert [e["key"] for e in response.json()["events"]] == ["late"]
    assert waited < 9  # returned on the event, not at the end of the wait


async def test_feed_pages_continue_from_next_cursor(clean_feed: AsyncEngine, feed_client: httpx.AsyncClient) -> None:
    maker = create_sessionmaker(clean_feed)
    async with maker() as session:
        for i in range(5):
            await emit_in(session, f"k{i}")
        await session.commit()
    first = (await feed_client.get("/internal/v1/events", params={"limit": 3, "wait": 20})).json()
    second = (
        await feed_client.get("/internal/v1/events", params={"limit": 3, "after": first["next"], "wait": 20})
    ).json()
    assert [e["key"] for e in first["events"]] == ["k0", "k1", "k2"]
    assert [e["key"] for e in second["events"]] == ["k3", "k4"]
    bad = await feed_client.get("/internal/v1/events", params={"after": "garbage"})
    assert bad.status_code == 422


async def test_consumers_of_the_same_name_in_different_schemas_do_not_share_a_lease(
    clean_feed: AsyncEngine, feed_client: httpx.AsyncClient, database_url: str
) -> None:
    """tracking's and evaluation's consumers are both called "commitment": each must get its own lease."""
    from pledge_common.db import create_engine

    async with clean_feed.begin() as conn:
        await conn.execute(text("CREATE SCHEMA IF NOT EXISTS feedtest_other"))
        await conn.execute(text("CREATE TABLE IF NOT EXISTS feedtest_other.consumer_cursors (LIKE consumer_cursors)"))
    other_engine = create_engine(database_url, "feedtest_other")
    here, there = consumer(clean_feed, feed_client, "commitment"), consumer(other_engine, feed_client, "commitment")
    here.lease_retry = there.lease_retry = 0.05
    tasks = [asyncio.create_task(here.run()), asyncio.create_task(there.run())]
    try:
        for _ in range(100):
            if here.holding_lease and there.holding_lease:
                break
            await asyncio.sleep(0.05)
        assert here.holding_lease
        assert there.holding_lease
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await other_engine.dispose()
