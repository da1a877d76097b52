"""All SQL of practices. Flushes, never commits."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from feedback_svc.practices.models import Practice
from feedback_svc.practices.search import like_pattern


@dataclass(frozen=True, slots=True)
class PracticeFilter:
    terms: tuple[str, ...] = ()
    tag: str | None = None
    process_key: str | None = None
    node_key: str | None = None
    root_cause: str | None = None
    sources: frozenset[str] | None = None  # the caller's (None: not bound to source systems)

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses = ["true"]
        params: dict[str, Any] = {}
        if self.sources is not None:  # the rule of `owned_by`, set-based
            clauses.append("cardinality(p.sources) > 0 AND p.sources <@ CAST(:caller_sources AS text[])")
            params["caller_sources"] = sorted(self.sources)
        for i, term in enumerate(self.terms):
            clauses.append(f"p.search_text LIKE :term{i} ESCAPE '\\'")
            params[f"term{i}"] = like_pattern(term)
        for column, value in (
            ("tags", self.tag),
            ("process_keys", self.process_key),
            ("node_keys", self.node_key),
            ("root_causes", self.root_cause),
        ):
            if value is not None:
                clauses.append(f":{column} = ANY(p.{column})")
                params[column] = value
        return " AND ".join(clauses), params


class PracticeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, practice: Practice) -> None:
        self.session.add(practice)
        await self.session.flush()

    async def get(self, practice_id: uuid.UUID) -> Practice | None:
        return (
            await self.session.execute(select(Practice).where(col(Practice.id) == practice_id))
        ).scalar_one_or_none()

    async def of_action(self, action_id: uuid.UUID) -> Practice | None:
        return (
            await self.session.execute(select(Practice).where(col(Practice.action_id) == action_id))
        ).scalar_one_or_none()

    async def page(self, where: PracticeFilter, after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[Practice]:
        clause, params = where.where()
        if after is not None:
            clause += " AND (p.created_at, p.id) < (:after_at, :after_id)"
            params.update(after_at=after[0], after_id=after[1])
        rows = await self.session.execute(
            select(Practice)
            .from_statement(
                text(f"SELECT p.* FROM practices p WHERE {clause} ORDER BY p.created_at DESC, p.id DESC LIMIT :limit")
            )
            .params(**params, limit=limit)
        )
        return list(rows.scalars())
