"""SQL of settlements. Never commits: the request's transaction does."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class SettlementRecord:
    agreement_key: str
    period: str
    period_start: datetime
    status: str
    document: dict[str, Any]


def _record(row: Any) -> SettlementRecord:
    return SettlementRecord(row.agreement_key, row.period, row.period_start, row.status, dict(row.document))


class SettlementRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(
        self, agreement_key: str, period_start: datetime, *, for_update: bool = False
    ) -> SettlementRecord | None:
        lock = " FOR UPDATE" if for_update else ""
        row = (
            await self.session.execute(
                text(
                    "SELECT agreement_key, period, period_start, status, document FROM settlements"
                    f" WHERE agreement_key = :k AND period_start = :s{lock}"
                ),
                {"k": agreement_key, "s": period_start},
            )
        ).first()
        return None if row is None else _record(row)

    async def listed(self, agreement_key: str, before: datetime | None, limit: int) -> list[SettlementRecord]:
        """The settlements of an agreement, latest period first (period_start is unique within it), of periods
        starting before `before`."""
        rows = await self.session.execute(
            text(
                "SELECT agreement_key, period, period_start, status, document FROM settlements"
                " WHERE agreement_key = :k AND (CAST(:b AS timestamptz) IS NULL OR period_start < :b)"
                " ORDER BY period_start DESC LIMIT :n"
            ),
            {"k": agreement_key, "b": before, "n": limit},
        )
        return [_record(r) for r in rows]

    async def approved_before(self, agreement_key: str, before: datetime, limit: int) -> list[SettlementRecord]:
        """The latest `limit` approved settlements of periods starting before `before`, oldest first."""
        rows = await self.session.execute(
            text(
                """
                SELECT * FROM (
                    SELECT agreement_key, period, period_start, status, document FROM settlements
                    WHERE agreement_key = :k AND status = 'approved' AND period_start < :b
                    ORDER BY period_start DESC LIMIT :n
                ) AS s ORDER BY period_start
                """
            ),
            {"k": agreement_key, "b": before, "n": limit},
        )
        return [_record(r) for r in rows]

    async def approved_in(self, agreement_key: str, starts: Sequence[datetime]) -> dict[datetime, SettlementRecord]:
        rows = await self.session.execute(
            text(
                "SELECT agreement_key, period, period_start, status, document FROM settlements"
                " WHERE agreement_key = :k AND status = 'approved' AND period_start = ANY(:s)"
            ),
            {"k": agreement_key, "s": list(starts)},
        )
        return {r.period_start: _record(r) for r in rows}

    async def save_draft(
        self,
        *,
        agreement_key: str,
        agreement_id: str,
        period: str,
        period_start: datetime,
        period_end: datetime,
        currency: str | None,
        credits: Decimal,
        document: dict[str, Any],
        at: datetime,
        by: str,
    ) -> bool:
        """Records (or replaces) the draft; False when the period is approved (the row is left as it is)."""
        row = (
            await self.session.execute(
                text(
                    """
                    INSERT INTO settlements AS s (agreement_key, period_start, period_end, period, agreement_id,
                                                  status, currency, credits, document, drafted_at, drafted_by)
                    VALUES (:k, :s, :e, :p, :a, 'draft', :c, :credits, CAST(:d AS jsonb), :at, :by)
                    ON CONFLICT (agreement_key, period_start) DO UPDATE SET
                        period_end = EXCLUDED.period_end, agreement_id = EXCLUDED.agreement_id,
                        currency = EXCLUDED.currency, credits = EXCLUDED.credits, document = EXCLUDED.document,
                        drafted_at = EXCLUDED.drafted_at, drafted_by = EXCLUDED.drafted_by
                    WHERE s.status = 'draft'
                    RETURNING 1
                    """
                ),
                {
                    "k": agreement_key,
                    "s": period_start,
                    "e": period_end,
                    "p": period,
                    "a": agreement_id,
                    "c": currency,
                    "credits": credits,
                    "d": json.dumps(document),
                    "at": at,
                    "by": by,
                },
            )
        ).first()
        return row is not None

    async def approve(
        self, agreement_key: str, period_start: datetime, document: dict[str, Any], at: datetime, by: str
    ) -> None:
        await self.session.execute(
            text(
                """
                UPDATE settlements SET status = 'approved', approved_at = :at, approved_by = :by,
                                       document = CAST(:d AS jsonb)
                WHERE agreement_key = :k AND period_start = :s AND status = 'draft'
                """
            ),
            {"k": agreement_key, "s": period_start, "at": at, "by": by, "d": json.dumps(document)},
        )

    async def covered_processes(self, commitment_keys: Sequence[str]) -> list[str]:
        """The processes of the covered commitments (any of their versions)."""
        rows = await self.session.execute(
            text("SELECT DISTINCT process_key FROM ref_commitments WHERE commitment_key = ANY(:k) ORDER BY 1"),
            {"k": list(commitment_keys)},
        )
        return [r.process_key for r in rows]
