"""All SQL of complaints and of the tracking command outbox. Flushes, never commits."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from feedback_svc.common import source_clause
from feedback_svc.complaints.models import Complaint, ComplaintOwner, ComplaintTransition, TrackingCommand

# the columns of the analysis dimensions (fixed text, never from input)
DIMENSIONS = {
    "category": "c.category",
    "root_cause": "c.root_cause",
    "department": "c.owner_department",
    "node": "c.node_key",
}
PARETO_DIMENSIONS = {**DIMENSIONS, "process": "c.process_key", "severity": "c.severity"}


@dataclass(frozen=True, slots=True)
class ComplaintFilter:
    status: str | None = None
    severity: str | None = None
    category: str | None = None
    customer_ref: str | None = None
    owner_department: str | None = None
    process_key: str | None = None
    node_key: str | None = None
    start: datetime | None = None
    ticket_id: str | None = None
    end: datetime | None = None
    sources: frozenset[str] | None = None  # the caller's (None: not bound to source systems)

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses = ["true"]
        params: dict[str, Any] = {}
        visible = source_clause("c.source", self.sources, params)
        if visible is not None:
            clauses.append(visible)
        for column in (
            "status",
            "severity",
            "category",
            "customer_ref",
            "owner_department",
            "process_key",
            "node_key",
            "ticket_id",
        ):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"c.{column} = :{column}")
                params[column] = value
        if self.start is not None:
            clauses.append("c.received_at >= :start")
            params["start"] = self.start
        if self.end is not None:
            clauses.append("c.received_at < :end")
            params["end"] = self.end
        return " AND ".join(clauses), params


@dataclass(frozen=True, slots=True)
class TrackingState:
    pending: int
    last_error: str | None


class ComplaintRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_customer_category(self, customer_ref: str, category: str) -> None:
        """Serialise complaints of one customer and category so that repeats are always linked."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 6))"), {"k": f"{customer_ref}\x1f{category}"}
        )

    async def latest_within(
        self, customer_ref: str, category: str, at: datetime, window: timedelta
    ) -> uuid.UUID | None:
        """The most recent complaint of the customer and category received in [at - window, at]."""
        result = await self.session.execute(
            select(col(Complaint.id))
            .where(
                col(Complaint.customer_ref) == customer_ref,
                col(Complaint.category) == category,
                col(Complaint.received_at) >= at - window,
                col(Complaint.received_at) <= at,
            )
            .order_by(col(Complaint.received_at).desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def add(self, complaint: Complaint) -> None:
        self.session.add(complaint)
        await self.session.flush()

    async def add_history(
        self, transitions: Sequence[ComplaintTransition] = (), owners: Sequence[ComplaintOwner] = ()
    ) -> None:
        self.session.add_all([*transitions, *owners])
        await self.session.flush()

    async def add_commands(self, complaint_id: uuid.UUID, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
        if not events:
            return
        await self.session.execute(
            insert(TrackingCommand)
            .values([{"complaint_id": complaint_id, "event_id": eid, "payload": body} for eid, body in events])
            .on_conflict_do_nothing(index_elements=["event_id"])
        )

    async def get(self, complaint_id: uuid.UUID, *, for_update: bool = False) -> Complaint | None:
        statement = select(Complaint).where(col(Complaint.id) == complaint_id).execution_options(populate_existing=True)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def history(self, complaint_id: uuid.UUID) -> list[ComplaintTransition]:
        rows = await self.session.execute(
            select(ComplaintTransition)
            .where(col(ComplaintTransition.complaint_id) == complaint_id)
            .order_by(col(ComplaintTransition.seq))
        )
        return list(rows.scalars())

    async def ownership(self, complaint_id: uuid.UUID) -> list[ComplaintOwner]:
        rows = await self.session.execute(
            select(ComplaintOwner)
            .where(col(ComplaintOwner.complaint_id) == complaint_id)
            .order_by(col(ComplaintOwner.seq))
            .execution_options(populate_existing=True)
        )
        return list(rows.scalars())

    async def current_owner(self, complaint_id: uuid.UUID) -> ComplaintOwner | None:
        rows = await self.session.execute(
            select(ComplaintOwner)
            .where(col(ComplaintOwner.complaint_id) == complaint_id, col(ComplaintOwner.until).is_(None))
            .execution_options(populate_existing=True)
        )
        return rows.scalar_one_or_none()

    async def repeated_by(self, complaint_id: uuid.UUID) -> list[uuid.UUID]:
        rows = await self.session.execute(
            select(col(Complaint.id))
            .where(col(Complaint.repeat_of) == complaint_id)
            .order_by(col(Complaint.received_at))
        )
        return list(rows.scalars())

    async def tracking_state(self, complaint_id: uuid.UUID) -> TrackingState:
        row = (
            await self.session.execute(
                text(
                    "SELECT count(*) FILTER (WHERE status = 'pending') AS pending,"
                    " (array_agg(last_error ORDER BY id) FILTER (WHERE status = 'pending'))[1] AS last_error"
                    " FROM tracking_commands WHERE complaint_id = :id"
                ),
                {"id": complaint_id},
            )
        ).one()
        return TrackingState(pending=row.pending, last_error=row.last_error)

    async def page(
        self, where: ComplaintFilter, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[Complaint]:
        clause, params = where.where()
        if after is not None:
            clause += " AND (c.received_at, c.id) < (:after_at, :after_id)"
            params.update(after_at=after[0], after_id=after[1])
        rows = await self.session.execute(
            select(Complaint)
            .from_statement(
                text(f"SELECT c.* FROM complaints c WHERE {clause} ORDER BY c.received_at DESC, c.id DESC LIMIT :limit")
            )
            .params(**params, limit=limit)
        )
        return list(rows.scalars())

    async def metrics(self, where: ComplaintFilter, group_by: str, bucket: str, tz: str) -> list[dict[str, Any]]:
        """Counts per group (one row with group None when group_by is 'none'); on-time from judgments."""
        clause, params = where.where()
        params.update(bucket=bucket, tz=tz)
        group = {
            "period": "date_trunc(:bucket, c.received_at AT TIME ZONE :tz) AT TIME ZONE :tz",
            "process": "c.process_key",
            "severity": "c.severity",
            **DIMENSIONS,
            "none": "NULL::text",
        }[group_by]
        statement = text(
            f"""
            WITH judged AS (
                SELECT j.ticket_id,
                       bool_and(j.state = 'completed_normal') AS on_time,
                       bool_and(j.final) AS final
                FROM ticket_judgments j
                GROUP BY j.ticket_id
            )
            SELECT {group} AS grp,
                   count(*) AS received,
                   count(*) FILTER (WHERE c.status = 'closed') AS closed,
                   count(*) FILTER (WHERE c.resolved_at IS NOT NULL) AS resolved,
                   count(*) FILTER (
                       WHERE c.resolved_at IS NOT NULL AND c.transfers = 0 AND c.reopens = 0 AND NOT c.investigated
                   ) AS first_contact_resolved,
                   count(*) FILTER (WHERE c.reopens > 0) AS reopened,
                   count(*) FILTER (WHERE c.repeat_of IS NOT NULL) AS repeats,
                   count(*) FILTER (WHERE c.resolved_at IS NOT NULL AND jd.final) AS judged,
                   count(*) FILTER (WHERE c.resolved_at IS NOT NULL AND jd.final AND jd.on_time) AS on_time
            FROM complaints c
            LEFT JOIN judged jd ON jd.ticket_id = c.tracking_ticket_id
            WHERE {clause}
            GROUP BY 1
            ORDER BY 1 NULLS FIRST
            """
        )
        return [dict(row._mapping) for row in (await self.session.execute(statement, params)).all()]

    async def judged_ticket_ids_missing(self, where: ComplaintFilter) -> list[str]:
        """Tracking tickets of resolved complaints whose final judgment is not cached yet."""
        clause, params = where.where()
        rows = await self.session.execute(
            text(
                f"SELECT c.tracking_ticket_id FROM complaints c WHERE {clause}"
                " AND c.resolved_at IS NOT NULL AND c.tracking_ticket_id IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM ticket_judgments j WHERE j.ticket_id = c.tracking_ticket_id"
                "                 AND j.final AND j.node_key = 'resolve')"
            ),
            params,
        )
        return [r[0] for r in rows]

    async def complaints_by_process(self, where: ComplaintFilter) -> list[tuple[str, int]]:
        clause, params = where.where()
        rows = await self.session.execute(
            text(
                f"SELECT c.process_key, count(*) FROM complaints c WHERE {clause} AND c.process_key IS NOT NULL"
                " GROUP BY 1 ORDER BY 1"
            ),
            params,
        )
        return [(r[0], r[1]) for r in rows]

    async def counts_by(self, where: ComplaintFilter, dimension: str) -> list[tuple[str | None, int]]:
        """Complaints per value of one analysis dimension (null: no value)."""
        clause, params = where.where()
        column = PARETO_DIMENSIONS[dimension]
        rows = await self.session.execute(
            text(f"SELECT {column}, count(*) FROM complaints c WHERE {clause} GROUP BY 1"), params
        )
        return [(r[0], r[1]) for r in rows]

    async def of_intake_ticket(self, tracking_ticket_id: str) -> uuid.UUID | None:
        return (
            await self.session.execute(
                select(col(Complaint.id)).where(col(Complaint.intake_ticket_id) == tracking_ticket_id)
            )
        ).scalar_one_or_none()
