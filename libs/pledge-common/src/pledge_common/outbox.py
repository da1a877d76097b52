"""Transactional outbox and the ordered HTTP feed every producing service serves.

Ordering. Sequence numbers from concurrent transactions commit out of order: A takes seq 10, B takes
seq 11 and commits first. A feed that hands out "everything after 11" would then skip 10 forever. So
the feed is ordered by (transaction id, seq) and only serves rows whose transaction id is below the
reader's snapshot xmin: every transaction below xmin has ended, so that prefix of the order is final
and nothing can ever appear behind a cursor already handed out. A transaction still running holds back
the rows ordered after it (latency), never loses them.

Partitions. A consumer may read one partition of the feed: the events whose key hashes to it (the first
28 bits of the key's MD5, modulo the number of partitions). All events of one key fall in one partition,
in their feed order, so consumers of different partitions can apply them side by side, each with its
own cursor. The hash is computed by the feed, from the key alone: it never changes with the server.
"""

import asyncio
import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from pledge_common.observability import current_request_id
from pledge_common.problems import invalid

OUTBOX_DDL = (
    """
    CREATE TABLE outbox (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
        type text NOT NULL,
        key text NOT NULL,
        payload jsonb NOT NULL,
        occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        request_id text
    )
    """,
    "CREATE INDEX outbox_xid_seq ON outbox (xid, seq)",
)
CONSUMER_CURSOR_DDL = (
    """
    CREATE TABLE consumer_cursors (
        name text PRIMARY KEY,
        cursor text NOT NULL DEFAULT '0:0',
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
)
START_CURSOR = "0:0"
# A consumer names itself on its feed requests; the feed answers with its newest sequence number.
CONSUMER_HEADER = "Pledge-Consumer"
FEED_HEAD_HEADER = "Pledge-Feed-Head"
MAX_TRACKED_READERS = 256


class FeedEvent(msgspec.Struct, frozen=True):
    cursor: str
    seq: int
    type: str
    key: str
    payload: dict[str, Any]
    occurred_at: str  # as the producer wrote it (ISO 8601)


class FeedPage(msgspec.Struct):
    events: list[FeedEvent]
    next: str


def parse_cursor(raw: str | None) -> tuple[int, int]:
    if raw in (None, "", "0"):
        return 0, 0
    assert raw is not None
    try:
        xid, seq = raw.split(":", 1)
        parsed = int(xid), int(seq)
    except ValueError:
        raise invalid("after", "cursor must be a value previously returned as `next`") from None
    if parsed[0] < 0 or parsed[1] < 0:
        raise invalid("after", "cursor must be a value previously returned as `next`")
    return parsed


async def emit(session: AsyncSession, type_: str, key: str, payload: Mapping[str, Any]) -> None:
    """Append one event to the outbox, in the caller's transaction."""
    await emit_many(session, [(type_, key, payload)])


async def emit_many(session: AsyncSession | AsyncConnection, events: Iterable[tuple[str, str, Any]]) -> int:
    """Append many events with one statement. Payloads may be dicts or already-serialised JSON text."""
    types: list[str] = []
    keys: list[str] = []
    payloads: list[str] = []
    for type_, key, payload in events:
        types.append(type_)
        keys.append(key)
        payloads.append(payload if isinstance(payload, str) else json.dumps(payload, default=str))
    if not types:
        return 0
    await session.execute(
        text(
            "INSERT INTO outbox (type, key, payload, request_id) "
            "SELECT t, k, p::jsonb, :rid FROM unnest(CAST(:types AS text[]), CAST(:keys AS text[]),"
            " CAST(:payloads AS text[])) AS u(t, k, p)"
        ),
        {"types": types, "keys": keys, "payloads": payloads, "rid": current_request_id()},
    )
    return len(types)


MAX_PARTITIONS = 64
# The partition of an event's key among :partitions (`partition_of` in Python).
PARTITION_SQL = "('x' || left(md5({key}), 7))::bit(28)::integer % {partitions}"


def partition_of(key: str, partitions: int) -> int:
    """The feed partition of an event key (the same rule as PARTITION_SQL)."""
    return int(hashlib.md5(key.encode()).hexdigest()[:7], 16) % partitions


_EVENT_JSON = """json_build_object('cursor', xid::text || ':' || seq, 'seq', seq, 'type', type, 'key', key,
                               'payload', payload, 'occurred_at', occurred_at)::text"""
_FEED_ORDER = """
    FROM outbox
    WHERE (xid, seq) > (CAST(:xid AS text)::xid8, :seq)
      AND xid < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY xid, seq
"""
_FEED = text(f"SELECT xid::text || ':' || seq AS cursor, {_EVENT_JSON} AS body {_FEED_ORDER} LIMIT :limit")
# One partition: a window of the feed in its order (the index's), then the window's events of the partition.
# (With the partition's condition beside the order, the planner expects it to be rare and sorts the table.)
_FEED_WINDOW = text(
    f"""
    SELECT xid::text || ':' || seq AS cursor,
           CASE WHEN {PARTITION_SQL.format(key="key", partitions=":partitions")} = :partition
                THEN {_EVENT_JSON} END AS body
    FROM (SELECT xid, seq, type, key, payload, occurred_at {_FEED_ORDER} LIMIT :window) AS w
    ORDER BY xid, seq
    """
)


# The sequence number of the newest event the feed serves: the last in the feed's order (one step down its index).
FEED_HEAD_SQL = """
    SELECT seq FROM outbox WHERE xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY xid DESC, seq DESC LIMIT 1
"""


async def feed_head(engine: AsyncEngine) -> int:
    """The sequence number of the newest event the feed serves (0 when none)."""
    async with engine.connect() as conn:
        return int(await conn.scalar(text(FEED_HEAD_SQL)) or 0)


def note_reader(state: Any, reader: str | None, served_through: str) -> None:
    """Remember how far each named reader of the feed has been served (the sequence number of the cursor it was
    answered), for the outbox backlog metric; bounded, and only for names a consumer would use."""
    if not reader or len(reader) > 100 or not reader.isascii() or not reader.isprintable():
        return
    readers: dict[str, int] | None = getattr(state, "feed_readers", None)
    if readers is None:
        readers = state.feed_readers = {}
    if reader in readers or len(readers) < MAX_TRACKED_READERS:
        readers[reader] = parse_cursor(served_through)[1]


async def read_feed(
    engine: AsyncEngine, after: str | None, limit: int, partition: int = 0, partitions: int = 1
) -> tuple[list[str], str]:
    """One page of the feed (or of one of its partitions) as JSON texts, and the cursor to continue from."""
    xid, seq = parse_cursor(after)
    next_cursor = after or START_CURSOR
    async with engine.connect() as conn:
        if partitions == 1:
            rows = (await conn.execute(_FEED, {"xid": str(xid), "seq": seq, "limit": limit})).all()
            return [r.body for r in rows], rows[-1].cursor if rows else next_cursor
        window = limit * partitions
        while True:  # windows in the feed's order until one holds events of the partition, or the feed ends
            params = {"xid": str(xid), "seq": seq, "window": window, "partition": partition, "partitions": partitions}
            rows = (await conn.execute(_FEED_WINDOW, params)).all()
            bodies: list[str] = []
            for row in rows:
                if row.body is not None:
                    if len(bodies) == limit:
                        return bodies, next_cursor
                    bodies.append(row.body)
                next_cursor = row.cursor
            if bodies or len(rows) < window:
                return bodies, next_cursor
            xid, seq = parse_cursor(next_cursor)


def feed_router(max_limit: int = 5000, max_wait: float = 30.0) -> APIRouter:
    """`GET /internal/v1/events`: the ordered, long-polling feed of this service's outbox."""
    router = APIRouter()

    @router.get("/v1/events", include_in_schema=False)
    async def events_feed(
        request: Request,
        after: str | None = Query(default=None, description="cursor returned as `next` by the previous page"),
        limit: int = Query(default=500, ge=1, le=max_limit),
        wait: float = Query(default=0, ge=0, le=max_wait),
        partitions: int = Query(default=1, ge=1, le=MAX_PARTITIONS, description="read one of this many partitions"),
        partition: int = Query(default=0, ge=0, description="the partition to read, from 0 to `partitions` - 1"),
    ) -> Response:
        """Events after `after`, oldest first; waits up to `wait` seconds for the first one."""
        if partition >= partitions:
            raise invalid("partition", f"must be below partitions ({partitions})")
        engine: AsyncEngine = request.app.state.engine
        deadline = time.monotonic() + wait
        pause = 0.02
        while True:
            bodies, next_cursor = await read_feed(engine, after, limit, partition, partitions)
            if bodies or time.monotonic() >= deadline:
                break
            await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.2)
        payload = '{"events":[' + ",".join(bodies) + '],"next":' + json.dumps(next_cursor) + "}"
        head = await feed_head(engine)
        note_reader(request.app.state, request.headers.get(CONSUMER_HEADER), next_cursor)
        return Response(payload, media_type="application/json", headers={FEED_HEAD_HEADER: str(head)})

    return router
