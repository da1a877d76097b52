"""Complaint metrics of a closed period as they stood at its close: frozen at the first read after the close,
with later changes shown as adjustments."""

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_svc.complaints import analysis
from feedback_svc.complaints.schemas import AdjustmentRow, ComplaintMetrics, MetricsRow

GROUP_FIELD = {
    "period": "period",
    "process": "process_key",
    "node": "node_key",
    "severity": "severity",
    "category": "category",
    "root_cause": "root_cause",
    "department": "department",
}


def snapshot_key(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def _counts(row: MetricsRow) -> dict[str, int]:
    return {m: getattr(row, m) for m in analysis.COUNTED}


def by_group(found: ComplaintMetrics) -> dict[str, dict[str, int]]:
    """The counts of each group keyed by its value (as text), the totals under TOTAL."""
    keyed = {analysis.TOTAL: _counts(found.totals)}
    field = GROUP_FIELD.get(found.group_by)
    for row in found.groups if field else []:
        value = getattr(row, field) if field else None
        label = analysis.NO_VALUE if value is None else value.isoformat() if isinstance(value, datetime) else value
        keyed[str(label)] = _counts(row)
    return keyed


def adjustment_rows(as_closed: ComplaintMetrics, current: ComplaintMetrics) -> list[AdjustmentRow]:
    return [
        AdjustmentRow(group=a.group, measure=a.measure, as_closed=a.as_closed, current=a.current, delta=a.delta)
        for a in analysis.adjustments(by_group(as_closed), by_group(current))
    ]


class SnapshotRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def keep_first(
        self, key: str, params: dict[str, Any], taken_at: datetime, found: ComplaintMetrics
    ) -> tuple[datetime, ComplaintMetrics]:
        """Store these figures unless figures are already stored under the key; answer the stored ones."""
        await self.session.execute(
            text(
                "INSERT INTO complaint_metric_snapshots (key, params, taken_at, body)"
                " VALUES (:key, CAST(:params AS jsonb), :taken_at, CAST(:body AS jsonb))"
                " ON CONFLICT (key) DO NOTHING"
            ),
            {
                "key": key,
                "params": json.dumps(params, sort_keys=True, default=str),
                "taken_at": taken_at,
                "body": found.model_dump_json(),
            },
        )
        row = (
            await self.session.execute(
                text("SELECT taken_at, body FROM complaint_metric_snapshots WHERE key = :key"), {"key": key}
            )
        ).one()
        return row.taken_at, ComplaintMetrics.model_validate(row.body)
