"""SQL of notifications: contacts, channels and rules (small tables), planning alerts into messages (each alert
once), the message queue (leases with SKIP LOCKED) and escalations."""

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.alerts.repository import ALERT_COLUMNS

TABLES = {
    "contacts": (
        "notify_contacts",
        "id, department, position, name, email, chat_handle, language, created_at, updated_at",
    ),
    "channels": ("notify_channels", "id, kind, name, url, secret, language, enabled, created_at, updated_at"),
    "rules": (
        "notify_rules",
        "id, name, departments, positions, processes, nodes, segments, levels, channel_ids, contact_ids, responsible, "
        "quiet_calendar, escalate_after, escalate_to_department, escalate_to_position, escalate_levels, digest_every, "
        "enabled, created_at, updated_at",
    ),
    "schedules": (
        "notify_schedules",
        "id, name, department, report, agreement, format, day_of_month, at_time, timezone, channel_ids, enabled, "
        "next_run_at, last_run_at, created_at, updated_at",
    ),
}
MESSAGE_COLUMNS = (
    "id, alert_id, rule_id, channel_id, channel_kind, recipient, language, reason, escalation_step, "
    "content->>'subject' AS subject, status, attempts, not_before, "
    "CASE WHEN status IN ('queued', 'retrying') THEN next_attempt_at END AS next_attempt_at, sent_at, "
    "response_status, response_excerpt, error, created_at"
)


class NotifyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # contacts, channels, rules ------------------------------------------------------------------

    async def insert(self, kind: str, values: dict[str, Any]) -> dict[str, Any]:
        table, columns = TABLES[kind]
        names = ", ".join(values)
        row = await self.session.execute(
            text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + k for k in values)}) RETURNING {columns}"),
            values,
        )
        return dict(row.mappings().one())

    async def get(self, kind: str, item_id: uuid.UUID, *, for_update: bool = False) -> dict[str, Any] | None:
        table, columns = TABLES[kind]
        lock = " FOR UPDATE" if for_update else ""
        row = await self.session.execute(text(f"SELECT {columns} FROM {table} WHERE id = :i{lock}"), {"i": item_id})
        found = row.mappings().first()
        return None if found is None else dict(found)

    async def page(
        self, kind: str, filters: dict[str, Any], after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[dict[str, Any]]:
        table, columns = TABLES[kind]
        clauses = ["TRUE"]
        params: dict[str, Any] = {"limit": limit}
        for name, value in filters.items():
            if value is not None:
                params[name] = value
                clauses.append(f"{name} = :{name}")
        if after is not None:
            params["after_at"], params["after_id"] = after
            clauses.append("(created_at, id) > (:after_at, :after_id)")
        rows = await self.session.execute(
            text(f"SELECT {columns} FROM {table} WHERE {' AND '.join(clauses)} ORDER BY created_at, id LIMIT :limit"),
            params,
        )
        return [dict(r) for r in rows.mappings()]

    async def update(self, kind: str, item_id: uuid.UUID, changes: dict[str, Any]) -> dict[str, Any]:
        table, columns = TABLES[kind]
        assignments = ", ".join(f"{k} = :{k}" for k in changes)
        row = await self.session.execute(
            text(f"UPDATE {table} SET {assignments}, updated_at = now() WHERE id = :id RETURNING {columns}"),
            {**changes, "id": item_id},
        )
        return dict(row.mappings().one())

    async def delete(self, kind: str, item_id: uuid.UUID) -> None:
        table, _ = TABLES[kind]
        await self.session.execute(text(f"DELETE FROM {table} WHERE id = :i"), {"i": item_id})

    async def existing_ids(self, kind: str, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        table, _ = TABLES[kind]
        rows = await self.session.execute(text(f"SELECT id FROM {table} WHERE id = ANY(:ids)"), {"ids": list(ids)})
        return {r[0] for r in rows}

    async def rules_using(self, column: str, item_id: uuid.UUID) -> int:
        assert column in ("channel_ids", "contact_ids")
        return int(
            await self.session.scalar(
                text(f"SELECT count(*) FROM notify_rules WHERE :i = ANY({column})"), {"i": item_id}
            )
            or 0
        )

    async def all_enabled(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """Enabled rules, enabled channels and every contact (small tables, read once per planning round)."""
        out = []
        for kind, where in (("rules", "enabled"), ("channels", "enabled"), ("contacts", "TRUE")):
            table, columns = TABLES[kind]
            rows = await self.session.execute(text(f"SELECT {columns} FROM {table} WHERE {where}"))
            out.append([dict(r) for r in rows.mappings()])
        return out[0], out[1], out[2]

    async def department_parents(self) -> dict[str, str | None]:
        rows = await self.session.execute(text("SELECT key, parent_key FROM ref_departments"))
        return {r[0]: r[1] for r in rows}

    async def calendars(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        rows = await self.session.execute(text("SELECT * FROM ref_calendars WHERE key = ANY(:k)"), {"k": list(keys)})
        return {r["key"]: dict(r) for r in rows.mappings()}

    # planning -----------------------------------------------------------------------------------

    async def take_new_alerts(self, window_seconds: float, limit: int) -> list[dict[str, Any]]:
        """Mark open, not-late alerts raised in the last `window_seconds` that no planner took yet, and return them.
        A replica that races for the same alert waits on its mark and then skips it: each alert is planned once."""
        cols = ", ".join("a." + c for c in ALERT_COLUMNS.split(", "))
        rows = await self.session.execute(
            text(
                f"""
                WITH candidates AS (
                    SELECT a.id FROM alerts a
                    WHERE a.raised_at > now() - make_interval(secs => :window) AND NOT a.late
                      AND a.state = 'open'
                      AND NOT EXISTS (SELECT 1 FROM notify_planned p WHERE p.alert_id = a.id)
                    ORDER BY a.raised_at, a.id LIMIT :limit
                ),
                taken AS (
                    INSERT INTO notify_planned (alert_id) SELECT id FROM candidates
                    ON CONFLICT DO NOTHING RETURNING alert_id
                )
                SELECT {cols}, (SELECT r.external_id FROM node_runs r WHERE r.id = a.node_run_id) AS external_id
                FROM alerts a JOIN taken t ON t.alert_id = a.id ORDER BY a.raised_at, a.id
                """
            ),
            {"window": window_seconds, "limit": limit},
        )
        return [dict(r) for r in rows.mappings()]

    async def forget_marks(self, window_seconds: float) -> None:
        """Drop the marks of alerts too old to be planned again anyway (raised before the window): kept twice as
        long as the window, since an alert is marked after it was raised."""
        await self.session.execute(
            text("DELETE FROM notify_planned WHERE planned_at < now() - make_interval(secs => :w)"),
            {"w": 2 * window_seconds},
        )

    async def queue(self, messages: Sequence[dict[str, Any]]) -> int:
        if not messages:
            return 0
        await self.session.execute(
            text(
                """
                INSERT INTO notify_messages (id, alert_id, rule_id, channel_id, channel_kind, contact_id, recipient,
                                             language, reason, escalation_step, content, not_before, next_attempt_at)
                SELECT x.id, x.alert_id, x.rule_id, x.channel_id, x.channel_kind, x.contact_id, x.recipient,
                       x.language, x.reason, x.escalation_step, x.content, x.not_before, x.not_before
                FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(id uuid, alert_id uuid, rule_id uuid,
                     channel_id uuid, channel_kind text, contact_id uuid, recipient text, language text, reason text,
                     escalation_step integer, content jsonb, not_before timestamptz)
                """
            ),
            {"rows": json.dumps(list(messages), default=str)},
        )
        return len(messages)

    async def hold_for_digest(self, items: Sequence[dict[str, Any]]) -> None:
        if not items:
            return
        await self.session.execute(
            text(
                """
                INSERT INTO notify_digest_items (rule_id, department, window_end, alert)
                SELECT x.rule_id, x.department, x.window_end, x.alert
                FROM jsonb_to_recordset(CAST(:rows AS jsonb))
                     AS x(rule_id uuid, department text, window_end timestamptz, alert jsonb)
                """
            ),
            {"rows": json.dumps(list(items), default=str)},
        )

    async def take_closed_digests(self, now: datetime) -> list[dict[str, Any]]:
        """Remove and return the items of every window closed at `now` (rows another replica holds are skipped)."""
        rows = await self.session.execute(
            text(
                """
                DELETE FROM notify_digest_items d
                WHERE d.id IN (SELECT q.id FROM notify_digest_items q WHERE q.window_end <= :now
                               FOR UPDATE SKIP LOCKED)
                RETURNING d.rule_id, d.department, d.window_end, d.alert, d.id
                """
            ),
            {"now": now},
        )
        return sorted((dict(r) for r in rows.mappings()), key=lambda r: r["id"])

    async def alert_states(self, ids: Sequence[str]) -> dict[str, str]:
        rows = await self.session.execute(
            text("SELECT id::text, state FROM alerts WHERE id = ANY(CAST(:ids AS uuid[]))"), {"ids": list(ids)}
        )
        return {r[0]: r[1] for r in rows}

    async def start_escalations(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        await self.session.execute(
            text(
                """
                INSERT INTO notify_escalations (alert_id, rule_id, department, position, due_at)
                SELECT x.alert_id, x.rule_id, x.department, x.position, x.due_at
                FROM jsonb_to_recordset(CAST(:rows AS jsonb))
                     AS x(alert_id uuid, rule_id uuid, department text, position text, due_at timestamptz)
                ON CONFLICT DO NOTHING
                """
            ),
            {"rows": json.dumps(list(rows), default=str)},
        )

    async def claim_escalations(self, limit: int) -> list[dict[str, Any]]:
        """Lock due, open escalations (others' are skipped), with their alert's state and public fields."""
        cols = ", ".join(f"a.{c} AS alert_{c}" for c in ALERT_COLUMNS.split(", "))
        rows = await self.session.execute(
            text(
                f"""
                SELECT e.alert_id, e.rule_id, e.step, e.department, e.position, e.due_at, {cols},
                       (SELECT r.external_id FROM node_runs r WHERE r.id = a.node_run_id) AS alert_external_id
                FROM notify_escalations e JOIN alerts a ON a.id = e.alert_id
                WHERE e.closed_at IS NULL AND e.due_at <= now()
                ORDER BY e.due_at LIMIT :limit
                FOR UPDATE OF e SKIP LOCKED
                """
            ),
            {"limit": limit},
        )
        return [dict(r) for r in rows.mappings()]

    async def advance_escalations(self, rows: Sequence[dict[str, Any]]) -> None:
        """Store each escalation's new step, level reached, next due instant, or its closing (and why)."""
        if not rows:
            return
        await self.session.execute(
            text(
                """
                UPDATE notify_escalations e SET step = x.step, department = x.department, position = x.position,
                       due_at = x.due_at, closed_at = x.closed_at, closed_reason = x.closed_reason,
                       history = e.history || coalesce(x.entry, '[]'::jsonb)
                FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(alert_id uuid, rule_id uuid, step integer,
                     department text, position text, due_at timestamptz, closed_at timestamptz, closed_reason text,
                     entry jsonb)
                WHERE e.alert_id = x.alert_id AND e.rule_id = x.rule_id
                """
            ),
            {"rows": json.dumps(list(rows), default=str)},
        )

    async def escalations_of(self, alert_id: uuid.UUID) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            text(
                "SELECT rule_id, step, department, position, due_at, closed_at, closed_reason, history "
                "FROM notify_escalations WHERE alert_id = :a ORDER BY rule_id"
            ),
            {"a": alert_id},
        )
        return [dict(r) for r in rows.mappings()]

    async def claim_schedules(self, limit: int) -> list[dict[str, Any]]:
        """Lock due, enabled report schedules (others' are skipped)."""
        _, columns = TABLES["schedules"]
        rows = await self.session.execute(
            text(
                f"SELECT {columns} FROM notify_schedules WHERE enabled AND next_run_at <= now() "
                "ORDER BY next_run_at LIMIT :limit FOR UPDATE SKIP LOCKED"
            ),
            {"limit": limit},
        )
        return [dict(r) for r in rows.mappings()]

    # the sender ---------------------------------------------------------------------------------

    async def claim_messages(self, limit: int, lease_seconds: float) -> list[dict[str, Any]]:
        """Lease due messages (quiet hours passed, retry due); a lease that expires (crashed sender) is retaken."""
        rows = await self.session.execute(
            text(
                """
                UPDATE notify_messages m
                   SET lease_until = now() + make_interval(secs => :lease), attempts = m.attempts + 1
                 WHERE m.id IN (
                        SELECT q.id FROM notify_messages q
                        WHERE q.status IN ('queued', 'retrying') AND q.next_attempt_at <= now()
                          AND (q.lease_until IS NULL OR q.lease_until < now())
                        ORDER BY q.next_attempt_at
                        LIMIT :limit
                        FOR UPDATE SKIP LOCKED)
                RETURNING m.id, m.alert_id, m.channel_id, m.channel_kind, m.recipient, m.reason, m.content,
                          m.attempts,
                          (SELECT a.state FROM alerts a WHERE a.id = m.alert_id) AS alert_state,
                          (SELECT c.url FROM notify_channels c WHERE c.id = m.channel_id) AS url,
                          (SELECT c.secret FROM notify_channels c WHERE c.id = m.channel_id) AS secret,
                          (SELECT c.enabled FROM notify_channels c WHERE c.id = m.channel_id) AS channel_enabled
                """
            ),
            {"limit": limit, "lease": lease_seconds},
        )
        return [dict(r) for r in rows.mappings()]

    async def record(self, outcomes: Sequence[dict[str, Any]], max_attempts: int) -> list[dict[str, Any]]:
        """Store the outcome of attempts; returns the messages that failed for good with this attempt."""
        if not outcomes:
            return []
        result = await self.session.execute(
            text(
                """
                UPDATE notify_messages m SET
                    status = CASE WHEN x.skipped THEN 'skipped' WHEN x.ok THEN 'sent'
                                  WHEN m.attempts >= :max_attempts THEN 'failed' ELSE 'retrying' END,
                    sent_at = CASE WHEN x.ok THEN x.at END,
                    next_attempt_at = CASE WHEN x.ok OR x.skipped THEN m.next_attempt_at ELSE x.retry_at END,
                    lease_until = NULL,
                    response_status = x.status_code,
                    response_excerpt = x.excerpt,
                    error = x.error
                FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(id uuid, ok boolean, skipped boolean,
                     at timestamptz, retry_at timestamptz, status_code integer, excerpt text, error text)
                WHERE m.id = x.id
                RETURNING m.id, m.status, m.channel_kind, m.recipient, m.reason, m.alert_id, m.attempts, m.error,
                          m.content->>'subject' AS subject
                """
            ),
            {
                "rows": json.dumps(sorted(outcomes, key=lambda o: str(o["id"])), default=str),
                "max_attempts": max_attempts,
            },
        )
        return [dict(r) for r in result.mappings() if r["status"] == "failed"]

    async def messages(
        self, filters: dict[str, Any], after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[dict[str, Any]]:
        clauses = ["TRUE"]
        params: dict[str, Any] = {"limit": limit}
        for name, value in filters.items():
            if value:
                params[name] = list(value) if isinstance(value, list | tuple) else value
                clauses.append(f"{name} = ANY(:{name})" if isinstance(value, list | tuple) else f"{name} = :{name}")
        if after is not None:
            params["after_at"], params["after_id"] = after
            clauses.append("(created_at, id) < (:after_at, :after_id)")
        rows = await self.session.execute(
            text(
                f"SELECT {MESSAGE_COLUMNS} FROM notify_messages WHERE {' AND '.join(clauses)} "
                "ORDER BY created_at DESC, id DESC LIMIT :limit"
            ),
            params,
        )
        return [dict(r) for r in rows.mappings()]
