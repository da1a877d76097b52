"""Partitions of the feed: each event in exactly one, in feed order; cursors of new partitions skip nothing."""

import httpx
from pledge_common.consumer import partition_name
from pledge_common.db import create_sessionmaker
from pledge_common.outbox import PARTITION_SQL, emit_many, partition_of
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from test_feed_ordering import applied, consumer, drain_until

KEYS = [f"run-{i}" for i in range(60)]


async def emit_keys(engine: AsyncEngine, keys: list[str]) -> None:
    async with create_sessionmaker(engine)() as session:
        await emit_many(session, [("thing.changed", key, {"key": key}) for key in keys])
        await session.commit()


async def test_python_and_sql_put_a_key_in_the_same_partition(clean_feed: AsyncEngine) -> None:
    sql = "SELECT k, " + PARTITION_SQL.format(key="k", partitions=":n") + " AS p FROM unnest(CAST(:keys AS text[])) k"
    for n in (2, 3, 7):
        async with clean_feed.connect() as conn:
            rows = (await conn.execute(text(sql), {"keys": KEYS, "n": n})).all()
        assert {r.k: r.p for r in rows} == {k: partition_of(k, n) for k in KEYS}
        assert set(partition_of(k, n) for k in KEYS) == set(range(n))  # every partition gets some of 60 keys


async def test_each_event_is_in_one_partition_in_feed_order(
    clean_feed: AsyncEngine, feed_client: httpx.AsyncClient
) -> None:
    await emit_keys(clean_feed, KEYS + KEYS[:10])  # a key's second change follows its first in its partition
    whole = (await feed_client.get("/internal/v1/events", params={"limit": 500})).json()["events"]
    seen: list[int] = []
    for k in range(3):
        page = (
            await feed_client.get("/internal/v1/events", params={"limit": 500, "partition": k, "partitions": 3})
        ).json()["events"]
        assert {partition_of(e["key"], 3) for e in page} == {k}
        assert [e["seq"] for e in page] == sorted(e["seq"] for e in page)
        seen += [e["seq"] for e in page]
    assert sorted(seen) == [e["seq"] for e in whole]


async def test_partition_outside_the_count_is_refused(feed_client: httpx.AsyncClient) -> None:
    response = await feed_client.get("/internal/v1/events", params={"partition": 2, "partitions": 2})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "partition" in response.text
    assert (await feed_client.get("/internal/v1/events", params={"partitions": 65})).status_code == 422


async def test_partitions_together_apply_every_event_once(
    clean_feed: AsyncEngine, feed_client: httpx.AsyncClient
) -> None:
    await emit_keys(clean_feed, KEYS)
    for k in range(2):
        cons = consumer(clean_feed, feed_client, "part", k, 2)
        assert cons.name == partition_name("part", k, 2) == f"part.p{k}of2"
        await cons.drain()
    assert sorted(key for _, key in await applied(clean_feed)) == sorted(KEYS)


async def test_new_partitions_start_at_the_lowest_cursor_of_the_feed_read_before(
    clean_feed: AsyncEngine, feed_client: httpx.AsyncClient
) -> None:
    """Read whole up to some point, then in two partitions: nothing before that point is applied again,
    nothing after it is skipped."""
    await emit_keys(clean_feed, KEYS[:30])
    whole = consumer(clean_feed, feed_client, "moving")
    await drain_until(whole, clean_feed, 30)
    await emit_keys(clean_feed, KEYS[30:])
    for k in range(2):
        part = consumer(clean_feed, feed_client, "moving", k, 2)
        assert await part.read_cursor() == await whole.read_cursor()
        await part.drain()
    keys = [key for _, key in await applied(clean_feed)]
    assert sorted(keys) == sorted(KEYS)  # the first 30 once (by the whole feed), the others once


async def test_a_partition_started_later_does_not_start_where_its_sibling_is(
    clean_feed: AsyncEngine, feed_client: httpx.AsyncClient
) -> None:
    await emit_keys(clean_feed, KEYS)
    await consumer(clean_feed, feed_client, "late", 0, 2).drain()
    second = consumer(clean_feed, feed_client, "late", 1, 2)
    assert await second.read_cursor() == "0:0"


async def test_a_partition_is_found_behind_a_long_stretch_of_other_partitions(
    clean_feed: AsyncEngine, feed_client: httpx.AsyncClient
) -> None:
    """Pages of one partition read the feed in windows; many windows without its events are skipped in one
    request, and a page never holds more than `limit` events nor skips one beyond them."""
    zeros = [k for k in KEYS if partition_of(k, 2) == 0][:20]
    ones = [k for k in KEYS if partition_of(k, 2) == 1][:3]
    await emit_keys(clean_feed, zeros + ones)
    params: dict[str, str | int] = {"limit": 2, "partition": 1, "partitions": 2}
    first = (await feed_client.get("/internal/v1/events", params=params)).json()
    assert [e["key"] for e in first["events"]] == ones[:2]
    assert first["next"] == first["events"][-1]["cursor"]
    rest = (await feed_client.get("/internal/v1/events", params=params | {"after": first["next"]})).json()
    assert [e["key"] for e in rest["events"]] == ones[2:]
    empty = (await feed_client.get("/internal/v1/events", params=params | {"after": rest["next"]})).json()
    assert empty["events"] == []
    assert empty["next"] == rest["next"]
