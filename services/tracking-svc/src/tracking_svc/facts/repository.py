"""The SQL of service facts: a fixed handful of set-based statements per request, whatever its size. Never
commits (the request's session does)."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tracking_svc.facts.rules import DeliverableState, OutageState

FEW_KEYS = 64  # a request touching more keys takes the whole ingest of facts for itself (see lock_keys)


async def lock_keys(session: AsyncSession, keys: Sequence[str]) -> None:
    """Serialise the requests touching the same facts, outages or deliverables, until the transaction ends.

    A request touching few keys holds the ingest lock shared and each key's lock, taken in one order (so two
    such requests wait for each other only on a common key, and never deadlock); one touching more holds the
    ingest lock alone (a bulk of thousands of keys would fill Postgres's lock table, which every session
    shares). Postgres queues a waiting exclusive request before later shared ones: a bulk is not starved."""
    distinct = sorted(set(keys))
    if not distinct:
        return
    if len(distinct) > FEW_KEYS:
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('service-facts', 0))"))
        return
    await session.execute(text("SELECT pg_advisory_xact_lock_shared(hashtextextended('service-facts', 0))"))
    await session.execute(
        text(
            "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(k, 0) AS h"
            " FROM unnest(CAST(:k AS text[])) AS k ORDER BY 1) AS l"
        ),
        {"k": distinct},
    )


async def stored_facts(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], bytes]:
    """The payload hash of the facts already logged, by (source, external_id)."""
    if not keys:
        return {}
    rows = await session.execute(
        text(
            "SELECT f.source, f.external_id, f.payload_hash FROM service_facts f"
            " JOIN unnest(CAST(:s AS text[]), CAST(:e AS text[])) AS k(source, external_id)"
            " ON f.source = k.source AND f.external_id = k.external_id"
        ),
        {"s": [k[0] for k in keys], "e": [k[1] for k in keys]},
    )
    return {(r[0], r[1]): bytes(r[2]) for r in rows}


async def outages(
    session: AsyncSession, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[UUID, OutageState]]:
    """The stored outages among (service_key, outage_ref) keys."""
    if not keys:
        return {}
    rows = await session.execute(
        text(
            "SELECT o.service_key, o.outage_ref, o.id, o.started_at, o.ended_at, o.planned, o.weight, o.summary"
            " FROM outages o JOIN unnest(CAST(:s AS text[]), CAST(:r AS text[])) AS k(service_key, outage_ref)"
            " ON o.service_key = k.service_key AND o.outage_ref = k.outage_ref"
        ),
        {"s": [k[0] for k in keys], "r": [k[1] for k in keys]},
    )
    return {(r[0], r[1]): (r[2], OutageState(r[3], r[4], r[5], r[6], r[7])) for r in rows}


async def deliverables(
    session: AsyncSession, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[UUID, DeliverableState]]:
    """The stored deliverables among (service_key, obligation_key) keys."""
    if not keys:
        return {}
    rows = await session.execute(
        text(
            "SELECT d.service_key, d.obligation_key, d.id, d.delivered_at, d.evidence, d.evidence_version,"
            " d.signed_off_at, d.signed_by, d.signed_version FROM deliverables d"
            " JOIN unnest(CAST(:s AS text[]), CAST(:o AS text[])) AS k(service_key, obligation_key)"
            " ON d.service_key = k.service_key AND d.obligation_key = k.obligation_key"
        ),
        {"s": [k[0] for k in keys], "o": [k[1] for k in keys]},
    )
    return {(r[0], r[1]): (r[2], DeliverableState(r[3], r[4], r[5], r[6], r[7], r[8])) for r in rows}


@dataclass(frozen=True, slots=True)
class LoggedFact:
    source: str
    external_id: str
    type: str
    service_key: str
    occurred_at: datetime
    payload_hash: bytes
    body: str
    request_id: str | None


async def insert_facts(session: AsyncSession, facts: Sequence[LoggedFact]) -> None:
    if not facts:
        return
    await session.execute(
        text(
            "INSERT INTO service_facts (source, external_id, type, service_key, occurred_at, payload_hash, body,"
            " request_id) SELECT s, e, t, k, o, h, CAST(b AS jsonb), r FROM unnest(CAST(:s AS text[]),"
            " CAST(:e AS text[]), CAST(:t AS text[]), CAST(:k AS text[]), CAST(:o AS timestamptz[]),"
            " CAST(:h AS bytea[]), CAST(:b AS text[]), CAST(:r AS text[])) AS i(s, e, t, k, o, h, b, r)"
        ),
        {
            "s": [f.source for f in facts],
            "e": [f.external_id for f in facts],
            "t": [f.type for f in facts],
            "k": [f.service_key for f in facts],
            "o": [f.occurred_at for f in facts],
            "h": [f.payload_hash for f in facts],
            "b": [f.body for f in facts],
            "r": [f.request_id for f in facts],
        },
    )


async def upsert_outages(
    session: AsyncSession, rows: Sequence[tuple[UUID, str, str, OutageState]], sources: Sequence[Sequence[str]]
) -> None:
    """Write the outages (id, service_key, outage_ref, state) whose state changed, new or stored, adding the
    sources of the facts that changed them (`sources[i]` for `rows[i]`)."""
    if not rows:
        return
    await session.execute(
        text(
            "INSERT INTO outages AS o (id, service_key, outage_ref, started_at, ended_at, planned, weight, summary,"
            " sources) SELECT i, s, r, st, en, p, w, m, string_to_array(so, ',') FROM unnest(CAST(:i AS uuid[]),"
            " CAST(:s AS text[]), CAST(:r AS text[]), CAST(:st AS timestamptz[]), CAST(:en AS timestamptz[]),"
            " CAST(:p AS boolean[]), CAST(:w AS double precision[]), CAST(:m AS text[]), CAST(:so AS text[]))"
            " AS u(i, s, r, st, en, p, w, m, so) ORDER BY s, r"
            " ON CONFLICT (service_key, outage_ref) DO UPDATE SET started_at = EXCLUDED.started_at,"
            " ended_at = EXCLUDED.ended_at, planned = EXCLUDED.planned, weight = EXCLUDED.weight,"
            " summary = EXCLUDED.summary, updated_at = now(),"
            " sources = ARRAY(SELECT DISTINCT x FROM unnest(o.sources || EXCLUDED.sources) AS x ORDER BY x)"
        ),
        {
            "i": [r[0] for r in rows],
            "s": [r[1] for r in rows],
            "r": [r[2] for r in rows],
            "st": [r[3].started_at for r in rows],
            "en": [r[3].ended_at for r in rows],
            "p": [r[3].planned for r in rows],
            "w": [r[3].weight for r in rows],
            "m": [r[3].summary for r in rows],
            "so": [",".join(sorted(set(found))) for found in sources],  # source keys hold no comma
        },
    )


async def upsert_deliverables(session: AsyncSession, rows: Sequence[tuple[UUID, str, str, DeliverableState]]) -> None:
    if not rows:
        return
    await session.execute(
        text(
            "INSERT INTO deliverables AS d (id, service_key, obligation_key, delivered_at, evidence,"
            " evidence_version, signed_off_at, signed_by, signed_version) SELECT * FROM unnest(CAST(:i AS uuid[]),"
            " CAST(:s AS text[]), CAST(:o AS text[]), CAST(:da AS timestamptz[]), CAST(:e AS text[]),"
            " CAST(:v AS text[]), CAST(:sa AS timestamptz[]), CAST(:sb AS text[]), CAST(:sv AS text[])) ORDER BY 2, 3"
            " ON CONFLICT (service_key, obligation_key) DO UPDATE SET delivered_at = EXCLUDED.delivered_at,"
            " evidence = EXCLUDED.evidence, evidence_version = EXCLUDED.evidence_version,"
            " signed_off_at = EXCLUDED.signed_off_at, signed_by = EXCLUDED.signed_by,"
            " signed_version = EXCLUDED.signed_version, updated_at = now()"
        ),
        {
            "i": [r[0] for r in rows],
            "s": [r[1] for r in rows],
            "o": [r[2] for r in rows],
            "da": [r[3].delivered_at for r in rows],
            "e": [r[3].evidence for r in rows],
            "v": [r[3].evidence_version for r in rows],
            "sa": [r[3].signed_off_at for r in rows],
            "sb": [r[3].signed_by for r in rows],
            "sv": [r[3].signed_version for r in rows],
        },
    )


@dataclass(frozen=True, slots=True)
class Measurement:
    """A sample (value) or an occurrence (evidence) row."""

    id: UUID
    source: str
    external_id: str
    service_key: str
    obligation_key: str
    at: datetime
    value: float | None = None
    evidence: str | None = None


async def insert_samples(session: AsyncSession, rows: Sequence[Measurement]) -> None:
    if rows:
        await session.execute(
            text(
                "INSERT INTO samples (id, source, external_id, service_key, obligation_key, at, value)"
                " SELECT * FROM unnest(CAST(:i AS uuid[]), CAST(:s AS text[]), CAST(:e AS text[]),"
                " CAST(:k AS text[]), CAST(:o AS text[]), CAST(:a AS timestamptz[]), CAST(:v AS double precision[]))"
            ),
            {**_measurement_columns(rows), "v": [r.value for r in rows]},
        )


async def insert_occurrences(session: AsyncSession, rows: Sequence[Measurement]) -> None:
    if rows:
        await session.execute(
            text(
                "INSERT INTO occurrences (id, source, external_id, service_key, obligation_key, at, evidence)"
                " SELECT * FROM unnest(CAST(:i AS uuid[]), CAST(:s AS text[]), CAST(:e AS text[]),"
                " CAST(:k AS text[]), CAST(:o AS text[]), CAST(:a AS timestamptz[]), CAST(:v AS text[]))"
            ),
            {**_measurement_columns(rows), "v": [r.evidence for r in rows]},
        )


def _measurement_columns(rows: Sequence[Measurement]) -> dict[str, list[Any]]:
    return {
        "i": [r.id for r in rows],
        "s": [r.source for r in rows],
        "e": [r.external_id for r in rows],
        "k": [r.service_key for r in rows],
        "o": [r.obligation_key for r in rows],
        "a": [r.at for r in rows],
    }


@dataclass(frozen=True, slots=True)
class OutageFilter:
    service: str | None
    start: datetime
    end: datetime


async def list_outages(
    session: AsyncSession,
    where: OutageFilter,
    sources: frozenset[str] | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[Any]:
    """Outages of [start, end): begun before `end` and not ended before `start` (an outage whose start has
    not arrived counts from its end), ordered by their first known instant, then id; for a caller bound to
    `sources`, those some of its sources reported."""
    rows = await session.execute(
        text(
            "SELECT id, service_key, outage_ref, started_at, ended_at, planned, weight, summary,"
            " coalesce(started_at, ended_at) AS first_at FROM outages"
            " WHERE (CAST(:service AS text) IS NULL OR service_key = CAST(:service AS text))"
            " AND (CAST(:sources AS text[]) IS NULL OR sources && CAST(:sources AS text[]))"
            " AND coalesce(started_at, ended_at) < :end AND (ended_at IS NULL OR ended_at >= :start)"
            " AND (CAST(:after_at AS timestamptz) IS NULL"
            "      OR (coalesce(started_at, ended_at), id) > (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid)))"
            " ORDER BY coalesce(started_at, ended_at), id LIMIT :limit"
        ),
        {
            "service": where.service,
            "sources": sorted(sources) if sources is not None else None,
            "start": where.start,
            "end": where.end,
            "after_at": after[0] if after else None,
            "after_id": after[1] if after else None,
            "limit": limit,
        },
    )
    return list(rows)


_MAPPING_COLUMNS = "key, receiver, service_label, service_map, planned_label, weight_label, created_at"


async def insert_mapping(session: AsyncSession, values: dict[str, Any]) -> Any | None:
    """The new mapping's row; None when its key, or a mapping of the same receiver, exists already."""
    row = await session.execute(
        text(
            "INSERT INTO alertmanager_mappings (key, receiver, service_label, service_map, planned_label, weight_label)"
            " VALUES (:key, :receiver, :service_label, CAST(:service_map AS jsonb), :planned_label, :weight_label)"
            f" ON CONFLICT DO NOTHING RETURNING {_MAPPING_COLUMNS}"
        ),
        {**values, "service_map": json.dumps(values["service_map"]) if values["service_map"] is not None else None},
    )
    return row.first()


async def get_mapping(session: AsyncSession, key: str) -> Any | None:
    row = await session.execute(
        text(f"SELECT {_MAPPING_COLUMNS} FROM alertmanager_mappings WHERE key = :k"), {"k": key}
    )
    return row.first()


async def list_mappings(session: AsyncSession, after: str | None, limit: int) -> list[Any]:
    rows = await session.execute(
        text(
            f"SELECT {_MAPPING_COLUMNS} FROM alertmanager_mappings"
            " WHERE CAST(:after AS text) IS NULL OR key > CAST(:after AS text) ORDER BY key LIMIT :limit"
        ),
        {"after": after, "limit": limit},
    )
    return list(rows)


async def delete_mapping(session: AsyncSession, key: str) -> bool:
    result = await session.execute(text("DELETE FROM alertmanager_mappings WHERE key = :k RETURNING key"), {"k": key})
    return result.first() is not None


async def mappings_for(session: AsyncSession, receiver: str) -> list[Any]:
    """The mappings that may apply to a receiver: its own and the one for any receiver."""
    rows = await session.execute(
        text(f"SELECT {_MAPPING_COLUMNS} FROM alertmanager_mappings WHERE receiver = :r OR receiver IS NULL"),
        {"r": receiver},
    )
    return list(rows)
