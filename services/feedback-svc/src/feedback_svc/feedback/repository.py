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

from feedback_svc.common import source_clause
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
    sources: frozenset[str] | None = None  # the caller's (None: not bound to source systems)

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses = ["true"]
        params: dict[str, Any] = {}
        visible = source_clause("f.source", self.sources, params)
        if visible is not None:
            clauses.append(visible)
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


_STATE_RANK = (
    "CASE j.state WHEN 'completed_normal' THEN 1 WHEN 'completed_acceptable' THEN 2 WHEN 'completed_warning' THEN 3 END"
)
_LAST_COMPLETED_RUNS = """
    runs AS (
        SELECT DISTINCT ON (j.ticket_id, j.node_key) j.ticket_id, j.node_key, j.state, j.counted_seconds
        FROM ticket_judgments j
        WHERE j.ticket_id IN (SELECT ticket_id FROM f) AND j.state LIKE 'completed%'
        ORDER BY j.ticket_id, j.node_key, j.cycle DESC
    )
"""


class SatisfactionRepository:
    """Feedback read against evaluation-svc's judgments (cached in ticket_judgments)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _feedback(self, where: FeedbackFilter) -> tuple[str, dict[str, Any]]:
        clause, params = where.where()
        return f"f AS (SELECT * FROM feedback f WHERE {clause} AND f.ticket_id IS NOT NULL)", params

    async def ticket_ids(self, where: FeedbackFilter) -> list[str]:
        clause, params = where.where()
        rows = await self.session.execute(
            text(f"SELECT DISTINCT f.ticket_id FROM feedback f WHERE {clause} AND f.ticket_id IS NOT NULL"), params
        )
        return [r[0] for r in rows]

    async def by_ticket_state(self, where: FeedbackFilter) -> tuple[list[Any], int, int]:
        """Rows (state, counts) with each ticket in the worst state its nodes completed in; tickets judged
        and tickets without any completed judged run."""
        cte, params = self._feedback(where)
        worst = f"""
            WITH {cte},
            worst AS (
                SELECT j.ticket_id, max({_STATE_RANK}) AS rank FROM ticket_judgments j
                WHERE j.ticket_id IN (SELECT ticket_id FROM f) AND j.state LIKE 'completed%'
                GROUP BY j.ticket_id
            )
        """
        rows = await self.session.execute(
            text(
                worst + f"SELECT (ARRAY['completed_normal', 'completed_acceptable', 'completed_warning'])[w.rank]"
                f" AS state, {_COUNTS} FROM f JOIN worst w ON w.ticket_id = f.ticket_id GROUP BY w.rank ORDER BY w.rank"
            ),
            params,
        )
        tickets = (
            await self.session.execute(
                text(
                    worst + "SELECT count(DISTINCT f.ticket_id) FILTER (WHERE w.ticket_id IS NOT NULL) AS judged,"
                    " count(DISTINCT f.ticket_id) FILTER (WHERE w.ticket_id IS NULL) AS unjudged"
                    " FROM f LEFT JOIN worst w ON w.ticket_id = f.ticket_id"
                ),
                params,
            )
        ).one()
        return list(rows), tickets.judged, tickets.unjudged

    async def by_node_state(self, where: FeedbackFilter) -> list[Any]:
        cte, params = self._feedback(where)
        rows = await self.session.execute(
            text(
                f"WITH {cte}, {_LAST_COMPLETED_RUNS}"
                f" SELECT r.node_key, r.state, {_COUNTS} FROM f JOIN runs r ON r.ticket_id = f.ticket_id"
                " GROUP BY r.node_key, r.state ORDER BY r.node_key, r.state"
            ),
            params,
        )
        return list(rows)

    async def by_counted_duration(self, where: FeedbackFilter, bucket_seconds: float) -> list[Any]:
        cte, params = self._feedback(where)
        params["width"] = bucket_seconds
        rows = await self.session.execute(
            text(
                f"WITH {cte}, {_LAST_COMPLETED_RUNS}"
                " SELECT r.node_key, floor(r.counted_seconds / :width)::bigint AS bucket,"
                f" {_COUNTS} FROM f JOIN runs r ON r.ticket_id = f.ticket_id"
                " WHERE r.counted_seconds IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
            ),
            params,
        )
        return list(rows)
