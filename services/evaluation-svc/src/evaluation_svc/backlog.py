"""The senders' backlogs as gauges, read from their queues when metrics are scraped (docs/operations.md)."""

from typing import Any

from pledge_common.domain_metrics import SENDER_BACKLOG, SENDER_OLDEST_DUE
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# Both counts walk the partial indexes of the due messages (`webhook_deliveries_due`, `notify_messages_due`).
_BACKLOGS = text(
    """
    SELECT 'webhooks' AS sender, count(*) AS waiting,
           coalesce(extract(epoch FROM now() - min(next_attempt_at) FILTER (WHERE next_attempt_at <= now())), 0)
               AS oldest_due
    FROM webhook_deliveries WHERE status = 'pending'
    UNION ALL
    SELECT 'notifications', count(*),
           coalesce(extract(epoch FROM now() - min(next_attempt_at) FILTER (WHERE next_attempt_at <= now())), 0)
    FROM notify_messages WHERE status IN ('queued', 'retrying')
    """
)


async def read_backlogs(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(_BACKLOGS)).mappings()]


async def refresh_backlogs(engine: AsyncEngine) -> None:
    """Set `pledge_sender_backlog` and `pledge_sender_oldest_due_seconds` for each sender."""
    for row in await read_backlogs(engine):
        SENDER_BACKLOG.labels(row["sender"]).set(row["waiting"])
        SENDER_OLDEST_DUE.labels(row["sender"]).set(float(row["oldest_due"]))
