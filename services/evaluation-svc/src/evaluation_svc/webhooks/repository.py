"""SQL of webhooks: subscriptions, the delivery queue (leases with SKIP LOCKED), the attempt log."""

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

if TYPE_CHECKING:
    from evaluation_svc.alerts.schemas import AlertPublic

SUBSCRIPTION_COLUMNS = (
    "id, url, description, department, events, levels, sources, created_by, owner, secret, enabled, "
    "disabled_reason, consecutive_failures, created_at, updated_at"
)


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def enqueue(self, event_type: str, alerts: Sequence["AlertPublic"]) -> int:
        """One pending delivery per (alert, matching enabled subscription); set-based. Late and resolved
        alerts are delivered to nobody."""
        alerts = [a for a in alerts if not a.late and a.state != "resolved"]
        if not alerts:
            return 0
        # no body to build when nobody subscribes (alerts raised by the thousand while a backlog is projected)
        if not await self.session.scalar(text("SELECT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE enabled)")):
            return 0
        rows = [
            {
                "alert_id": str(a.id),
                "level": a.level,
                "department": a.department,
                "source": a.source,
                "body": json.dumps({"type": event_type, "alert": a.event_payload()}, separators=(",", ":")),
            }
            for a in alerts
        ]
        result = await self.session.execute(
            text(
                """
                INSERT INTO webhook_deliveries (id, subscription_id, event_type, body, alert_id)
                SELECT gen_random_uuid(), s.id, :type, x.body, x.alert_id
                FROM jsonb_to_recordset(CAST(:rows AS jsonb))
                     AS x(alert_id uuid, level text, department text, source text, body text)
                JOIN webhook_subscriptions s
                  ON s.enabled
                 AND (s.department IS NULL OR s.department = x.department)
                 AND (cardinality(s.events) = 0 OR :type = ANY(s.events))
                 AND (cardinality(s.levels) = 0 OR x.level = ANY(s.levels))
                 AND (s.sources IS NULL OR x.source = ANY(s.sources))
                """
            ),
            {"type": event_type, "rows": json.dumps(rows)},
        )
        return int(getattr(result, "rowcount", 0) or 0)

    # subscriptions -----------------------------------------------------------------------------

    async def create(self, values: dict[str, Any]) -> dict[str, Any]:
        row = (
            (
                await self.session.execute(
                    text(
                        f"""
                    INSERT INTO webhook_subscriptions (id, url, description, department, events, levels, sources,
                                                       created_by, owner, secret)
                    VALUES (:id, :url, :description, :department, :events, :levels, :sources, :created_by, :owner,
                            :secret)
                    RETURNING {SUBSCRIPTION_COLUMNS}
                    """
                    ),
                    values,
                )
            )
            .mappings()
            .one()
        )
        return dict(row)

    async def get(self, subscription_id: uuid.UUID, *, for_update: bool = False) -> dict[str, Any] | None:
        lock = " FOR UPDATE" if for_update else ""
        row = (
            (
                await self.session.execute(
                    text(f"SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE id = :i{lock}"),
                    {"i": subscription_id},
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else dict(row)

    async def page(
        self, owner: str | None, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[dict[str, Any]]:
        """Subscriptions by creation (of one owner, or all when `owner` is None), after a (created_at, id) key."""
        rows = await self.session.execute(
            text(
                f"SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions"
                " WHERE (CAST(:owner AS text) IS NULL OR owner = :owner)"
                " AND (CAST(:after_at AS timestamptz) IS NULL OR (created_at, id) > (:after_at, :after_id))"
                " ORDER BY created_at, id LIMIT :limit"
            ),
            {
                "owner": owner,
                "after_at": after[0] if after else None,
                "after_id": after[1] if after else None,
                "limit": limit,
            },
        )
        return [dict(r) for r in rows.mappings()]

    async def update(self, subscription_id: uuid.UUID, changes: dict[str, Any]) -> dict[str, Any]:
        assignments = ", ".join(f"{k} = :{k}" for k in changes)
        row = (
            (
                await self.session.execute(
                    text(
                        f"UPDATE webhook_subscriptions SET {assignments}, updated_at = now() WHERE id = :id "
                        f"RETURNING {SUBSCRIPTION_COLUMNS}"
                    ),
                    {**changes, "id": subscription_id},
                )
            )
            .mappings()
            .one()
        )
        return dict(row)

    async def delete(self, subscription_id: uuid.UUID) -> None:
        await self.session.execute(text("DELETE FROM webhook_subscriptions WHERE id = :i"), {"i": subscription_id})

    async def deliveries(
        self, subscription_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"s": subscription_id, "limit": limit}
        page = ""
        if after is not None:
            params["after_at"], params["after_id"] = after
            page = "AND (d.created_at, d.id) < (:after_at, :after_id)"
        rows = await self.session.execute(
            text(
                f"""
                SELECT d.id, d.alert_id, d.event_type, d.status, d.attempts, d.created_at,
                       CASE WHEN d.status = 'pending' THEN d.next_attempt_at END AS next_attempt_at,
                       d.delivered_at, d.last_status_code, d.last_error,
                       coalesce((SELECT json_agg(json_build_object('attempt', a.attempt, 'at', a.at,
                                    'status_code', a.status_code, 'error', a.error, 'duration_ms', a.duration_ms)
                                    ORDER BY a.attempt)
                                 FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]') AS log
                FROM webhook_deliveries d
                WHERE d.subscription_id = :s {page}
                ORDER BY d.created_at DESC, d.id DESC LIMIT :limit
                """
            ),
            params,
        )
        return [dict(r) for r in rows.mappings()]

    # the sender --------------------------------------------------------------------------------

    async def claim(self, limit: int, lease_seconds: float) -> list[dict[str, Any]]:
        """Lease due deliveries of enabled subscriptions; a lease that expires (crashed sender) is retaken."""
        rows = await self.session.execute(
            text(
                """
                UPDATE webhook_deliveries d
                   SET lease_until = now() + make_interval(secs => :lease), attempts = d.attempts + 1
                  FROM webhook_subscriptions s
                 WHERE s.id = d.subscription_id
                   AND d.id IN (
                        SELECT q.id FROM webhook_deliveries q
                        JOIN webhook_subscriptions qs ON qs.id = q.subscription_id AND qs.enabled
                        WHERE q.status = 'pending' AND q.next_attempt_at <= now()
                          AND (q.lease_until IS NULL OR q.lease_until < now())
                        ORDER BY q.next_attempt_at
                        LIMIT :limit
                        FOR UPDATE OF q SKIP LOCKED)
                RETURNING d.id, d.subscription_id, d.event_type, d.body, d.attempts, s.url, s.secret
                """
            ),
            {"limit": limit, "lease": lease_seconds},
        )
        return [dict(r) for r in rows.mappings()]

    async def record(self, outcomes: Sequence[dict[str, Any]], max_attempts: int, disable_after: int) -> None:
        """Store the outcome of attempts: delivered, retry later, or failed; count consecutive failures per
        subscription and disable those over the limit. A delivery skipped while it was being sent (its alert
        resolved) stays skipped unless the attempt succeeded. Outcomes go in id order, the order in which the
        resolution of alerts locks deliveries."""
        if not outcomes:
            return
        payload = json.dumps(sorted(outcomes, key=lambda o: str(o["id"])), default=str)
        await self.session.execute(
            text(
                """
                INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, duration_ms)
                SELECT x.id, x.attempt, x.at, x.status_code, x.error, x.duration_ms
                FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(id uuid, attempt integer, at timestamptz,
                     status_code integer, error text, duration_ms double precision)
                ON CONFLICT DO NOTHING
                """
            ),
            {"rows": payload},
        )
        await self.session.execute(
            text(
                """
                UPDATE webhook_deliveries d SET
                    status = CASE WHEN x.ok THEN 'delivered' WHEN d.status = 'skipped' THEN 'skipped'
                                  WHEN d.attempts >= :max_attempts THEN 'failed' ELSE 'pending' END,
                    delivered_at = CASE WHEN x.ok THEN x.at END,
                    next_attempt_at = CASE WHEN x.ok THEN d.next_attempt_at ELSE x.retry_at END,
                    lease_until = NULL,
                    last_status_code = x.status_code,
                    last_error = x.error
                FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(id uuid, ok boolean, at timestamptz,
                     retry_at timestamptz, status_code integer, error text)
                WHERE d.id = x.id
                """
            ),
            {"rows": payload, "max_attempts": max_attempts},
        )
        await self.session.execute(
            text(
                """
                WITH tally AS (
                    SELECT x.subscription_id, bool_or(x.ok) AS any_ok, count(*) FILTER (WHERE NOT x.ok) AS failures
                    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(subscription_id uuid, ok boolean)
                    GROUP BY x.subscription_id
                )
                UPDATE webhook_subscriptions s SET
                    consecutive_failures = CASE WHEN t.any_ok THEN 0 ELSE s.consecutive_failures + t.failures END,
                    enabled = s.enabled AND (t.any_ok OR s.consecutive_failures + t.failures < :disable_after),
                    disabled_reason = CASE
                        WHEN s.enabled AND NOT t.any_ok AND s.consecutive_failures + t.failures >= :disable_after
                        THEN format('disabled after %s consecutive failed deliveries',
                                    s.consecutive_failures + t.failures)
                        ELSE s.disabled_reason END,
                    updated_at = now()
                FROM tally t WHERE s.id = t.subscription_id
                """
            ),
            {"rows": payload, "disable_after": disable_after},
        )
