"""All SQL of risk points. Flushes, never commits."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from feedback_svc.risks.models import RiskPoint


@dataclass(frozen=True, slots=True)
class RiskFilter:
    process_key: str | None = None
    node_key: str | None = None
    department: str | None = None
    kpi_key: str | None = None
    alert_ref: str | None = None
    sources: frozenset[str] | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses = ["true"]
        params: dict[str, Any] = {}
        if self.sources is not None:
            clauses.append("cardinality(r.sources) > 0 AND r.sources <@ CAST(:caller_sources AS text[])")
            params["caller_sources"] = sorted(self.sources)
        for column, value in (
            ("process_key", self.process_key),
            ("node_key", self.node_key),
            ("department", self.department),
        ):
            if value is not None:
                clauses.append(f"r.{column} = :{column}")
                params[column] = value
        for column, value in (("kpi_keys", self.kpi_key), ("alert_refs", self.alert_ref)):
            if value is not None:
                clauses.append(f":{column} = ANY(r.{column})")
                params[column] = value
        return " AND ".join(clauses), params


class RiskRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, risk: RiskPoint) -> None:
        self.session.add(risk)
        await self.session.flush()

    async def get(self, risk_id: uuid.UUID, *, for_update: bool = False) -> RiskPoint | None:
        statement = select(RiskPoint).where(col(RiskPoint.id) == risk_id).execution_options(populate_existing=True)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def delete(self, risk_id: uuid.UUID) -> None:
        await self.session.execute(delete(RiskPoint).where(col(RiskPoint.id) == risk_id))

    async def page(self, where: RiskFilter, after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[RiskPoint]:
        clause, params = where.where()
        if after is not None:
            clause += " AND (r.created_at, r.id) < (:after_at, :after_id)"
            params.update(after_at=after[0], after_id=after[1])
        rows = await self.session.execute(
            select(RiskPoint)
            .from_statement(
                text(f"SELECT r.* FROM risk_points r WHERE {clause} ORDER BY r.created_at DESC, r.id DESC LIMIT :limit")
            )
            .params(**params, limit=limit)
        )
        return list(rows.scalars())
