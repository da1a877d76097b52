"""SQL of alerts: raise the due ones (row leases with SKIP LOCKED, each alert recorded once), list, acknowledge."""

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pledge_common.domain_metrics import count_alerts, on_commit
from pledge_common.tracing import current_traceparent
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.readmodel.repository import NEXT_ALERT_SQL

ALERT_COLUMNS = (
    "id, node_run_id, cycle, level, ticket_id, kind, process_key, node_key, segment, department, position, source, "
    "commitment_id, commitment_key, due_at, raised_at, state, acknowledged_at, acknowledged_by, note, resolved_at, "
    "final_state, late"
)
_ALERT_NAMES = ALERT_COLUMNS.split(", ")
_INSTANTS = ("due_at", "raised_at", "acknowledged_at", "resolved_at")
_PUBLIC_NAMES = {"process_key": "process", "node_key": "node", "commitment_key": "commitment"}  # AlertPublic's aliases


def _api_instant(value: str) -> str:
    """SQL rendering the timestamptz `value` as the API renders an instant: `2026-03-03T17:00:00Z`, or
    `2026-03-03T17:00:00.120000Z` when it has a fraction of a second (null stays null)."""
    utc = f"({value} AT TIME ZONE 'UTC')"
    return (
        f"""to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS') || CASE WHEN CAST(date_part('microseconds', {utc}) AS bigint) """
        f"% 1000000 = 0 THEN '' ELSE to_char({utc}, '.US') END || 'Z'"
    )


def alert_payload_sql(alias: str) -> str:
    """SQL building an alert's event payload from the row `alias`, as AlertPublic.event_payload() renders it."""
    fields = [
        f"'{_PUBLIC_NAMES.get(c, c)}', " + (_api_instant(f"{alias}.{c}") if c in _INSTANTS else f"{alias}.{c}")
        for c in _ALERT_NAMES
    ]
    fields.append(f"'reached_at', {_api_instant(f'{alias}.due_at')}")
    return f"jsonb_build_object({', '.join(fields)})"


# The levels a claimed run has passed at :now: every level above `done` whose due instant has passed, climbing
# while each level below is passed too, except a missing pre-warning, which does not stop the climb (a missing
# commitment or tolerance instant does: the clock is stopped). The same rule is `levels_passed` in rules.py.
_PAST_1 = "(d.done >= 1 OR d.p IS NULL OR d.p < :now)"
_PAST_2 = f"(d.done >= 2 OR ({_PAST_1} AND d.c IS NOT NULL AND d.c < :now))"
NEW_DONE_SQL = f"""greatest(d.done, CASE WHEN {_PAST_2} AND d.t IS NOT NULL AND d.t < :now THEN 3
                                        WHEN {_PAST_1} AND d.c IS NOT NULL AND d.c < :now THEN 2
                                        WHEN d.p IS NOT NULL AND d.p < :now THEN 1 ELSE 0 END)"""
# A level reached more than :late_after seconds before :now (the scan that detects it) is late: a backfill of old
# work orders. The same rule is `is_late` in rules.py.
LATE_SQL = "({due} < CAST(:now AS timestamptz) - make_interval(secs => CAST(:late_after AS double precision)))"
# A random (version 4) id per alert: one strong random value per statement, hashed with what is unique to each
# alert (gen_random_uuid() per row reads the kernel's random source for every alert).
_ALERT_ID = (
    "(substr(h.h, 1, 12) || '4' || substr(h.h, 14, 3) || substr('89ab', strpos('0123456789abcdef', "
    "substr(h.h, 17, 1)) % 4 + 1, 1) || substr(h.h, 18))::uuid"
)
_RAISE_DUE = text(
    f"""
    WITH due AS MATERIALIZED (
        SELECT id, cycle, ticket_id, kind, process_key, node_key, segment, department, position, source,
               commitment_id, commitment_key, alert_level_done AS done, prewarning_due_at AS p,
               commitment_due_at AS c, tolerance_due_at AS t,
               row_number() OVER (ORDER BY next_alert_at, id) AS ord
        FROM (SELECT id, cycle, ticket_id, kind, process_key, node_key, segment, department, position, source,
                     commitment_id, commitment_key, alert_level_done, prewarning_due_at, commitment_due_at,
                     tolerance_due_at, next_alert_at
              FROM node_runs
              WHERE next_alert_at IS NOT NULL AND next_alert_at < :now
                AND (CAST(:settle AS double precision) = 0
                     OR updated_at <= statement_timestamp() - make_interval(secs => CAST(:settle AS double precision)))
              ORDER BY next_alert_at
              LIMIT :limit
              FOR UPDATE SKIP LOCKED) AS claimed
    ),
    judged AS MATERIALIZED (SELECT d.*, {NEW_DONE_SQL} AS new_done FROM due d),
    advanced AS (
        UPDATE node_runs r SET alert_level_done = d.new_done,
               next_alert_at = {NEXT_ALERT_SQL.format(e="r", d="d.new_done")}
        FROM judged d  -- by primary key whatever the planner thinks of the claimed rows' number
        WHERE r.id = ANY(ARRAY(SELECT id FROM judged WHERE new_done <> done)) AND r.id = d.id
    ),
    seed AS (SELECT gen_random_uuid()::text AS s),
    raised AS (
        INSERT INTO alerts ({ALERT_COLUMNS})
        SELECT {_ALERT_ID}, d.id, d.cycle, l.name, d.ticket_id, d.kind, d.process_key, d.node_key, d.segment,
               d.department, d.position, d.source, d.commitment_id, d.commitment_key, l.due, clock_timestamp(),
               'open', NULL, NULL, NULL, NULL, NULL, {LATE_SQL.format(due="l.due")}
        FROM judged d
        CROSS JOIN LATERAL (VALUES (1, 'prewarning', d.p), (2, 'acceptable', d.c), (3, 'warning', d.t))
            AS l(level, name, due)
        CROSS JOIN seed
        CROSS JOIN LATERAL (SELECT md5(seed.s || d.id || '/' || d.cycle || '/' || l.level) AS h) h
        WHERE l.level > d.done AND l.level <= d.new_done AND l.due IS NOT NULL
        ORDER BY d.ord, l.level
        ON CONFLICT (node_run_id, cycle, level) DO NOTHING
        RETURNING {ALERT_COLUMNS}
    ),
    ordered AS MATERIALIZED (
        SELECT a.*, d.ord, array_position(ARRAY['prewarning', 'acceptable', 'warning'], a.level) AS lvl
        FROM raised a JOIN judged d ON d.id = a.node_run_id
    ),
    emitted AS (
        INSERT INTO outbox (type, key, payload, traceparent)
        SELECT 'alert.raised', a.id::text, {alert_payload_sql("a")}, CAST(:traceparent AS text)
        FROM ordered a
        ORDER BY a.ord, a.lvl
    ),
    wanted AS (
        SELECT {", ".join("a." + c for c in _ALERT_NAMES)}, a.ord, a.lvl
        FROM ordered a
        WHERE NOT a.late AND EXISTS (SELECT 1 FROM webhook_subscriptions WHERE enabled)
    )
    SELECT n.claimed, n.raised_levels, w.*
    FROM (SELECT (SELECT count(*) FROM judged) AS claimed,
                 (SELECT coalesce(json_agg(json_build_object('level', level, 'late', late)), '[]')::text
                  FROM ordered) AS raised_levels) n
    LEFT JOIN wanted w ON true
    ORDER BY w.ord, w.lvl
    """
)


class AlertRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def raise_due(
        self, now: datetime, limit: int, settle: float, late_after: float
    ) -> tuple[int, list[dict[str, Any]]]:
        """Claim open runs whose next due instant has passed (rows another replica holds are skipped), record
        every level each has passed, advance the runs and emit `alert.raised`: one statement for all of them.
        A level reached more than `late_after` seconds before `now` is recorded as late.

        Returns how many runs were claimed and, only while a webhook subscription is enabled, the alerts
        recorded that are not late (for their deliveries). Alerts recorded before (another replica, a replay)
        are left alone.
        """
        params = {
            "now": now,
            "limit": limit,
            "settle": settle,
            "late_after": late_after,
            "traceparent": current_traceparent(),
        }
        rows = (await self.session.execute(_RAISE_DUE, params)).mappings().all()
        claimed = int(rows[0]["claimed"]) if rows else 0
        if rows:
            on_commit(self.session, count_alerts(json.loads(rows[0]["raised_levels"])))
        return claimed, [{c: r[c] for c in _ALERT_NAMES} for r in rows if r["id"] is not None]

    async def page(
        self,
        *,
        department: Sequence[str],
        level: Sequence[str],
        state: Sequence[str],
        process: Sequence[str],
        position: Sequence[str],
        late: bool | None,
        node_run_id: str | None,
        sources: frozenset[str] | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        clauses = ["TRUE"]
        params: dict[str, Any] = {"limit": limit}
        for name, values in (("department", department), ("level", level), ("state", state), ("process_key", process),
                             ("position", position)):  # fmt: skip
            if values:
                params[name] = list(values)
                clauses.append(f"{name} = ANY(:{name})")
        if late is not None:
            params["late"] = late
            clauses.append("late = :late")
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

    async def resolve_ended(self, run_ids: Sequence[str]) -> int:
        """Resolve the unresolved alerts of those of `run_ids` that have ended, with the run's end and final
        state; their pending webhook deliveries are skipped and `alert.resolved` is emitted, all in one statement.
        Returns how many alerts were resolved."""
        if not run_ids:
            return 0
        return int(await self.session.scalar(_RESOLVE_ENDED, {"ids": list(run_ids)}) or 0)


# Runs are locked by their writer (the projection) before this runs; the deliveries are locked in id order, as
# the sender's outcomes are written, so that the two never wait on each other crosswise.
def _resolving(update: str) -> TextClause:
    """`update` (alerts to resolve, `RETURNING a.*`), their pending deliveries skipped, `alert.resolved` on the
    feed for each; answers how many."""
    return text(
        f"""
        WITH resolved AS ({update}),
        skipped AS (
            UPDATE webhook_deliveries d SET status = 'skipped', lease_until = NULL
            WHERE d.id IN (SELECT q.id FROM webhook_deliveries q
                           WHERE q.alert_id IN (SELECT id FROM resolved) AND q.status = 'pending'
                           ORDER BY q.id FOR UPDATE)
        ),
        emitted AS (
            INSERT INTO outbox (type, key, payload)
            SELECT 'alert.resolved', r.id::text, {alert_payload_sql("r")}
            FROM resolved r ORDER BY r.raised_at, r.id
        )
        SELECT count(*) FROM resolved
        """
    )


_RESOLVE_ENDED = _resolving(
    """
    UPDATE alerts a SET state = 'resolved', resolved_at = r.ended_at, final_state = r.final_state
    FROM node_runs r
    WHERE a.node_run_id = ANY(CAST(:ids AS text[])) AND a.state <> 'resolved'
      AND r.id = a.node_run_id AND r.ended_at IS NOT NULL
    RETURNING a.*
    """
)


# Service alerts (docs/kinds.md): one unresolved alert per (unit, level); a level raised again after its alert was
# resolved is a new cycle. The unit is the alert's `node_run_id`; ticket, process and source are empty.
_RAISE_SERVICE = text(
    f"""
    WITH x AS (
        SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(unit text, level text, kind text, segment text,
            department text, commitment_id text, commitment_key text, due_at timestamptz)
    ),
    raised AS (
        INSERT INTO alerts ({ALERT_COLUMNS})
        SELECT gen_random_uuid(), x.unit,
               coalesce((SELECT max(a.cycle) FROM alerts a WHERE a.node_run_id = x.unit AND a.level = x.level), 0) + 1,
               x.level, '', x.kind, '', NULL, x.segment, x.department, NULL, '', x.commitment_id, x.commitment_key,
               x.due_at, clock_timestamp(), 'open', NULL, NULL, NULL, NULL, NULL, {LATE_SQL.format(due="x.due_at")}
        FROM x
        WHERE NOT EXISTS (SELECT 1 FROM alerts a WHERE a.node_run_id = x.unit AND a.level = x.level
                                                   AND a.state <> 'resolved')
        ORDER BY x.unit, x.level
        ON CONFLICT (node_run_id, cycle, level) DO NOTHING
        RETURNING {ALERT_COLUMNS}
    ),
    emitted AS (
        INSERT INTO outbox (type, key, payload, traceparent)
        SELECT 'alert.raised', r.id::text, {alert_payload_sql("r")}, CAST(:traceparent AS text)
        FROM raised r ORDER BY r.node_run_id, r.level
    )
    SELECT * FROM raised ORDER BY node_run_id, level
    """
)
# Service alerts no longer firing (the occurrence arrived, the burn slowed) resolve at :now.
_RESOLVE_SERVICE = _resolving(
    """
    UPDATE alerts a SET state = 'resolved', resolved_at = :now
    WHERE a.kind IN ('availability', 'frequency') AND a.state <> 'resolved'
      AND NOT (a.node_run_id || '/' || a.level = ANY(CAST(:active AS text[])))
    RETURNING a.*
    """
)


async def raise_service_alerts(
    session: AsyncSession, rows: Sequence[dict[str, Any]], now: datetime, late_after: float
) -> list[dict[str, Any]]:
    """Record the service alerts not already open (emitting `alert.raised`); returns those recorded."""
    if not rows:
        return []
    params = {
        "rows": json.dumps(list(rows)),
        "now": now,
        "late_after": late_after,
        "traceparent": current_traceparent(),
    }
    raised = [dict(r) for r in (await session.execute(_RAISE_SERVICE, params)).mappings()]
    on_commit(session, count_alerts(raised))
    return raised


async def resolve_service_alerts(session: AsyncSession, active: Sequence[str], now: datetime) -> int:
    """Resolve the open service alerts whose `unit/level` is not in `active` (emitting `alert.resolved`)."""
    return int(await session.scalar(_RESOLVE_SERVICE, {"active": list(active), "now": now}) or 0)
