"""SQL of alerts: claim due runs (row leases with SKIP LOCKED), record alerts once, list, acknowledge."""

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.readmodel.repository import NEXT_ALERT_SQL

ALERT_COLUMNS = (
    "id, node_run_id, cycle, level, ticket_id, kind, process_key, node_key, segment, department, position, source, "
    "commitment_id, commitment_key, due_at, raised_at, state, acknowledged_at, acknowledged_by, note"
)


class AlertRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim_due_runs(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Open runs whose next due instant has passed, locked; rows another replica holds are skipped."""
        rows = await self.session.execute(
            text(
                """
                SELECT id, cycle, ticket_id, kind, process_key, node_key, segment, department, position, source,
                       commitment_id, commitment_key, alert_level_done, prewarning_due_at, commitment_due_at,
                       tolerance_due_at
                FROM node_runs
                WHERE next_alert_at IS NOT NULL AND next_alert_at < :now
                ORDER BY next_alert_at
                LIMIT :limit
                FOR UPDATE SKIP LOCKED
                """
            ),
            {"now": now, "limit": limit},
        )
        return [dict(r) for r in rows.mappings()]

    async def insert_alerts(self, alerts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Record alerts; those already recorded (another replica, a replay) are left alone and not returned."""
        if not alerts:
            return []
        rows = await self.session.execute(
            text(
                f"""
                INSERT INTO alerts ({ALERT_COLUMNS})
                SELECT x.id, x.node_run_id, x.cycle, x.level, x.ticket_id, x.kind, x.process_key, x.node_key,
                       x.segment, x.department, x.position, x.source, x.commitment_id, x.commitment_key, x.due_at,
                       x.raised_at, 'open', NULL, NULL, NULL
                FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(id uuid, node_run_id text, cycle integer,
                     level text, ticket_id text, kind text, process_key text, node_key text, segment text,
                     department text, position text, source text, commitment_id text, commitment_key text,
                     due_at timestamptz, raised_at timestamptz)
                ON CONFLICT (node_run_id, cycle, level) DO NOTHING
                RETURNING {ALERT_COLUMNS}
                """
            ),
            {"rows": json.dumps(list(alerts), default=str)},
        )
        return [dict(r) for r in rows.mappings()]

    async def advance_runs(self, done: dict[str, int]) -> None:
        if not done:
            return
        await self.session.execute(
            text(
                f"""
                UPDATE node_runs r SET alert_level_done = x.done,
                       next_alert_at = {NEXT_ALERT_SQL.format(e="r", d="x.done")}
                FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(id text, done smallint)
                WHERE r.id = x.id
                """
            ),
            {"rows": json.dumps([{"id": k, "done": v} for k, v in done.items()])},
        )

    async def page(
        self,
        *,
        department: Sequence[str],
        level: Sequence[str],
        state: Sequence[str],
        process: Sequence[str],
        node_run_id: str | None,
        sources: frozenset[str] | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        clauses = ["TRUE"]
        params: dict[str, Any] = {"limit": limit}
        for name, values in (("department", department), ("level", level), ("state", state), ("process_key", process)):
            if values:
                params[name] = list(values)
                clauses.append(f"{name} = ANY(:{name})")
        if node_run_id is not None:
            params["node_run_id"] = node_run_id
            clauses.append("node_run_id = :node_run_id")
        if sources is not None:
            params["sources"] = sorted(sources)
            clauses.append("source = ANY(:sources)")
        if after is not None:
            params["after_at"], params["after_id"] = after
            clauses.append("(raised_at, id) < (:after_at, :after_id)")
        rows = await self.session.execute(
            text(
                f"SELECT {ALERT_COLUMNS} FROM alerts WHERE {' AND '.join(clauses)} "
                "ORDER BY raised_at DESC, id DESC LIMIT :limit"
            ),
            params,
        )
        return [dict(r) for r in rows.mappings()]

    async def get(self, alert_id: uuid.UUID, *, for_update: bool = False) -> dict[str, Any] | None:
        lock = " FOR UPDATE" if for_update else ""
        row = (
            (
                await self.session.execute(
                    text(f"SELECT {ALERT_COLUMNS} FROM alerts WHERE id = :i{lock}"), {"i": alert_id}
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else dict(row)

    async def acknowledge(self, alert_id: uuid.UUID, by: str, note: str | None, at: datetime) -> dict[str, Any]:
        row = (
            (
                await self.session.execute(
                    text(
                        f"""
                    UPDATE alerts SET state = 'acknowledged', acknowledged_at = :at, acknowledged_by = :by,
                           note = coalesce(:note, note)
                    WHERE id = :i RETURNING {ALERT_COLUMNS}
                    """
                    ),
                    {"i": alert_id, "by": by, "note": note, "at": at},
                )
            )
            .mappings()
            .one()
        )
        return dict(row)
