"""SQL of the kinds of commitment: the copies of services, kind commitments and service facts, and the reads of
their reports. Set-based (`jsonb_to_recordset`); never commits."""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.rules.kinds import KindCommitment, Outage
from evaluation_svc.rules.payloads import parse_instant


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class Service:
    key: str
    name: str
    customer_ref: str | None
    segment: str
    owner_department: str | None
    status: str


@dataclass(frozen=True, slots=True)
class StoredOutage:
    id: str
    service_key: str
    outage: Outage


@dataclass(frozen=True, slots=True)
class Deliverable:
    service_key: str
    obligation_key: str
    delivered_at: datetime | None
    signed_off_at: datetime | None
    signed_by: str | None
    evidence: str | None


class KindsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- writes (the projection) --------------------------------------------------------------------------

    async def upsert_services(self, rows: Sequence[Mapping[str, Any]]) -> None:
        await self.session.execute(
            text(
                """
                INSERT INTO ref_services (key, name, customer_ref, segment, owner_department, status)
                SELECT x.key, coalesce(nullif(x.name, ''), x.key), x.customer_ref, coalesce(x.segment, 'default'),
                       x.owner_department, coalesce(x.status, 'active')
                FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(key text, name text, customer_ref text,
                    segment text, owner_department text, status text)
                ORDER BY x.key
                ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, customer_ref = EXCLUDED.customer_ref,
                    segment = EXCLUDED.segment, owner_department = EXCLUDED.owner_department,
                    status = EXCLUDED.status
                """
            ),
            {"rows": json.dumps(list(rows))},
        )

    async def upsert_commitments(self, commitments: Sequence[KindCommitment]) -> None:
        """Store kind commitments; a version id once copied as a node commitment leaves `ref_commitments`."""
        rows = [
            {
                "id": c.id,
                "commitment_key": c.commitment_key,
                "version": c.version,
                "kind": c.kind,
                "service_key": c.service_key,
                "obligation_key": c.obligation_key,
                "segment_key": c.segment_key,
                "limit_unit": c.limit_unit,
                "commitment_limit": c.commitment_limit,
                "tolerance_limit": c.tolerance_limit,
                "calendar_key": c.calendar_key,
                "objective": dict(c.objective),
                "owner_department": c.owner_department,
                "status": c.status,
                "effective_from": _iso(c.effective_from),
                "effective_to": _iso(c.effective_to),
            }
            for c in sorted(commitments, key=lambda c: c.id)
        ]
        await self.session.execute(
            text(
                """
                INSERT INTO ref_kind_commitments (id, commitment_key, version, kind, service_key, obligation_key,
                    segment_key, limit_unit, commitment_limit, tolerance_limit, calendar_key, objective,
                    owner_department, status, effective_from, effective_to)
                SELECT x.id, x.commitment_key, x.version, x.kind, x.service_key, x.obligation_key, x.segment_key,
                    x.limit_unit, x.commitment_limit, x.tolerance_limit, x.calendar_key,
                    coalesce(x.objective, '{}'), x.owner_department, x.status, x.effective_from, x.effective_to
                FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(id text, commitment_key text, version integer,
                    kind text, service_key text, obligation_key text, segment_key text, limit_unit text,
                    commitment_limit text, tolerance_limit text, calendar_key text, objective jsonb,
                    owner_department text, status text, effective_from timestamptz, effective_to timestamptz)
                ON CONFLICT (id) DO UPDATE SET commitment_key = EXCLUDED.commitment_key,
                    version = EXCLUDED.version, kind = EXCLUDED.kind, service_key = EXCLUDED.service_key,
                    obligation_key = EXCLUDED.obligation_key, segment_key = EXCLUDED.segment_key,
                    limit_unit = EXCLUDED.limit_unit, commitment_limit = EXCLUDED.commitment_limit,
                    tolerance_limit = EXCLUDED.tolerance_limit, calendar_key = EXCLUDED.calendar_key,
                    objective = EXCLUDED.objective, owner_department = EXCLUDED.owner_department,
                    status = EXCLUDED.status, effective_from = EXCLUDED.effective_from,
                    effective_to = EXCLUDED.effective_to
                """
            ),
            {"rows": json.dumps(rows)},
        )
        await self.session.execute(
            text("DELETE FROM ref_commitments WHERE id = ANY(:ids)"), {"ids": [r["id"] for r in rows]}
        )

    async def forget_commitments(self, ids: Sequence[str]) -> None:
        """Versions now copied as node commitments (a version id is of one kind at a time)."""
        await self.session.execute(text("DELETE FROM ref_kind_commitments WHERE id = ANY(:ids)"), {"ids": list(ids)})

    async def delete_commitments(self, ids: Sequence[str]) -> None:
        """Versions deleted upstream: only drafts and negotiating ones are (they never governed a period)."""
        await self.session.execute(
            text("DELETE FROM ref_kind_commitments WHERE id = ANY(:ids) AND status NOT IN ('active', 'retired')"),
            {"ids": list(ids)},
        )

    async def upsert_outages(self, rows: Sequence[Mapping[str, Any]]) -> None:
        await self.session.execute(
            text(
                """
                INSERT INTO service_outages (id, service_key, outage_ref, started_at, ended_at, planned, weight)
                SELECT x.id, x.service_key, x.outage_ref, x.started_at, x.ended_at, coalesce(x.planned, false),
                       least(greatest(coalesce(x.weight, 1), 1e-9), 1)
                FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(id text, service_key text, outage_ref text,
                    started_at timestamptz, ended_at timestamptz, planned boolean, weight double precision)
                ORDER BY x.id
                ON CONFLICT (id) DO UPDATE SET service_key = EXCLUDED.service_key,
                    outage_ref = EXCLUDED.outage_ref, started_at = EXCLUDED.started_at,
                    ended_at = EXCLUDED.ended_at, planned = EXCLUDED.planned, weight = EXCLUDED.weight
                """
            ),
            {"rows": json.dumps(list(rows))},
        )

    async def insert_samples(self, rows: Sequence[Mapping[str, Any]]) -> None:
        await self.session.execute(
            text(
                """
                INSERT INTO service_samples (id, service_key, obligation_key, at, value)
                SELECT x.id, x.service_key, x.obligation_key, x.at, x.value
                FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(id text, service_key text, obligation_key text,
                    at timestamptz, value double precision)
                ORDER BY x.id
                ON CONFLICT (id) DO UPDATE SET service_key = EXCLUDED.service_key,
                    obligation_key = EXCLUDED.obligation_key, at = EXCLUDED.at, value = EXCLUDED.value
                """
            ),
            {"rows": json.dumps(list(rows))},
        )

    async def insert_occurrences(self, rows: Sequence[Mapping[str, Any]]) -> None:
        await self.session.execute(
            text(
                """
                INSERT INTO service_occurrences (id, service_key, obligation_key, at)
                SELECT x.id, x.service_key, x.obligation_key, x.at
                FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(id text, service_key text, obligation_key text,
                    at timestamptz)
                ORDER BY x.id
                ON CONFLICT (id) DO UPDATE SET service_key = EXCLUDED.service_key,
                    obligation_key = EXCLUDED.obligation_key, at = EXCLUDED.at
                """
            ),
            {"rows": json.dumps(list(rows))},
        )

    async def upsert_deliverables(self, rows: Sequence[Mapping[str, Any]]) -> None:
        await self.session.execute(
            text(
                """
                INSERT INTO service_deliverables (id, service_key, obligation_key, delivered_at, signed_off_at,
                    signed_by, evidence)
                SELECT x.id, x.service_key, x.obligation_key, x.delivered_at, x.signed_off_at, x.signed_by,
                       x.evidence
                FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(id text, service_key text, obligation_key text,
                    delivered_at timestamptz, signed_off_at timestamptz, signed_by text, evidence text)
                ORDER BY x.id
                ON CONFLICT (id) DO UPDATE SET service_key = EXCLUDED.service_key,
                    obligation_key = EXCLUDED.obligation_key, delivered_at = EXCLUDED.delivered_at,
                    signed_off_at = EXCLUDED.signed_off_at, signed_by = EXCLUDED.signed_by,
                    evidence = EXCLUDED.evidence
                """
            ),
            {"rows": json.dumps(list(rows))},
        )

    # --- reads (reports) ----------------------------------------------------------------------------------

    async def commitments(self, kinds: Iterable[str], start: datetime, end: datetime) -> list[KindCommitment]:
        """The governing versions (active or retired) of the kinds in force at some instant of [start, end)."""
        rows = await self.session.execute(
            text(
                """
                SELECT * FROM ref_kind_commitments
                WHERE kind = ANY(:kinds) AND status IN ('active', 'retired')
                  AND (effective_from IS NULL OR effective_from < :end)
                  AND (effective_to IS NULL OR effective_to > :start)
                ORDER BY commitment_key, service_key, segment_key, version
                """
            ),
            {"kinds": sorted(set(kinds)), "start": start, "end": end},
        )
        return [_commitment(m) for m in rows.mappings()]

    async def kind_keys(self, commitment_keys: Iterable[str]) -> set[str]:
        """The keys among these that name commitments of another kind than duration."""
        rows = await self.session.execute(
            text("SELECT DISTINCT commitment_key FROM ref_kind_commitments WHERE commitment_key = ANY(:keys)"),
            {"keys": sorted(set(commitment_keys))},
        )
        return {r[0] for r in rows}

    async def targets(self, commitment_keys: Iterable[str]) -> dict[str, float]:
        """Per commitment key, the highest target_rate of the signed agreements covering it."""
        rows = await self.session.execute(
            text(
                """
                SELECT k.key, max((c.value->>'target_rate')::double precision) AS target
                FROM ref_agreements a CROSS JOIN LATERAL jsonb_array_elements(a.payload->'covers') AS c(value)
                JOIN unnest(CAST(:keys AS text[])) AS k(key) ON k.key = c.value->>'commitment_key'
                WHERE a.status = 'signed'
                GROUP BY 1
                """
            ),
            {"keys": sorted(set(commitment_keys))},
        )
        return {r.key: r.target for r in rows if r.target is not None}

    async def services(self, keys: Iterable[str]) -> dict[str, Service]:
        rows = await self.session.execute(
            text("SELECT * FROM ref_services WHERE key = ANY(:k)"), {"k": sorted(set(keys))}
        )
        return {m["key"]: Service(**dict(m)) for m in rows.mappings()}

    async def outages(self, service_keys: Iterable[str], start: datetime, end: datetime) -> list[StoredOutage]:
        """Outages of the services overlapping [start, end) (an unknown start: not yet part of any period)."""
        rows = await self.session.execute(
            text(
                """
                SELECT * FROM service_outages
                WHERE service_key = ANY(:keys) AND started_at IS NOT NULL AND started_at < :end
                  AND (ended_at IS NULL OR ended_at > :start)
                ORDER BY service_key, started_at, id
                """
            ),
            {"keys": sorted(set(service_keys)), "start": start, "end": end},
        )
        return [
            StoredOutage(
                m["id"],
                m["service_key"],
                Outage(m["outage_ref"], m["started_at"], m["ended_at"], m["planned"], m["weight"]),
            )
            for m in rows.mappings()
        ]

    async def samples(self, pairs: Iterable[tuple[str, str]], start: datetime, end: datetime) -> dict[Any, list[float]]:
        """Values per (service, obligation) sampled in [start, end)."""
        services, obligations = _unzip(pairs)
        rows = await self.session.execute(
            text(
                """
                SELECT s.service_key, s.obligation_key, array_agg(s.value ORDER BY s.at, s.id) AS values
                FROM service_samples s
                JOIN unnest(CAST(:services AS text[]), CAST(:obligations AS text[])) AS p(service_key, obligation_key)
                  USING (service_key, obligation_key)
                WHERE s.at >= :start AND s.at < :end
                GROUP BY s.service_key, s.obligation_key
                """
            ),
            {"services": services, "obligations": obligations, "start": start, "end": end},
        )
        return {(m["service_key"], m["obligation_key"]): list(m["values"]) for m in rows.mappings()}

    async def occurrences(
        self, pairs: Iterable[tuple[str, str]], start: datetime, end: datetime
    ) -> dict[Any, tuple[datetime | None, list[datetime]]]:
        """Per (service, obligation): the last occurrence before `start` and those in [start, end]."""
        services, obligations = _unzip(pairs)
        params = {"services": services, "obligations": obligations, "start": start, "end": end}
        rows = await self.session.execute(
            text(
                """
                SELECT p.service_key, p.obligation_key,
                       (SELECT max(o.at) FROM service_occurrences o
                         WHERE o.service_key = p.service_key AND o.obligation_key = p.obligation_key
                           AND o.at < :start) AS previous,
                       ARRAY(SELECT o.at FROM service_occurrences o
                              WHERE o.service_key = p.service_key AND o.obligation_key = p.obligation_key
                                AND o.at >= :start AND o.at <= :end ORDER BY o.at) AS inside
                FROM unnest(CAST(:services AS text[]), CAST(:obligations AS text[])) AS p(service_key, obligation_key)
                """
            ),
            params,
        )
        return {(m["service_key"], m["obligation_key"]): (m["previous"], list(m["inside"])) for m in rows.mappings()}

    async def deliverables(self, pairs: Iterable[tuple[str, str]]) -> dict[Any, Deliverable]:
        """Per (service, obligation): the earliest delivery and sign-off of its deliverables."""
        services, obligations = _unzip(pairs)
        rows = await self.session.execute(
            text(
                """
                SELECT d.service_key, d.obligation_key, min(d.delivered_at) AS delivered_at,
                       min(d.signed_off_at) AS signed_off_at,
                       (array_agg(d.signed_by ORDER BY d.signed_off_at) FILTER (WHERE d.signed_by IS NOT NULL))[1]
                           AS signed_by,
                       (array_agg(d.evidence ORDER BY d.delivered_at) FILTER (WHERE d.evidence IS NOT NULL))[1]
                           AS evidence
                FROM service_deliverables d
                JOIN unnest(CAST(:services AS text[]), CAST(:obligations AS text[])) AS p(service_key, obligation_key)
                  USING (service_key, obligation_key)
                GROUP BY d.service_key, d.obligation_key
                """
            ),
            {"services": services, "obligations": obligations},
        )
        return {(m["service_key"], m["obligation_key"]): Deliverable(**dict(m)) for m in rows.mappings()}


def _unzip(pairs: Iterable[tuple[str, str]]) -> tuple[list[str], list[str]]:
    ordered = sorted(set(pairs))
    return [p[0] for p in ordered], [p[1] for p in ordered]


def _commitment(m: Mapping[Any, Any]) -> KindCommitment:
    return KindCommitment(
        id=m["id"],
        commitment_key=m["commitment_key"],
        version=m["version"],
        kind=m["kind"],
        service_key=m["service_key"],
        obligation_key=m["obligation_key"],
        segment_key=m["segment_key"],
        limit_unit=m["limit_unit"],
        commitment_limit=m["commitment_limit"],
        tolerance_limit=m["tolerance_limit"],
        calendar_key=m["calendar_key"],
        owner_department=m["owner_department"],
        status=m["status"],
        effective_from=parse_instant(m["effective_from"]),
        effective_to=parse_instant(m["effective_to"]),
        objective=dict(m["objective"] or {}),
    )
