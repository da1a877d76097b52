"""All SQL of feedback. Flushes, never commits."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from feedback_svc.feedback.models import Feedback, FeedbackNode
from feedback_svc.feedback.scores import Counts

# group-by name → (SQL expression, needs the node join)
_GROUP_COLUMNS: dict[str, tuple[str, bool]] = {
    "process": ("f.process_key", False),
    "segment": ("f.segment", False),
    "channel": ("f.channel", False),
    "node": ("n.node_key", True),
    "department": ("n.department", True),
    "period": ("date_trunc(:bucket, f.given_at AT TIME ZONE :tz) AT TIME ZONE :tz", False),
}
_COUNTS = """
    count(*) AS responses,
    count(f.csat) AS csat_responses,
    count(*) FILTER (WHERE f.csat >= 4) AS satisfied,
    count(f.nps) AS nps_responses,
    count(*) FILTER (WHERE f.nps >= 9) AS promoters,
    count(*) FILTER (WHERE f.nps <= 6) AS detractors
"""


@dataclass(frozen=True, slots=True)
class FeedbackFilter:
    start: datetime | None = None
    end: datetime | None = None
    process_key: str | None = None
    segment: str | None = None
    channel: str | None = None
    ticket_id: str | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses = ["true"]
        params: dict[str, Any] = {}
        for column, value in (
            ("process_key", self.process_key),
            ("segment", self.segment),
            ("channel", self.channel),
            ("ticket_id", self.ticket_id),
        ):
            if value is not None:
                clauses.append(f"f.{column} = :{column}")
                params[column] = value
        if self.start is not None:
            clauses.append("f.given_at >= :start")
            params["start"] = self.start
        if self.end is not None:
            clauses.append("f.given_at < :end")
            params["end"] = self.end
        return " AND ".join(clauses), params


def counts_of(row: Any) -> Counts:
    return Counts(
        responses=row.responses,
        csat_responses=row.csat_responses,
        satisfied=row.satisfied,
        nps_responses=row.nps_responses,
        promoters=row.promoters,
        detractors=row.detractors,
    )


class FeedbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, feedback: Feedback, nodes: Sequence[FeedbackNode]) -> bool:
        """Insert unless the ticket already has feedback on that channel (then False, nothing written)."""
        values = feedback.model_dump()
        inserted = await self.session.execute(
            insert(Feedback).values(**values).on_conflict_do_nothing().returning(col(Feedback.id))
        )
        if inserted.scalar_one_or_none() is None:
            return False
        if nodes:
            await self.session.execute(insert(FeedbackNode).values([n.model_dump() for n in nodes]))
        return True

    async def id_for_ticket_channel(self, ticket_id: str, channel: str) -> uuid.UUID | None:
        result = await self.session.execute(
            select(col(Feedback.id)).where(col(Feedback.ticket_id) == ticket_id, col(Feedback.channel) == channel)
        )
        return result.scalar_one_or_none()

    async def get(self, feedback_id: uuid.UUID, *, for_update: bool = False) -> Feedback | None:
        statement = select(Feedback).where(col(Feedback.id) == feedback_id).execution_options(populate_existing=True)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def nodes_of(self, feedback_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[FeedbackNode]]:
        if not feedback_ids:
            return {}
        rows = await self.session.execute(
            select(FeedbackNode)
            .where(col(FeedbackNode.feedback_id).in_(feedback_ids))
            .order_by(col(FeedbackNode.feedback_id), col(FeedbackNode.node_key))
        )
        grouped: dict[uuid.UUID, list[FeedbackNode]] = {i: [] for i in feedback_ids}
        for node in rows.scalars():
            grouped[node.feedback_id].append(node)
        return grouped

    async def save(self, feedback: Feedback) -> None:
        self.session.add(feedback)
        await self.session.flush()

    async def page(self, where: FeedbackFilter, after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[Feedback]:
        clause, params = where.where()
        if after is not None:
            clause += " AND (f.given_at, f.id) < (:after_at, :after_id)"
            params.update(after_at=after[0], after_id=after[1])
        rows = await self.session.execute(
            select(Feedback)
            .from_statement(
                text(f"SELECT f.* FROM feedback f WHERE {clause} ORDER BY f.given_at DESC, f.id DESC LIMIT :limit")
            )
            .params(**params, limit=limit)
        )
        return list(rows.scalars())

    async def summary(
        self, where: FeedbackFilter, group_by: Sequence[str], bucket: str, tz: str
    ) -> tuple[Counts, list[tuple[dict[str, Any], Counts]]]:
        """Totals and one row of counts per group (set-based: one statement each)."""
        clause, params = where.where()
        params.update(bucket=bucket, tz=tz)
        needs_nodes = any(_GROUP_COLUMNS[g][1] for g in group_by)
        join = "LEFT JOIN feedback_nodes n ON n.feedback_id = f.id" if needs_nodes else ""
        totals = (await self.session.execute(text(f"SELECT {_COUNTS} FROM feedback f WHERE {clause}"), params)).one()
        if not group_by:
            return counts_of(totals), []
        columns = ", ".join(f"{_GROUP_COLUMNS[g][0]} AS g_{g}" for g in group_by)
        positions = ", ".join(str(i + 1) for i in range(len(group_by)))
        statement = text(
            f"SELECT {columns}, {_COUNTS} FROM feedback f {join} WHERE {clause} "
            f"GROUP BY {positions} ORDER BY {positions}"
        )
        rows = (await self.session.execute(statement, params)).all()
        groups = [({g: getattr(row, f"g_{g}") for g in group_by}, counts_of(row)) for row in rows]
        return counts_of(totals), groups
