"""SQL of the built-in KPIs over the read model (one set-based query per family, every department and month
at once), of KPI targets and of frozen scorecards."""

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.kpis.custom import MAX_CUSTOM_KPIS, Definition, Filter
from evaluation_svc.kpis.rules import FAULT_REPAIR, NEW_CONNECTION

# the run's department, else its process owner's (ticket runs carry no department of their own)
_DEPARTMENT = "coalesce(r.department, p.owner_department)"
_MONTH = "to_char(r.ended_at AT TIME ZONE :tz, 'YYYY-MM')"
# completed in [start, end), judged, not exempted (docs/reports.md: cancelled, exempted, unjudged apart); of the
# segment `:segment` when one is asked (a segment's scorecard: that segment's runs only)
_COUNTED = """
    r.ended_at >= :start AND r.ended_at < :end AND r.final_state LIKE 'completed%'
    AND r.commitment_id IS NOT NULL AND NOT r.exempted
    AND (CAST(:segment AS text) IS NULL OR r.segment = :segment)
"""
MAX_CONNECTION_RUNS = 200_000

# the dimensions of custom KPIs (custom.DIMENSIONS) → a fixed column expression and the bound array's type
_COLUMNS: dict[str, tuple[str, str]] = {
    "process": ("r.process_key", "text[]"),
    "node": ("r.node_key", "text[]"),
    "department": (_DEPARTMENT, "text[]"),
    "segment": ("r.segment", "text[]"),
    "commitment": ("r.commitment_key", "text[]"),
    "source": ("r.source", "text[]"),
    "state": ("r.final_state", "text[]"),
    "ended_by_ticket": ("r.ended_by_ticket", "boolean[]"),
    "cycle": ("r.cycle", "integer[]"),
}
_RUN_KIND = {"node": "node", "end_to_end": "ticket"}


def where(filters: tuple[Filter, ...], prefix: str, params: dict[str, Any]) -> str:
    """The conjunction of filters: allow-listed column expressions compared with bound arrays (a NULL column is
    not in any list, hence in every `not_in`)."""
    parts = ["TRUE"]
    for i, f in enumerate(filters):
        column, array = _COLUMNS[f.dimension]
        name = f"{prefix}{i}"
        params[name] = list(f.values)
        found = f"coalesce({column} = ANY(CAST(:{name} AS {array})), false)"
        parts.append(f"NOT {found}" if f.op == "not_in" else found)
    return " AND ".join(parts)


class KpiRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def run_counts(
        self, start: datetime, end: datetime, tz: str, segment: str | None = None
    ) -> list[dict[str, Any]]:
        """Per (department, month): work orders completed and on time; node runs completed and within commitment
        (the two populations apart: no count sums node runs and end-to-end runs)."""
        rows = await self.session.execute(
            text(
                f"""
                SELECT {_DEPARTMENT} AS department, {_MONTH} AS period,
                       count(*) FILTER (WHERE r.kind = 'ticket') AS orders,
                       count(*) FILTER (WHERE r.kind = 'ticket' AND r.final_state = 'completed_normal') AS on_time,
                       count(*) FILTER (WHERE r.kind = 'node') AS runs,
                       count(*) FILTER (WHERE r.kind = 'node' AND r.final_state = 'completed_normal') AS fulfilled
                FROM node_runs r LEFT JOIN ref_processes p ON p.key = r.process_key
                WHERE {_COUNTED} AND {_DEPARTMENT} IS NOT NULL
                GROUP BY 1, 2
                """
            ),
            {"start": start, "end": end, "tz": tz, "segment": segment},
        )
        return [dict(r) for r in rows.mappings()]

    async def repairs(
        self, start: datetime, end: datetime, tz: str, window: timedelta, segment: str | None = None
    ) -> list[dict[str, Any]]:
        """Per (department, month): repairs (`fault-repair` tickets) completed, and those fixed the first time:
        no node run of a later cycle started within `window` after the end of the ticket's first cycle."""
        rows = await self.session.execute(
            text(
                f"""
                WITH t AS (
                    SELECT r.ticket_id, {_DEPARTMENT} AS department, {_MONTH} AS period,
                           (SELECT max(f.ended_at) FROM node_runs f
                            WHERE f.ticket_id = r.ticket_id AND f.kind = 'node' AND f.cycle = 1) AS first_end
                    FROM node_runs r LEFT JOIN ref_processes p ON p.key = r.process_key
                    WHERE {_COUNTED} AND r.kind = 'ticket' AND r.process_key = :process
                )
                SELECT department, period, count(*) AS repairs,
                       count(*) FILTER (WHERE NOT EXISTS (
                           SELECT 1 FROM node_runs c
                           WHERE c.ticket_id = t.ticket_id AND c.kind = 'node' AND c.cycle > 1
                             AND (t.first_end IS NULL OR c.started_at <= t.first_end + :window))) AS fixed
                FROM t WHERE department IS NOT NULL GROUP BY 1, 2
                """
            ),
            {"start": start, "end": end, "tz": tz, "process": FAULT_REPAIR, "window": window, "segment": segment},
        )
        return [dict(r) for r in rows.mappings()]

    async def connections(
        self, start: datetime, end: datetime, tz: str, segment: str | None = None
    ) -> list[dict[str, Any]]:
        """(department, month, start, counted seconds, calendar key) of the completed new connections."""
        rows = await self.session.execute(
            text(
                f"""
                SELECT {_DEPARTMENT} AS department, {_MONTH} AS period, r.started_at, r.counted_seconds,
                       v.calendar_key
                FROM node_runs r LEFT JOIN ref_processes p ON p.key = r.process_key
                     JOIN ref_commitments v ON v.id = r.commitment_id
                WHERE {_COUNTED} AND r.kind = 'ticket' AND r.process_key = :process
                  AND r.counted_seconds IS NOT NULL AND {_DEPARTMENT} IS NOT NULL
                LIMIT :limit
                """
            ),
            {"start": start, "end": end, "tz": tz, "process": NEW_CONNECTION, "limit": MAX_CONNECTION_RUNS}
            | {"segment": segment},
        )
        return [dict(r) for r in rows.mappings()]

    async def work_orders(
        self, start: datetime, end: datetime, tz: str, window: timedelta, segment: str | None = None
    ) -> list[dict[str, Any]]:
        """Per (department, month) of the work orders (end-to-end runs, every process) completed: how many, their
        mean counted seconds, how many past their tolerance, and how many resolved (no node run of a later
        cycle started within `window` after the end of the ticket's first cycle)."""
        rows = await self.session.execute(
            text(
                f"""
                WITH t AS (
                    SELECT r.ticket_id, r.counted_seconds, r.final_state,
                           {_DEPARTMENT} AS department, {_MONTH} AS period,
                           (SELECT max(f.ended_at) FROM node_runs f
                            WHERE f.ticket_id = r.ticket_id AND f.kind = 'node' AND f.cycle = 1) AS first_end
                    FROM node_runs r LEFT JOIN ref_processes p ON p.key = r.process_key
                    WHERE {_COUNTED} AND r.kind = 'ticket'
                )
                SELECT department, period, count(*) AS orders,
                       avg(counted_seconds) AS mean_seconds,
                       count(*) FILTER (WHERE final_state = 'completed_warning') AS problems,
                       count(*) FILTER (WHERE NOT EXISTS (
                           SELECT 1 FROM node_runs c
                           WHERE c.ticket_id = t.ticket_id AND c.kind = 'node' AND c.cycle > 1
                             AND (t.first_end IS NULL OR c.started_at <= t.first_end + :window))) AS resolved
                FROM t WHERE department IS NOT NULL GROUP BY 1, 2
                """
            ),
            {"start": start, "end": end, "tz": tz, "window": window, "segment": segment},
        )
        return [dict(r) for r in rows.mappings()]

    async def responses(
        self, start: datetime, end: datetime, tz: str, segment: str | None = None
    ) -> list[dict[str, Any]]:
        """(department, month, opened, first node's end, calendar key) of the work orders completed whose first
        node run (cycle 1, the earliest started) has ended."""
        rows = await self.session.execute(
            text(
                f"""
                SELECT {_DEPARTMENT} AS department, {_MONTH} AS period, r.started_at AS opened_at,
                       f.ended_at AS responded_at, v.calendar_key
                FROM node_runs r LEFT JOIN ref_processes p ON p.key = r.process_key
                     JOIN ref_commitments v ON v.id = r.commitment_id
                     JOIN LATERAL (
                         SELECT n.ended_at FROM node_runs n
                         WHERE n.ticket_id = r.ticket_id AND n.kind = 'node' AND n.cycle = 1
                           AND n.started_at IS NOT NULL
                         ORDER BY n.started_at, n.id LIMIT 1
                     ) f ON f.ended_at IS NOT NULL
                WHERE {_COUNTED} AND r.kind = 'ticket' AND {_DEPARTMENT} IS NOT NULL
                LIMIT :limit
                """
            ),
            {"start": start, "end": end, "tz": tz, "limit": MAX_CONNECTION_RUNS, "segment": segment},
        )
        return [dict(r) for r in rows.mappings()]

    async def closures(
        self, start: datetime, end: datetime, tz: str, segment: str | None = None
    ) -> list[dict[str, Any]]:
        """Per (department, month of opening): work orders opened in the month (judged, not exempted, not
        cancelled) and those of them completed before the month's end."""
        rows = await self.session.execute(
            text(
                f"""
                SELECT {_DEPARTMENT} AS department, to_char(r.started_at AT TIME ZONE :tz, 'YYYY-MM') AS period,
                       count(*) AS opened,
                       count(*) FILTER (
                           WHERE r.final_state LIKE 'completed%'
                             AND r.ended_at < ((date_trunc('month', r.started_at AT TIME ZONE :tz)
                                                + interval '1 month') AT TIME ZONE :tz)) AS closed
                FROM node_runs r LEFT JOIN ref_processes p ON p.key = r.process_key
                WHERE r.kind = 'ticket' AND r.started_at >= :start AND r.started_at < :end
                  AND r.commitment_id IS NOT NULL AND NOT r.exempted
                  AND r.final_state IS DISTINCT FROM 'cancelled' AND r.cancelled_at IS NULL
                  AND (CAST(:segment AS text) IS NULL OR r.segment = :segment)
                  AND {_DEPARTMENT} IS NOT NULL
                GROUP BY 1, 2
                """
            ),
            {"start": start, "end": end, "tz": tz, "segment": segment},
        )
        return [dict(r) for r in rows.mappings()]

    async def custom_counts(
        self, items: Sequence[tuple[Definition, datetime, datetime]], tz: str, segment: str | None = None
    ) -> list[dict[str, Any]]:
        """Per (department, month), for each (definition, start, end) `i` of custom ratios and averages in hours:
        the population (`whole_i`), its numerator (`part_i`) and its mean counted hours (`hours_i`), in one pass
        over the runs ended in the union of the windows."""
        if not items:
            return []
        params: dict[str, Any] = {
            "tz": tz, "segment": segment, "start": min(s for _, s, _ in items), "end": max(e for _, _, e in items),
        }  # fmt: skip
        columns, anyone = [], []
        for i, (d, start, end) in enumerate(items):
            params.update({f"k{i}": _RUN_KIND[d.population], f"s{i}": start, f"e{i}": end})
            filters = where(d.filters, f"f{i}_", params)
            population = f"(r.kind = :k{i} AND r.ended_at >= :s{i} AND r.ended_at < :e{i} AND {filters})"
            part = where(d.numerator, f"n{i}_", params)
            anyone.append(population)
            columns.append(
                f"count(*) FILTER (WHERE {population}) AS whole_{i}, "
                f"count(*) FILTER (WHERE {population} AND {part}) AS part_{i}, "
                f"avg(r.counted_seconds) FILTER (WHERE {population}) / 3600.0 AS hours_{i}"
            )
        rows = await self.session.execute(
            text(
                f"""
                SELECT {_DEPARTMENT} AS department, {_MONTH} AS period, {", ".join(columns)}
                FROM node_runs r LEFT JOIN ref_processes p ON p.key = r.process_key
                WHERE {_COUNTED} AND ({" OR ".join(anyone)}) AND {_DEPARTMENT} IS NOT NULL
                GROUP BY 1, 2
                """
            ),
            params,
        )
        return [dict(r) for r in rows.mappings()]

    async def custom_runs(
        self, d: Definition, start: datetime, end: datetime, tz: str, segment: str | None = None
    ) -> list[dict[str, Any]]:
        """(department, month, start, counted seconds, calendar key) of a custom average's population."""
        params: dict[str, Any] = {
            "start": start, "end": end, "tz": tz, "kind": _RUN_KIND[d.population], "limit": MAX_CONNECTION_RUNS,
            "segment": segment,
        }  # fmt: skip
        population = where(d.filters, "f", params)
        rows = await self.session.execute(
            text(
                f"""
                SELECT {_DEPARTMENT} AS department, {_MONTH} AS period, r.started_at, r.counted_seconds,
                       v.calendar_key
                FROM node_runs r LEFT JOIN ref_processes p ON p.key = r.process_key
                     JOIN ref_commitments v ON v.id = r.commitment_id
                WHERE {_COUNTED} AND r.kind = :kind AND {population}
                  AND r.counted_seconds IS NOT NULL AND {_DEPARTMENT} IS NOT NULL
                LIMIT :limit
                """
            ),
            params,
        )
        return [dict(r) for r in rows.mappings()]

    # custom KPI definitions

    async def custom_versions(self, keys: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Every version of the custom KPIs (of `keys`, when given), by key and version."""
        rows = await self.session.execute(
            text(
                """
                SELECT * FROM custom_kpis WHERE (CAST(:k AS text[]) IS NULL OR key = ANY(:k))
                ORDER BY key, version
                """
            ),
            {"k": None if keys is None else list(keys)},
        )
        return [dict(r) for r in rows.mappings()]

    async def custom_latest_page(self, after: str | None, limit: int) -> list[dict[str, Any]]:
        """The latest version of each custom KPI, by key after `after`."""
        rows = await self.session.execute(
            text(
                """
                SELECT DISTINCT ON (key) * FROM custom_kpis
                WHERE (CAST(:a AS text) IS NULL OR key > :a)
                ORDER BY key, version DESC LIMIT :limit
                """
            ),
            {"a": after, "limit": limit},
        )
        return [dict(r) for r in rows.mappings()]

    async def insert_custom(self, values: dict[str, Any], first: bool) -> dict[str, Any] | None:
        """Version 1 of a new key (`first`; None when the key exists or the ceiling of custom KPIs is reached),
        or the next version of an existing key (None when another version was inserted meanwhile)."""
        await self.session.execute(text("SELECT pg_advisory_xact_lock(hashtext('custom_kpis'))"))
        if first:
            count = await self.session.execute(text("SELECT count(DISTINCT key) FROM custom_kpis"))
            if count.scalar_one() >= MAX_CUSTOM_KPIS:
                return None
        row = await self.session.execute(
            text(
                """
                INSERT INTO custom_kpis (key, version, name, unit, direction, kind, definition, effective_from,
                                         created_by)
                SELECT :key, coalesce(max(version), 0) + 1, :name, :unit, :direction, :kind, CAST(:definition AS jsonb),
                       :effective_from, :created_by
                FROM custom_kpis WHERE key = :key
                HAVING (count(*) = 0) = :first
                ON CONFLICT DO NOTHING RETURNING *
                """
            ),
            {**values, "definition": json.dumps(values["definition"]), "first": first},
        )
        found = row.mappings().first()
        return None if found is None else dict(found)

    async def departments(self) -> list[str]:
        """Every department the read model knows: of runs and of process owners."""
        rows = await self.session.execute(
            text(
                """
                SELECT owner_department AS d FROM ref_processes WHERE owner_department IS NOT NULL
                UNION SELECT DISTINCT department FROM node_runs WHERE department IS NOT NULL
                ORDER BY 1
                """
            )
        )
        return [r.d for r in rows]

    async def segment_known(self, segment: str) -> bool:
        """Whether the read model knows the segment: a reference, a run of it, or a target set for it."""
        row = await self.session.execute(
            text(
                """
                SELECT EXISTS (SELECT 1 FROM ref_segments WHERE key = :s)
                    OR EXISTS (SELECT 1 FROM node_runs WHERE segment = :s)
                    OR EXISTS (SELECT 1 FROM kpi_targets WHERE segment = :s)
                """
            ),
            {"s": segment},
        )
        return bool(row.scalar_one())

    # targets

    async def insert_target(self, values: dict[str, Any]) -> dict[str, Any] | None:
        """A new target; None when one exists for the same KPI, department, segment and period."""
        row = await self.session.execute(
            text(
                """
                INSERT INTO kpi_targets (id, kpi, department, segment, period, target, created_by)
                VALUES (:id, :kpi, :department, :segment, :period, :target, :created_by)
                ON CONFLICT DO NOTHING RETURNING *
                """
            ),
            {"id": uuid.uuid4(), **values},
        )
        found = row.mappings().first()
        return None if found is None else dict(found)

    async def targets_page(
        self, filters: dict[str, str | None], after: tuple[str, str, str, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            text(
                """
                SELECT * FROM kpi_targets
                WHERE (CAST(:kpi AS text) IS NULL OR kpi = :kpi)
                  AND (CAST(:department AS text) IS NULL OR department = :department)
                  AND (CAST(:period AS text) IS NULL OR period = :period)
                  AND (CAST(:a_period AS text) IS NULL
                       OR (period, department, kpi, id::text) > (:a_period, :a_department, :a_kpi, :a_id))
                ORDER BY period, department, kpi, id::text LIMIT :limit
                """
            ),
            {
                **filters,
                "a_period": after[0] if after else None,
                "a_department": after[1] if after else None,
                "a_kpi": after[2] if after else None,
                "a_id": after[3] if after else None,
                "limit": limit,
            },
        )
        return [dict(r) for r in rows.mappings()]

    async def delete_target(self, id_: uuid.UUID) -> bool:
        row = await self.session.execute(text("DELETE FROM kpi_targets WHERE id = :i RETURNING id"), {"i": id_})
        return row.first() is not None

    async def targets_for(
        self, periods: Sequence[str], segment: str | None = None
    ) -> dict[tuple[str, str, str], float]:
        """The targets of these periods set for `segment` (None: the department-wide ones, set with no segment):
        (kpi, department, period) → target. A segment's scorecard never borrows a department-wide target."""
        rows = await self.session.execute(
            text(
                """
                SELECT kpi, department, period, target FROM kpi_targets
                WHERE period = ANY(:p) AND segment IS NOT DISTINCT FROM CAST(:s AS text)
                """
            ),
            {"p": list(periods), "s": segment},
        )
        return {(r.kpi, r.department, r.period): r.target for r in rows}

    # frozen scorecards

    async def frozen_many(self, periods: Sequence[str], segment: str | None = None) -> dict[str, dict[str, Any]]:
        """period → {values, frozen_at} of the frozen ones among `periods` (of `segment`; None: department-wide)."""
        rows = await self.session.execute(
            text("SELECT period, values, frozen_at FROM scorecard_snapshots WHERE period = ANY(:p) AND segment = :s"),
            {"p": list(periods), "s": segment or ""},
        )
        return {r.period: {"values": r.values, "frozen_at": r.frozen_at} for r in rows}

    async def frozen(self, period: str, segment: str | None = None) -> dict[str, Any] | None:
        row = await self.session.execute(
            text("SELECT values, frozen_at FROM scorecard_snapshots WHERE period = :p AND segment = :s"),
            {"p": period, "s": segment or ""},
        )
        found = row.mappings().first()
        return None if found is None else dict(found)

    async def freeze(
        self, period: str, values: dict[str, dict[str, float | None]], at: datetime, segment: str | None = None
    ) -> dict[str, Any]:
        """Store a closed period's values of these KPIs (of `segment`; None: department-wide); a KPI's first
        stored values win (a concurrent freeze reads them back)."""
        await self.session.execute(
            text(
                """
                INSERT INTO scorecard_snapshots (period, segment, values, frozen_at)
                VALUES (:p, :s, CAST(:v AS jsonb), :at)
                ON CONFLICT (period, segment) DO UPDATE SET values = EXCLUDED.values || scorecard_snapshots.values
                """
            ),
            {"p": period, "s": segment or "", "v": json.dumps(values), "at": at},
        )
        stored = await self.frozen(period, segment)
        assert stored is not None
        return stored
