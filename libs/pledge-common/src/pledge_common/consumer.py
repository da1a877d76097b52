"""Feed consumer: pull a producer's feed, apply each batch and store the cursor in one transaction.

Exactly-once application: the cursor row is locked and compared inside the transaction that applies the
batch, so even if two replicas ever both believed they held the lease, a batch is applied at most once;
and because the cursor moves only in that transaction, a crash at any point loses nothing.
One replica at a time: a session-level advisory lock on a dedicated connection; when that process or
connection dies, Postgres releases the lock and another replica takes over within `lease_retry` seconds.

Partitions. A consumer of partition k of n reads only the events whose key falls in that partition (see
`pledge_common.outbox`), under a name and lease of its own (`partition_name`), so that the n partitions
are applied side by side, by one process or spread over replicas. A partition's cursor that does not
exist yet starts at the lowest cursor stored under the same base name for another partitioning (the feed
read whole, or in another number of partitions), else at the start: when the number of partitions
changes, some events are applied again, none is skipped (harmless for a handler that sets state from
the event).

Supervision. `run` is a worker of `pledge_common.workers`: it beats on every page read (an empty long-poll
included) and while it waits for the lease, and an unexpected error ends it so that the supervisor logs it and
starts it again after a backoff. A feed that cannot be read (the producer is down) is not a crash of the
consumer: it keeps retrying and beating, so that one service down never makes the others unready.

Progress. `progress` tells how far behind the producer the consumer is: the producer's newest sequence number
comes with every page (`Pledge-Feed-Head`), and the time of the oldest event not yet applied with each batch.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from pledge_common.jsonlimits import MAX_READ_DEPTH, bounded_loads
from pledge_common.outbox import CONSUMER_HEADER, FEED_HEAD_HEADER, START_CURSOR, FeedEvent, FeedPage, parse_cursor
from pledge_common.workers import Heartbeat, NoHeartbeat, Workers

log = logging.getLogger("pledge.consumer")
Handler = Callable[[AsyncSession, Sequence[FeedEvent]], Awaitable[None]]


@dataclass
class FeedProgress:
    """How far one consumer (of one partition) has come, for its lag metrics."""

    applied: int = 0  # events applied by this process
    applied_seq: int | None = None  # the sequence number of the last event applied
    head_seq: int | None = None  # the producer's newest sequence number, as of the last page read
    pending_since: datetime | None = None  # when the oldest event not yet applied was written
    caught_up: bool = False  # the last page read was empty: nothing is waiting

    def lag_events(self) -> int | None:
        """Feed positions between the last event applied and the producer's newest one (0 when caught up).
        For a partition it counts the positions of the whole feed, an upper bound on the partition's own."""
        if self.caught_up:
            return 0
        if self.head_seq is None or self.applied_seq is None:
            return None
        return max(0, self.head_seq - self.applied_seq)

    def lag_seconds(self, now: datetime) -> float | None:
        """How long the oldest event not yet applied has waited (0 when caught up)."""
        if self.caught_up:
            return 0.0
        if self.pending_since is None:
            return None
        return max(0.0, (now - self.pending_since).total_seconds())

    def page_read(self, events: Sequence[FeedEvent]) -> None:
        if not events:
            self.caught_up, self.pending_since = True, None
            return
        self.caught_up = False
        if self.applied_seq is None:
            self.applied_seq = events[0].seq - 1
        with contextlib.suppress(ValueError):
            written = datetime.fromisoformat(events[0].occurred_at)
            self.pending_since = written if written.tzinfo else written.replace(tzinfo=UTC)

    def batch_applied(self, events: Sequence[FeedEvent]) -> None:
        self.applied += len(events)
        self.applied_seq = events[-1].seq


class CursorMoved(Exception):
    """Another process advanced the cursor since this batch was read: drop the batch and re-read."""


def partition_name(base: str, partition: int, partitions: int) -> str:
    """The consumer (and cursor) name of one partition; the base name itself when the feed is read whole."""
    return base if partitions == 1 else f"{base}.p{partition}of{partitions}"


def decode_page(content: bytes) -> list[FeedEvent]:
    """The events of one feed page (the JSON body `GET /internal/v1/events` answers). A payload stored
    nested too deep to decode (before ingest limited nesting) is read as `bounded_loads` reads it, rather
    than stopping the consumer at that event for good."""
    try:
        return msgspec.json.decode(content, type=FeedPage).events
    except RecursionError:
        page_depth = 3  # {"events": [{"payload": ...}]}
        return msgspec.convert(bounded_loads(content, page_depth + MAX_READ_DEPTH), FeedPage).events


class FeedConsumer:
    def __init__(
        self,
        *,
        name: str,
        client: httpx.AsyncClient,
        feed_path: str,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        handler: Handler,
        batch_size: int = 1000,
        wait: float = 5.0,
        lease_retry: float = 2.0,
        error_backoff: float = 1.0,
        partition: int = 0,
        partitions: int = 1,
    ) -> None:
        if not 0 <= partition < partitions:
            raise ValueError(f"partition {partition} is not one of {partitions}")
        self.base_name = name
        self.name = partition_name(name, partition, partitions)
        self.partition = partition
        self.partitions = partitions
        self.client = client
        self.feed_path = feed_path
        self.engine = engine
        self.sessionmaker = sessionmaker
        self.handler = handler
        self.batch_size = batch_size
        self.wait = wait
        self.lease_retry = lease_retry
        self.error_backoff = error_backoff
        self.progress = FeedProgress()
        self.holding_lease = False

    @property
    def applied(self) -> int:
        return self.progress.applied

    def register(self, workers: Workers) -> None:
        """Run this consumer as one of the app's workers (its HTTP client is closed when they stop)."""
        # quiet for a whole long-poll (and its timeout) when the feed is idle, or between two lease attempts
        workers.add(self.name, self.run, kind="consumer", idle_gap=max(self.wait + 10, self.lease_retry))
        workers.consumers[self.name] = self
        workers.on_stop(self.client.aclose)

    async def read_cursor(self) -> str:
        """The stored cursor; for a partition never consumed, the lowest of its base name's cursors."""
        async with self.engine.connect() as conn:
            value = await conn.scalar(text("SELECT cursor FROM consumer_cursors WHERE name = :n"), {"n": self.name})
            if value is not None:
                return str(value)
            names = await conn.execute(
                text("SELECT name, cursor FROM consumer_cursors WHERE name = :base OR starts_with(name, :prefix)"),
                {"base": self.base_name, "prefix": self.base_name + ".p"},
            )
            # other partitions of this count moved on from where this one starts: only other counts tell
            own_count = f"of{self.partitions}" if self.partitions > 1 else None
            others = [r.cursor for r in names if own_count is None or not r.name.endswith(own_count)]
            return min(others, key=parse_cursor, default=START_CURSOR)

    async def fetch(self, after: str, wait: float | None = None) -> list[FeedEvent]:
        params: dict[str, Any] = {"after": after, "limit": self.batch_size, "wait": self.wait if wait is None else wait}
        if self.partitions > 1:
            params |= {"partition": self.partition, "partitions": self.partitions}
        response = await self.client.get(
            self.feed_path, params=params, headers={CONSUMER_HEADER: self.name}, timeout=params["wait"] + 10
        )
        response.raise_for_status()
        head = response.headers.get(FEED_HEAD_HEADER, "")
        if head.isdigit():
            self.progress.head_seq = int(head)
        return decode_page(response.content)

    async def apply(self, expected_cursor: str, events: Sequence[FeedEvent]) -> None:
        async with self.sessionmaker() as session, session.begin():
            await session.execute(  # a new cursor starts where this batch was read from (`read_cursor`)
                text("INSERT INTO consumer_cursors (name, cursor) VALUES (:n, :c) ON CONFLICT (name) DO NOTHING"),
                {"n": self.name, "c": expected_cursor},
            )
            current = await session.scalar(
                text("SELECT cursor FROM consumer_cursors WHERE name = :n FOR UPDATE"), {"n": self.name}
            )
            if current != expected_cursor:
                raise CursorMoved(f"{self.name}: cursor is {current}, batch was read after {expected_cursor}")
            await self.handler(session, events)
            await session.execute(
                text("UPDATE consumer_cursors SET cursor = :c, updated_at = now() WHERE name = :n"),
                {"c": events[-1].cursor, "n": self.name},
            )
        self.progress.batch_applied(events)

    async def step(self, wait: float | None = None) -> int:
        """Fetch one batch after the stored cursor and apply it; returns how many events were applied."""
        cursor = await self.read_cursor()
        events = await self.fetch(cursor, wait)
        self.progress.page_read(events)
        if events:
            await self.apply(cursor, events)
        return len(events)

    async def drain(self) -> int:
        """Apply everything available now (tests and tools)."""
        total = 0
        while n := await self.step(wait=0):
            total += n
        return total

    # Advisory locks are per database and every service shares one: the key pairs the consumer's own
    # schema with its name, so tracking's "commitment" consumer never blocks evaluation's.
    _LOCK = "pg_try_advisory_lock(hashtext(current_schema()), hashtext(:n))"
    _UNLOCK = "pg_advisory_unlock(hashtext(current_schema()), hashtext(:n))"

    async def _hold_lease(self, conn: AsyncConnection) -> bool:
        got = await conn.scalar(text(f"SELECT {self._LOCK}"), {"n": self.name})
        await conn.commit()
        return bool(got)

    async def run(self, heartbeat: Heartbeat | None = None) -> None:
        """Wait for the lease, then consume until cancelled; an error (the database, the lease connection, a
        handler) ends the run, for the worker supervisor to log and start again."""
        heartbeat = heartbeat or NoHeartbeat()
        while True:
            async with self.engine.connect() as lease_conn:
                if not await self._hold_lease(lease_conn):
                    heartbeat.beat()  # standing by while another replica consumes is healthy
                    await asyncio.sleep(self.lease_retry)
                    continue
                self.holding_lease = True
                log.info("consumer %s holds the lease", self.name)
                try:
                    await self._consume(lease_conn, heartbeat)
                finally:
                    self.holding_lease = False
                    with contextlib.suppress(Exception):
                        await lease_conn.execute(text(f"SELECT {self._UNLOCK}"), {"n": self.name})
                        await lease_conn.commit()

    async def _consume(self, lease_conn: AsyncConnection, heartbeat: Heartbeat) -> None:
        """Apply pages in order while the next one is already being read.

        The page after a batch is requested (and decoded) while that batch's transaction runs, so the
        feed's round trip overlaps the database work instead of adding to it. A prefetched page is used
        only if its batch committed; after any failure the cursor is read again from the database.
        """
        idle_checks = 0
        cursor: str | None = None
        ahead: asyncio.Task[list[FeedEvent]] | None = None
        try:
            while True:
                events: list[FeedEvent] = []
                try:
                    if cursor is None:
                        cursor = await self.read_cursor()
                    pending, ahead = ahead, None
                    events = await (pending if pending is not None else self.fetch(cursor))
                    self.progress.page_read(events)
                    if events:
                        ahead = asyncio.create_task(self.fetch(events[-1].cursor), name=f"feed-{self.name}")
                        await self.apply(cursor, events)
                        cursor = events[-1].cursor
                except CursorMoved as moved:
                    log.warning("%s", moved)
                    await _cancel(ahead)
                    cursor = ahead = None
                    continue
                except (httpx.HTTPError, OSError) as err:
                    log.warning("consumer %s cannot read its feed: %s", self.name, err)
                    await _cancel(ahead)
                    cursor = ahead = None
                    await asyncio.sleep(self.error_backoff)
                    events = []
                heartbeat.beat()
                if not events:
                    idle_checks += 1
                    if idle_checks % 5 == 0:  # the lease connection must still be alive to keep the lock
                        await lease_conn.execute(text("SELECT 1"))
                        await lease_conn.commit()
        finally:
            await _cancel(ahead)


async def _cancel(task: "asyncio.Task[Any] | None") -> None:
    """Cancel a read-ahead that will not be used (and collect its outcome, whatever it was)."""
    if task is not None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
