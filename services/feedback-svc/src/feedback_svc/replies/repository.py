"""All SQL of reply reviews. Flushes, never commits."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from feedback_svc.common import source_clause
from feedback_svc.replies.models import ReplyReview

# the grouping columns (fixed text, never from input)
GROUPS = {
    "period": "date_trunc(:bucket, r.replied_at AT TIME ZONE :tz) AT TIME ZONE :tz",
    "department": "r.department",
    "process": "r.process_key",
    "category": "r.category",
    "none": "NULL::text",
}


@dataclass(frozen=True, slots=True)
class ReviewFilter:
    start: datetime | None = None
    end: datetime | None = None
    department: str | None = None
    process_key: str | None = None
    category: str | None = None
    accurate: bool | None = None
    complaint_id: uuid.UUID | None = None
    sources: frozenset[str] | None = None  # the caller's (None: not bound to source systems)

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses = ["true"]
        params: dict[str, Any] = {}
        visible = source_clause("r.source", self.sources, params)
        if visible is not None:
            clauses.append(visible)
        for column in ("department", "process_key", "category", "accurate", "complaint_id"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"r.{column} = :{column}")
                params[column] = value
        if self.start is not None:
            clauses.append("r.replied_at >= :start")
            params["start"] = self.start
        if self.end is not None:
            clauses.append("r.replied_at < :end")
            params["end"] = self.end
        return " AND ".join(clauses), params


class ReplyReviewRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_once(self, review: ReplyReview) -> ReplyReview:
        """Insert unless (source, reply_ref) is reviewed already; the stored review either way."""
        await self.session.execute(
            insert(ReplyReview)
            .values(review.model_dump())
            .on_conflict_do_nothing(index_elements=["source", "reply_ref"])
        )
        stored = await self.session.execute(
            select(ReplyReview)
            .where(col(ReplyReview.source) == review.source, col(ReplyReview.reply_ref) == review.reply_ref)
            .execution_options(populate_existing=True)
        )
        return stored.scalar_one()

    async def page(
        self, where: ReviewFilter, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[ReplyReview]:
        clause, params = where.where()
        if after is not None:
            clause += " AND (r.replied_at, r.id) < (:after_at, :after_id)"
            params.update(after_at=after[0], after_id=after[1])
        rows = await self.session.execute(
            select(ReplyReview)
            .from_statement(
                text(
                    f"SELECT r.* FROM reply_reviews r WHERE {clause} ORDER BY r.replied_at DESC, r.id DESC LIMIT :limit"
                )
            )
            .params(**params, limit=limit)
        )
        return list(rows.scalars())

    async def accuracy(self, where: ReviewFilter, group_by: str, bucket: str, tz: str) -> list[dict[str, Any]]:
        """Reviewed and accurate replies per group (one row with group None for 'none'; none when empty)."""
        clause, params = where.where()
        params.update(bucket=bucket, tz=tz)
        statement = text(
            f"""
            SELECT {GROUPS[group_by]} AS grp,
                   count(*) AS reviewed,
                   count(*) FILTER (WHERE r.accurate) AS accurate
            FROM reply_reviews r
            WHERE {clause}
            GROUP BY 1
            ORDER BY 1 NULLS FIRST
            """
        )
        return [dict(row._mapping) for row in (await self.session.execute(statement, params)).all()]
