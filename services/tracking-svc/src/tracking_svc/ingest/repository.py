"""All SQL of ingest: a few set-based statements per chunk, never one per event. Never commits."""

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from asyncpg.pgproto import pgproto
from pledge_common.observability import current_request_id
from pledge_common.tracing import current_traceparent
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tracking_svc.feed import NodeRunUpserted
from tracking_svc.ingest.rules import Fact, feed_instant


@dataclass(slots=True)
class StoredEvent:
    payload_hash: bytes
    ticket_id: UUID
    received_at: datetime


@dataclass(frozen=True, slots=True)
class NodeDefaults:
    department: str | None
    position: str | None


@dataclass(slots=True)
class TicketRow:
    id: UUID
    source: str
    external_id: str
    process_key: str
    status: str
    opened_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    segment: str | None
    segment_version: str
    customer_ref: str | None
    customer_ref_version: str
    attributes_version: str
    # the pauses of all its node runs, as `rules.ticket_pauses` writes them
    pauses: list[dict[str, Any]] = field(default_factory=list)
    inserted: bool = False


_STORED = text(
    """
    SELECT e.source, e.event_id, e.payload_hash, e.ticket_id, e.received_at
    FROM event_keys e
    JOIN unnest(CAST(:sources AS text[]), CAST(:event_ids AS text[])) AS k(source, event_id)
      ON e.source = k.source AND e.event_id = k.event_id
    """
)


_STORED_OF_ONE_SOURCE = text(
    """
    SELECT e.source, e.event_id, e.payload_hash, e.ticket_id, e.received_at
    FROM event_keys e WHERE e.source = :source AND e.event_id = ANY(CAST(:event_ids AS text[]))
    """
)


async def stored_events(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredEvent]:
    """Events already in the log, by (source, event_id): from `event_keys`, the one table that holds each
    event id once whatever the month partition of the log its event is in."""
    if not keys:
        return {}
    source = keys[0][0]
    if all(k[0] == source for k in keys):  # the usual request: one partner system's events
        rows = await session.execute(_STORED_OF_ONE_SOURCE, {"source": source, "event_ids": [k[1] for k in keys]})
    else:
        rows = await session.execute(_STORED, {"sources": [k[0] for k in keys], "event_ids": [k[1] for k in keys]})
    return {(r[0], r[1]): StoredEvent(bytes(r[2]), r[3], r[4]) for r in rows}


_CATALOGUE = text(
    """
    SELECT p.key, n.node_key, n.department, n.position_key, false AS is_segment
    FROM known_processes p LEFT JOIN known_nodes n ON n.process_key = p.key
    WHERE p.key = ANY(CAST(:processes AS text[]))
    UNION ALL
    SELECT s.key, NULL, NULL, NULL, true FROM known_segments s WHERE s.key = ANY(CAST(:segments AS text[]))
    """
)


async def known_catalogue(
    session: AsyncSession, processes: Sequence[str], segments: Sequence[str]
) -> tuple[dict[str, dict[str, NodeDefaults]], set[str]]:
    """Known processes among `processes`, each with its nodes' default department and position, and the
    known segments among `segments` (one round trip)."""
    catalogue: dict[str, dict[str, NodeDefaults]] = {}
    known_segments: set[str] = set()
    if not processes and not segments:
        return catalogue, known_segments
    rows = await session.execute(_CATALOGUE, {"processes": list(processes), "segments": list(segments)})
    for key, node, department, position, is_segment in rows:
        if is_segment:
            known_segments.add(key)
            continue
        nodes = catalogue.setdefault(key, {})
        if node is not None:
            nodes[node] = NodeDefaults(department, position)
    return catalogue, known_segments


_LOCK_TICKETS = text(
    """
    SELECT t.id, t.source, t.external_id, t.process_key, t.status, t.opened_at, t.closed_at, t.cancelled_at,
           t.segment, t.segment_version, t.customer_ref, t.customer_ref_version, t.attributes_version,
           t.pauses::text
    FROM tickets t
    JOIN unnest(CAST(:sources AS text[]), CAST(:external_ids AS text[])) AS k(source, external_id)
      ON t.source = k.source AND t.external_id = k.external_id
    ORDER BY t.id
    FOR UPDATE OF t
    """
)


async def lock_tickets(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], TicketRow]:
    """The stored tickets among `keys` (source, external_id), locked until the transaction ends (in id
    order: two requests never wait for each other in a cycle)."""
    rows = await session.execute(_LOCK_TICKETS, {"sources": [k[0] for k in keys], "external_ids": [k[1] for k in keys]})
    found: dict[tuple[str, str], TicketRow] = {}
    for r in rows:
        row = TicketRow(*r[:13])
        row.pauses = json.loads(r[13])
        found[(row.source, row.external_id)] = row
    return found


_HISTORY = text(
    """
    SELECT e.ticket_id, e.node_key, e.type, e.occurred_at, e.event_id, e.reason, e.department, e.position
    FROM events e WHERE e.ticket_id = ANY(CAST(:ticket_level AS uuid[])) AND e.node_key IS NULL
    UNION ALL
    SELECT e.ticket_id, e.node_key, e.type, e.occurred_at, e.event_id, e.reason, e.department, e.position
    FROM events e
    JOIN unnest(CAST(:pair_tickets AS uuid[]), CAST(:pair_nodes AS text[])) AS p(ticket_id, node_key)
      ON e.ticket_id = p.ticket_id AND e.node_key = p.node_key
    UNION ALL
    SELECT e.ticket_id, e.node_key, e.type, e.occurred_at, e.event_id, e.reason, e.department, e.position
    FROM events e WHERE e.ticket_id = ANY(CAST(:all_nodes AS uuid[])) AND e.node_key IS NOT NULL
    """
)


async def history(
    session: AsyncSession,
    ticket_level: Sequence[UUID],
    pairs: Sequence[tuple[UUID, str]],
    all_nodes: Sequence[UUID],
) -> list[tuple[UUID, Fact]]:
    """Stored facts: ticket-level events of `ticket_level`, node events of `pairs` and of every node of
    `all_nodes` (tickets being reopened). A node pair of an `all_nodes` ticket must not also be in `pairs`."""
    if not (ticket_level or pairs or all_nodes):
        return []
    rows = await session.execute(
        _HISTORY,
        {
            "ticket_level": list(ticket_level),
            "pair_tickets": [p[0] for p in pairs],
            "pair_nodes": [p[1] for p in pairs],
            "all_nodes": list(all_nodes),
        },
    )
    return [
        (r[0], Fact(event_id=r[4], type=r[2], occurred_at=r[3], node=r[1], reason=r[5], department=r[6], position=r[7]))
        for r in rows
    ]


# One row of the raw event log, a plain tuple in this column order (built once per event, no per-row object).
EVENT_COLUMNS = (
    "source",
    "event_id",
    "ticket_id",
    "type",
    "occurred_at",
    "node_key",
    "reason",
    "department",
    "position",
    "payload_hash",
    "body",  # JSON text
    "received_at",
    "request_id",
)
# `event_keys`: an event's id once, with what a duplicate of it is answered with (from the same tuple)
EVENT_KEY_COLUMNS = ("source", "event_id", "ticket_id", "payload_hash", "received_at")
EventRow = tuple[
    str, str, UUID, str, datetime, str | None, str | None, str | None, str | None, bytes, str, datetime, str | None
]


class ConcurrentInsert(Exception):
    """Another transaction stored one of the events (unique key taken) after this chunk looked them up."""


async def driver_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection of the session's transaction (for COPY), with that transaction begun."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection  # type: ignore[assignment]
    if not driver.is_in_transaction():
        await session.execute(text("SELECT 1"))  # the dialect begins its transaction on the first statement
    return driver


async def insert_events(session: AsyncSession, events: Sequence[EventRow]) -> None:
    """Append accepted events to the log with one binary COPY (no per-row statement, no array parameters).

    The caller has checked that none of them is stored; a concurrent request storing one of them in the
    meantime makes the unique key refuse the COPY: `ConcurrentInsert` (the transaction is then unusable)."""
    if not events:
        return
    driver = await driver_connection(session)
    try:  # the keys first: their primary key is what refuses an event id stored twice (any month)
        await driver.copy_records_to_table(
            "event_keys", columns=EVENT_KEY_COLUMNS, records=[(e[0], e[1], e[2], e[9], e[11]) for e in events]
        )
    except asyncpg.UniqueViolationError:
        raise ConcurrentInsert from None
    await driver.copy_records_to_table("events", columns=EVENT_COLUMNS, records=events)


@dataclass(slots=True)
class TicketUpdate:
    id: UUID
    status: str
    opened_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    segment: str | None
    segment_version: str
    customer_ref: str | None
    customer_ref_version: str
    attributes: str | None  # JSON text; None = unchanged
    attributes_version: str
    pauses: str  # JSON text: the pauses of all the ticket's node runs


_UPDATE_TICKETS = text(
    """
    WITH input AS (
        SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:statuses AS text[]), CAST(:opened AS timestamptz[]),
                             CAST(:closed AS timestamptz[]), CAST(:cancelled AS timestamptz[]),
                             CAST(:segments AS text[]), CAST(:segment_versions AS text[]),
                             CAST(:customer_refs AS text[]), CAST(:customer_ref_versions AS text[]),
                             CAST(:attributes AS text[]), CAST(:attributes_versions AS text[]),
                             CAST(:pauses AS text[]))
             AS i(id, status, opened_at, closed_at, cancelled_at, segment, segment_version, customer_ref,
                  customer_ref_version, attributes, attributes_version, pauses)
    ), changed AS (
        UPDATE tickets t
        SET status = i.status, opened_at = i.opened_at, closed_at = i.closed_at, cancelled_at = i.cancelled_at,
            segment = i.segment, segment_version = i.segment_version,
            customer_ref = i.customer_ref, customer_ref_version = i.customer_ref_version,
            attributes = COALESCE(i.attributes::jsonb, t.attributes), attributes_version = i.attributes_version,
            pauses = i.pauses::jsonb, updated_at = now()
        FROM input i WHERE t.id = i.id
        RETURNING t.id, t.source, t.external_id, t.process_key, t.customer_ref, t.segment, t.status, t.opened_at,
                  t.closed_at, t.cancelled_at, t.attributes, t.pauses
    )
    INSERT INTO outbox (type, key, payload, request_id, traceparent)
    SELECT 'ticket.upserted', t.id::text, to_json(t), :request_id, :traceparent FROM changed t ORDER BY t.id
    """
)


def _state_parameters(states: Sequence[TicketUpdate]) -> dict[str, list[Any]]:
    """The array parameters of tickets' ids and derived state (`_UPDATE_TICKETS`, `_INSERT_TICKETS`)."""
    return {
        "ids": [u.id for u in states],
        "statuses": [u.status for u in states],
        "opened": [u.opened_at for u in states],
        "closed": [u.closed_at for u in states],
        "cancelled": [u.cancelled_at for u in states],
        "segments": [u.segment for u in states],
        "segment_versions": [u.segment_version for u in states],
        "customer_refs": [u.customer_ref for u in states],
        "customer_ref_versions": [u.customer_ref_version for u in states],
        "attributes": [u.attributes for u in states],
        "attributes_versions": [u.attributes_version for u in states],
        "pauses": [u.pauses for u in states],
    }


async def update_tickets(session: AsyncSession, updates: Sequence[TicketUpdate]) -> None:
    """Write the derived state of changed (or new) tickets and put each on the feed, in one statement.

    The feed rows are written straight into the outbox table (the same rows `pledge_common.outbox.emit_many`
    writes) so that the payload is built in SQL from the row just written, without a round trip. Payloads
    are `to_json` of a row (instants in ISO 8601, UTC: the connection's TimeZone) into the outbox's `json`
    column: no binary JSON is built, parsed or printed again on the way to the feed.
    """
    if not updates:
        return
    await session.execute(
        _UPDATE_TICKETS,
        {
            **_state_parameters(updates),
            "request_id": current_request_id(),
            "traceparent": current_traceparent(),
        },
    )


@dataclass(slots=True)
class NewTicket:
    source: str
    external_id: str
    process_key: str
    state: TicketUpdate  # its id and derived state


_INSERT_TICKETS = text(
    """
    WITH input AS (
        SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:sources AS text[]), CAST(:external_ids AS text[]),
                             CAST(:processes AS text[]), CAST(:statuses AS text[]), CAST(:opened AS timestamptz[]),
                             CAST(:closed AS timestamptz[]), CAST(:cancelled AS timestamptz[]),
                             CAST(:segments AS text[]), CAST(:segment_versions AS text[]),
                             CAST(:customer_refs AS text[]), CAST(:customer_ref_versions AS text[]),
                             CAST(:attributes AS text[]), CAST(:attributes_versions AS text[]),
                             CAST(:pauses AS text[]))
             AS i(id, source, external_id, process_key, status, opened_at, closed_at, cancelled_at, segment,
                  segment_version, customer_ref, customer_ref_version, attributes, attributes_version, pauses)
    ), inserted AS (
        INSERT INTO tickets AS t (id, source, external_id, process_key, status, opened_at, closed_at, cancelled_at,
                                  segment, segment_version, customer_ref, customer_ref_version, attributes,
                                  attributes_version, pauses)
        SELECT id, source, external_id, process_key, status, opened_at, closed_at, cancelled_at, segment,
               segment_version, customer_ref, customer_ref_version, COALESCE(attributes::jsonb, '{}'::jsonb),
               attributes_version, pauses::jsonb
        FROM input ORDER BY source, external_id
        ON CONFLICT (source, external_id) DO NOTHING
        RETURNING t.id, t.source, t.external_id, t.process_key, t.customer_ref, t.segment, t.status, t.opened_at,
                  t.closed_at, t.cancelled_at, t.attributes, t.pauses
    ), feed AS (
        INSERT INTO outbox (type, key, payload, request_id, traceparent)
        SELECT 'ticket.upserted', t.id::text, to_json(t), :request_id, :traceparent FROM inserted t ORDER BY t.id
    )
    SELECT id FROM inserted
    """
)


async def insert_tickets(session: AsyncSession, tickets: Sequence[NewTicket]) -> set[UUID]:
    """Create tickets with their derived state, each with its feed event, in one statement; the ids of
    those created. A ticket another request created since this one looked is left alone (not in the
    answer): the caller must then plan again, since that request may have stored events of it."""
    if not tickets:
        return set()
    rows = await session.execute(
        _INSERT_TICKETS,
        {
            **_state_parameters([t.state for t in tickets]),
            "sources": [t.source for t in tickets],
            "external_ids": [t.external_id for t in tickets],
            "processes": [t.process_key for t in tickets],
            "request_id": current_request_id(),
            "traceparent": current_traceparent(),
        },
    )
    return {r[0] for r in rows}


@dataclass(slots=True)
class RunUpsert:
    ticket_id: UUID
    node_key: str
    cycle: int
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    pauses: str  # JSON text
    department: str | None
    position: str | None
    ended_by_ticket: bool


_UPSERT_RUNS = text(
    """
    WITH input AS (
        SELECT * FROM unnest(CAST(:ticket_ids AS uuid[]), CAST(:nodes AS text[]), CAST(:cycles AS integer[]),
                             CAST(:statuses AS text[]), CAST(:started AS timestamptz[]),
                             CAST(:completed AS timestamptz[]), CAST(:cancelled AS timestamptz[]),
                             CAST(:pauses AS text[]), CAST(:departments AS text[]), CAST(:positions AS text[]),
                             CAST(:ended_by_ticket AS boolean[]))
             AS i(ticket_id, node_key, cycle, status, started_at, completed_at, cancelled_at, pauses, department,
                  position, ended_by_ticket)
    ), recorded AS (
        SELECT r.ticket_id, r.node_key, r.cycle, r.recorded_at
        FROM node_runs r JOIN input i ON r.ticket_id = i.ticket_id AND r.node_key = i.node_key AND r.cycle = i.cycle
    ), changed AS (
        INSERT INTO node_runs AS r (ticket_id, node_key, cycle, status, started_at, completed_at, cancelled_at,
                                    pauses, department, position, ended_by_ticket, recorded_at)
        SELECT i.ticket_id, i.node_key, i.cycle, i.status, i.started_at, i.completed_at, i.cancelled_at,
               i.pauses::jsonb, i.department, i.position, i.ended_by_ticket,
               coalesce(k.recorded_at, date_trunc('month', now(), 'UTC'))
        FROM input i LEFT JOIN recorded k ON k.ticket_id = i.ticket_id AND k.node_key = i.node_key AND k.cycle = i.cycle
        ORDER BY i.ticket_id, i.node_key, i.cycle
        ON CONFLICT (ticket_id, node_key, cycle, recorded_at) DO UPDATE
        SET status = EXCLUDED.status, started_at = EXCLUDED.started_at, completed_at = EXCLUDED.completed_at,
            cancelled_at = EXCLUDED.cancelled_at, pauses = EXCLUDED.pauses, department = EXCLUDED.department,
            position = EXCLUDED.position, ended_by_ticket = EXCLUDED.ended_by_ticket, updated_at = now()
        WHERE (r.status, r.started_at, r.completed_at, r.cancelled_at, r.pauses, r.department, r.position,
               r.ended_by_ticket)
              IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.started_at, EXCLUDED.completed_at, EXCLUDED.cancelled_at,
                                EXCLUDED.pauses, EXCLUDED.department, EXCLUDED.position, EXCLUDED.ended_by_ticket)
        RETURNING r.id, r.ticket_id, r.node_key, r.cycle, r.status, r.started_at, r.completed_at, r.cancelled_at,
                  r.pauses, r.department, r.position, r.ended_by_ticket
    ), ticket AS (
        SELECT * FROM unnest(CAST(:t_ids AS uuid[]), CAST(:t_sources AS text[]), CAST(:t_external_ids AS text[]),
                             CAST(:t_processes AS text[]), CAST(:t_segments AS text[]),
                             CAST(:t_customer_refs AS text[]))
             AS k(id, source, external_id, process_key, segment, customer_ref)
    ), emitted AS (
        SELECT r.id, r.ticket_id, t.source, t.external_id, t.process_key, r.node_key, t.segment, t.customer_ref,
               r.cycle, r.department, r.position, r.status, r.started_at, r.completed_at, r.cancelled_at, r.pauses,
               r.ended_by_ticket
        FROM changed r JOIN ticket t ON t.id = r.ticket_id
        UNION ALL
        SELECT r.id, r.ticket_id, t.source, t.external_id, t.process_key, r.node_key, t.segment, t.customer_ref,
               r.cycle, r.department, r.position, r.status, r.started_at, r.completed_at, r.cancelled_at, r.pauses,
               r.ended_by_ticket
        FROM node_runs r JOIN tickets t ON t.id = r.ticket_id
        WHERE r.ticket_id = ANY(CAST(:refresh AS uuid[])) AND r.id NOT IN (SELECT id FROM changed)
    )
    INSERT INTO outbox (type, key, payload, request_id, traceparent)
    SELECT 'node_run.upserted', r.id::text, to_json(r), :request_id, :traceparent
    FROM emitted r
    ORDER BY r.ticket_id, r.node_key, r.cycle
    """
)


@dataclass(frozen=True, slots=True)
class TicketFields:
    """What a node run's feed payload repeats of its ticket (as of the end of the chunk)."""

    id: UUID
    source: str
    external_id: str
    process_key: str
    segment: str | None
    customer_ref: str | None


async def upsert_runs(
    session: AsyncSession, runs: Sequence[RunUpsert], tickets: Sequence[TicketFields], refresh: Sequence[UUID]
) -> None:
    """Write derived node runs; every run that changed, and every run of a `refresh` ticket (its segment or
    customer changed), goes on the feed in full — one statement. `tickets` holds the ticket of every run.
    A stored run stays in the month partition it was first recorded in (its `recorded_at`, read here; the
    caller holds its ticket's lock)."""
    if not runs and not refresh:
        return
    await session.execute(
        _UPSERT_RUNS,
        {
            "ticket_ids": [r.ticket_id for r in runs],
            "nodes": [r.node_key for r in runs],
            "cycles": [r.cycle for r in runs],
            "statuses": [r.status for r in runs],
            "started": [r.started_at for r in runs],
            "completed": [r.completed_at for r in runs],
            "cancelled": [r.cancelled_at for r in runs],
            "pauses": [r.pauses for r in runs],
            "departments": [r.department for r in runs],
            "positions": [r.position for r in runs],
            "ended_by_ticket": [r.ended_by_ticket for r in runs],
            "t_ids": [t.id for t in tickets],
            "t_sources": [t.source for t in tickets],
            "t_external_ids": [t.external_id for t in tickets],
            "t_processes": [t.process_key for t in tickets],
            "t_segments": [t.segment for t in tickets],
            "t_customer_refs": [t.customer_ref for t in tickets],
            "refresh": list(refresh),
            "request_id": current_request_id(),
            "traceparent": current_traceparent(),
        },
    )


NODE_RUN_COLUMNS = (
    "id",
    "ticket_id",
    "node_key",
    "cycle",
    "status",
    "started_at",
    "completed_at",
    "cancelled_at",
    "pauses",
    "department",
    "position",
    "ended_by_ticket",
)
OUTBOX_COLUMNS = ("type", "key", "payload", "request_id", "traceparent")
_PAYLOAD = msgspec.json.Encoder()


def time_ordered_ids(count: int) -> list[UUID]:
    """`count` new UUIDv7 (RFC 9562: 48-bit Unix milliseconds, then random bits), as Postgres 18's
    `uuidv7()` makes them: ids minted together sort together, so their index entries share pages.

    They are asyncpg's own `UUID` (a `uuid.UUID`): made from bytes, printed and sent to Postgres in a
    tenth of the time of the standard library's, and minted here for most rows that ingest writes."""
    head = (time.time_ns() // 1_000_000) << 80 | 0x7 << 76
    entropy = os.urandom(10 * count)
    ids: list[UUID] = []
    for i in range(count):
        rand = int.from_bytes(entropy[10 * i : 10 * i + 10])  # 80 bits: 12 for rand_a, 62 for rand_b
        ids.append(pgproto.UUID((head | (rand >> 68) << 64 | 0b10 << 62 | (rand & 0x3FFF_FFFF_FFFF_FFFF)).to_bytes(16)))
    return ids


def _instant(value: datetime | None) -> str | None:
    return feed_instant(value) if value is not None else None


async def insert_new_runs(
    session: AsyncSession, runs: Sequence[RunUpsert], tickets: Mapping[UUID, TicketFields]
) -> None:
    """Write node runs that cannot exist yet, each with its feed event: two binary COPYs, no statement
    per row and no JSON built or parsed in SQL.

    A run cannot exist yet when its node has no stored event (the caller holds the ticket's row lock, so
    no other request can add one meanwhile). Ids are minted here, so the feed payload (the same fields as
    `upsert_runs` puts on the feed) is built here too. Should a run exist after all, the unique key
    refuses the COPY: `ConcurrentInsert`."""
    if not runs:
        return
    ids = time_ordered_ids(len(runs))
    rows = []
    feed = []
    request_id = current_request_id()
    traceparent = current_traceparent()
    encode = _PAYLOAD.encode
    for run_id, r in zip(ids, runs, strict=True):
        rows.append(
            (
                run_id,
                r.ticket_id,
                r.node_key,
                r.cycle,
                r.status,
                r.started_at,
                r.completed_at,
                r.cancelled_at,
                r.pauses,
                r.department,
                r.position,
                r.ended_by_ticket,
            )
        )
        t = tickets[r.ticket_id]
        payload = NodeRunUpserted(
            run_id,
            r.ticket_id,
            t.source,
            t.external_id,
            t.process_key,
            r.node_key,
            t.segment,
            t.customer_ref,
            r.cycle,
            r.department,
            r.position,
            r.status,
            _instant(r.started_at),
            _instant(r.completed_at),
            _instant(r.cancelled_at),
            msgspec.Raw(r.pauses),
            r.ended_by_ticket,
        )
        feed.append(("node_run.upserted", str(run_id), encode(payload).decode(), request_id, traceparent))
    driver = await driver_connection(session)
    try:
        await driver.copy_records_to_table("node_runs", columns=NODE_RUN_COLUMNS, records=rows)
    except asyncpg.UniqueViolationError:
        raise ConcurrentInsert from None
    await driver.copy_records_to_table("outbox", columns=OUTBOX_COLUMNS, records=feed)


def dumps(value: Any) -> str:
    """Compact JSON text (for jsonb parameters)."""
    return msgspec.json.encode(value).decode()
