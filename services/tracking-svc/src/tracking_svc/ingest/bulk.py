"""Bulk ingest: JSON arrays (bounded) and NDJSON streams (any length, bounded memory), in chunks.

No client sets the pace of a write transaction: a JSON array and an `atomic=true` stream are read whole
(within `bulk_max_bytes` and `body_read_seconds`) before anything touches the database, then written in
one transaction at the server's pace; a plain stream commits each chunk before it reads the next lines.
"""

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
from pledge_common.identity import Caller
from pledge_common.problems import Conflict, PayloadTooLarge, Problem, Unprocessable, field_error
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from tracking_svc.config import Settings
from tracking_svc.ingest.service import ChunkResult, ConcurrentTwin, Outcome, Unparseable, ingest_chunk, parse_items

RETRYABLE = {"40P01", "40001"}  # deadlock detected, serialization failure


class ItemErrorJson(msgspec.Struct):
    """`ItemError` as msgspec encodes it (fields in the documented order)."""

    status: int
    field: str
    detail: str


class ItemResultJson(msgspec.Struct):
    """`BulkItemResult` as msgspec encodes it: built and encoded in half the time of a dict."""

    index: int
    event_id: str | None
    source: str | None
    status: str
    ticket_id: UUID | None
    error: ItemErrorJson | None


@dataclass(slots=True)
class Tally:
    """The counts and listed items of a bulk answer, serialised straight to the `BulkResult` JSON shape
    (a 10 000-item answer built as pydantic models cost more than ingesting the events)."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    items: list[ItemResultJson] = field(default_factory=list)
    truncated: bool = False

    def add(self, offset: int, result: ChunkResult, *, list_accepted: bool, max_listed: int | None) -> None:
        items = self.items
        for i, outcome in enumerate(result.outcomes):
            status = outcome.status
            if status == "accepted":
                self.accepted += 1
                if not list_accepted:
                    continue
            elif status == "duplicate":
                self.duplicates += 1
            else:
                self.rejected += 1
            if max_listed is not None and len(items) >= max_listed:
                self.truncated = True
                continue
            items.append(item_result(offset + i, outcome))

    def json(self) -> bytes:
        return msgspec.json.encode(
            {
                "accepted": self.accepted,
                "duplicates": self.duplicates,
                "rejected": self.rejected,
                "items": self.items,
                "items_truncated": self.truncated,
            }
        )


def item_result(index: int, outcome: Outcome) -> ItemResultJson:
    """One `BulkItemResult`."""
    return ItemResultJson(
        index,
        outcome.event_id,
        outcome.source,
        outcome.status,
        outcome.ticket_id,
        ItemErrorJson(outcome.error_status, outcome.field, outcome.detail) if outcome.status == "rejected" else None,
    )


def atomic_failure(offset: int, outcomes: Sequence[Outcome | None], processed: int) -> Unprocessable:
    errors = [
        {"field": f"items[{offset + i}].{o.field}", "message": o.detail, "status": o.error_status}
        for i, o in enumerate(outcomes)
        if o is not None and o.status == "rejected"
    ]
    return Unprocessable(
        f"{len(errors)} item(s) refused; with atomic=true nothing was written",
        errors=errors,
        items_checked=processed,
    )


async def _chunk(
    session: AsyncSession, items: Sequence[Any], caller: Caller, settings: Settings, atomic: bool
) -> ChunkResult:
    try:
        return await ingest_chunk(session, items, caller=caller, settings=settings, atomic=atomic)
    except ConcurrentTwin:
        raise Conflict("a concurrent request stored some of the same events; send the request again") from None
    except DBAPIError as err:
        if getattr(err.orig, "sqlstate", None) in RETRYABLE:
            raise Conflict("this request collided with a concurrent one; send it again (it is idempotent)") from None
        raise


async def ingest_array(
    session: AsyncSession, items: Sequence[Any], caller: Caller, settings: Settings, atomic: bool
) -> bytes:
    """A JSON array (at most `bulk_max_items`): one chunk in the request's transaction; every item answered.

    One chunk per transaction keeps concurrent bulk requests free of deadlocks: a chunk creates its new
    tickets in key order and then locks all its tickets in id order, before touching anything else."""
    tally = Tally()
    result = await _chunk(session, items, caller, settings, atomic)
    if atomic and result.any_rejected:
        raise atomic_failure(0, result.outcomes, len(result.outcomes))
    tally.add(0, result, list_accepted=True, max_listed=None)
    return tally.json()


async def ndjson_lines(stream: AsyncIterator[bytes], hasher: Any, max_line: int) -> AsyncIterator[bytes | Unparseable]:
    """Non-blank lines of an NDJSON stream as they arrive; memory bounded by the longest allowed line."""
    pending = b""
    skipping = False  # inside a line that grew past max_line: drop bytes up to its newline
    async for piece in stream:
        hasher.update(piece)
        parts = (pending + piece).split(b"\n")
        pending = parts.pop()
        for line in parts:
            if skipping:
                skipping = False
                continue
            if len(line) > max_line:
                yield Unparseable(f"line longer than {max_line} bytes")
            elif line.strip():
                yield line
        if len(pending) > max_line:
            if not skipping:
                yield Unparseable(f"line longer than {max_line} bytes")
            skipping, pending = True, b""
    if pending.strip() and not skipping:
        yield pending


async def ingest_stream(
    session: AsyncSession,
    lines: AsyncIterator[bytes | Unparseable],
    caller: Caller,
    settings: Settings,
    atomic: bool,
) -> bytes:
    """An NDJSON stream: chunk by chunk. Without `atomic` each chunk is committed as soon as it is done
    (so memory and lock time stay bounded); with `atomic` all chunks share one transaction and the first
    chunk with a refused item aborts everything. Only non-accepted items are listed."""
    tally = Tally()
    size = settings.ingest_chunk_size
    offset = 0
    batch: list[Any] = []

    async def flush() -> None:
        nonlocal offset, batch
        result = await _chunk(session, batch, caller, settings, atomic)
        if atomic and result.any_rejected:
            raise atomic_failure(offset, result.outcomes, offset + len(batch))
        if not atomic:
            await session.commit()
        tally.add(offset, result, list_accepted=False, max_listed=settings.ndjson_max_listed_items)
        offset += len(batch)
        batch = []

    batch_bytes = 0
    async for line in lines:
        batch.append(line)  # parsed and validated in one step by ingest_chunk
        batch_bytes += len(line) if type(line) is bytes else 0
        if len(batch) >= size or batch_bytes >= settings.bulk_max_bytes:  # memory: a chunk is at most an array
            await flush()
            batch_bytes = 0
    if batch:
        await flush()
    return tally.json()


def request_hash(kind: str, atomic: bool) -> Any:
    hasher = hashlib.sha256()
    hasher.update(f"{kind}|atomic={atomic}|".encode())
    return hasher


def too_large(settings: Settings, what: str) -> PayloadTooLarge:
    limit = settings.bulk_max_bytes
    return PayloadTooLarge(
        f"{what} may be at most {limit} bytes ({settings.bulk_max_items} items x {settings.bulk_item_bytes} bytes); "
        "stream larger batches as application/x-ndjson without atomic=true",
        errors=[field_error("body", f"at most {limit} bytes")],
    )


def too_slow(seconds: float, what: str) -> Problem:
    return Problem(
        f"{what} took longer than {seconds:g} s to arrive; send it faster, or in smaller requests",
        status=408,
        title="Request Timeout",
        errors=[field_error("body", f"not received within {seconds:g} s")],
    )


def declared_length(headers: Any) -> int | None:
    raw = headers.get("content-length")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


async def paced(stream: AsyncIterator[bytes], idle_seconds: float) -> AsyncIterator[bytes]:
    """The pieces of a body; a pause longer than `idle_seconds` between two of them ends it with a 408."""
    pieces = aiter(stream)
    while True:
        try:
            piece = await asyncio.wait_for(anext(pieces), idle_seconds)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise too_slow(idle_seconds, "a piece of the body") from None
        yield piece


async def staged_body(stream: AsyncIterator[bytes], settings: Settings, declared: int | None, what: str) -> bytes:
    """A whole body read before any transaction begins: at most `bulk_max_bytes` (refused from the declared
    Content-Length before reading, else as soon as it grows past it) within `body_read_seconds`."""
    limit = settings.bulk_max_bytes
    if declared is not None and declared > limit:
        raise too_large(settings, what)
    pieces: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(settings.body_read_seconds):
            async for piece in paced(stream, settings.body_idle_seconds):
                size += len(piece)
                if size > limit:
                    raise too_large(settings, what)
                pieces.append(piece)
    except TimeoutError:
        raise too_slow(settings.body_read_seconds, what) from None
    return b"".join(pieces)


def ndjson_items(body: bytes, max_line: int) -> list[bytes | Unparseable]:
    """The non-blank lines of a staged NDJSON body, as `ndjson_lines` gives them."""
    return [
        Unparseable(f"line longer than {max_line} bytes") if len(line) > max_line else line
        for line in body.split(b"\n")
        if line.strip()
    ]


def staged_failure(items: Sequence[bytes | Unparseable], caller: Caller, settings: Settings) -> Unprocessable | None:
    """An atomic stream's refusal found without the database (JSON, shape, rights, instants), chunk by chunk,
    before any transaction begins; None when every item passes those checks."""
    now = datetime.now(UTC)
    size = settings.ingest_chunk_size
    for offset in range(0, len(items), size):
        outcomes, _, _ = parse_items(items[offset : offset + size], caller, settings, now)
        if any(o is not None for o in outcomes):
            return atomic_failure(offset, outcomes, offset + len(outcomes))
    return None


async def staged_lines(items: Sequence[bytes | Unparseable]) -> AsyncIterator[bytes | Unparseable]:
    for item in items:
        yield item
