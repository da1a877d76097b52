"""All SQL of corrective actions. Flushes, never commits."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from feedback_svc.actions.models import CorrectiveAction, CorrectiveActionLink, CorrectiveActionTransition
from feedback_svc.common import owner_clause, source_clause


@dataclass(frozen=True, slots=True)
class ActionFilter:
    status: str | None = None
    owner_department: str | None = None
    process_key: str | None = None
    overdue_on: date | None = None  # only actions overdue on that day
    caller_sources: frozenset[str] | None = None  # a partner bound to sources: the actions it opened

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses = ["true"]
        params: dict[str, Any] = {}
        owned = owner_clause("a.sources", self.caller_sources, params)
        if owned is not None:
            clauses.append(owned)
        for column in ("status", "owner_department", "process_key"):
            if getattr(self, column) is not None:
                clauses.append(f"a.{column} = :{column}")
                params[column] = getattr(self, column)
        if self.overdue_on is not None:
            clauses.append("a.status IN ('open', 'in_progress') AND a.due_date < :today")
            params["today"] = self.overdue_on
        return " AND ".join(clauses), params


class ActionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        action: CorrectiveAction,
        links: Sequence[CorrectiveActionLink] = (),
        transitions: Sequence[CorrectiveActionTransition] = (),
    ) -> None:
        self.session.add(action)
        await self.session.flush()
        if links:
            await self.session.execute(
                insert(CorrectiveActionLink).values([link.model_dump() for link in links]).on_conflict_do_nothing()
            )
        if transitions:
            self.session.add_all(transitions)
            await self.session.flush()

    async def get(self, action_id: uuid.UUID, *, for_update: bool = False) -> CorrectiveAction | None:
        statement = (
            select(CorrectiveAction)
            .where(col(CorrectiveAction.id) == action_id)
            .execution_options(populate_existing=True)
        )
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def links(self, action_id: uuid.UUID) -> list[CorrectiveActionLink]:
        rows = await self.session.execute(
            select(CorrectiveActionLink)
            .where(col(CorrectiveActionLink.action_id) == action_id)
            .order_by(col(CorrectiveActionLink.kind), col(CorrectiveActionLink.ref))
        )
        return list(rows.scalars())

    async def history(self, action_id: uuid.UUID) -> list[CorrectiveActionTransition]:
        rows = await self.session.execute(
            select(CorrectiveActionTransition)
            .where(col(CorrectiveActionTransition.action_id) == action_id)
            .order_by(col(CorrectiveActionTransition.seq))
        )
        return list(rows.scalars())

    async def page(
        self, where: ActionFilter, limit: int, after: tuple[date, uuid.UUID] | None
    ) -> list[CorrectiveAction]:
        clause, params = where.where()
        if after is not None:
            clause += " AND (a.due_date, a.id) > (:after_due, :after_id)"
            params.update(after_due=after[0], after_id=after[1])
        rows = await self.session.execute(
            select(CorrectiveAction)
            .from_statement(
                text(f"SELECT a.* FROM corrective_actions a WHERE {clause} ORDER BY a.due_date, a.id LIMIT :limit")
            )
            .params(**params, limit=limit)
        )
        return list(rows.scalars())

    async def existing_complaints(
        self, ids: Sequence[uuid.UUID], caller_sources: frozenset[str] | None
    ) -> set[uuid.UUID]:
        """The ids among `ids` of complaints the caller may see (as the complaints routes bind them)."""
        if not ids:
            return set()
        params: dict[str, Any] = {"ids": list(ids)}
        visible = source_clause("source", caller_sources, params)
        rows = await self.session.execute(
            text(f"SELECT id FROM complaints WHERE id = ANY(CAST(:ids AS uuid[])) AND {visible or 'true'}"), params
        )
        return {r[0] for r in rows}

    async def survey_targets(self, instrument_key: str) -> set[str] | None:
        """Dimensions and item keys of an instrument (None: no such instrument)."""
        row = (
            await self.session.execute(
                text(
                    "SELECT i.dimensions, array_agg(it.item_key) AS items FROM survey_instruments i"
                    " LEFT JOIN survey_items it ON it.instrument_key = i.key WHERE i.key = :k GROUP BY i.key"
                ),
                {"k": instrument_key},
            )
        ).first()
        if row is None:
            return None
        return set(row.dimensions) | {i for i in row.items if i}
