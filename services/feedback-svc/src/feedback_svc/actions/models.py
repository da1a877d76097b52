"""Table models of corrective actions (the HTTP contract is in schemas.py)."""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel


def _instant(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


class CorrectiveAction(SQLModel, table=True):
    __tablename__ = "corrective_actions"

    id: uuid.UUID = Field(primary_key=True)
    title: str
    description: str
    owner_department: str
    due_date: date
    status: str
    process_key: str | None = None
    node_key: str | None = None
    sources: list[str] | None = Field(default=None, sa_column=Column(ARRAY(Text), nullable=True))
    effectiveness_weeks: int = 4
    started_at: datetime | None = _instant(nullable=True)
    done_at: datetime | None = _instant(nullable=True)
    verified_at: datetime | None = _instant(nullable=True)
    created_at: datetime = _instant()
    updated_at: datetime = _instant()


class CorrectiveActionLink(SQLModel, table=True):
    __tablename__ = "corrective_action_links"

    action_id: uuid.UUID = Field(primary_key=True, foreign_key="corrective_actions.id")
    kind: str = Field(primary_key=True)
    ref: str = Field(primary_key=True)


class CorrectiveActionTransition(SQLModel, table=True):
    __tablename__ = "corrective_action_transitions"

    action_id: uuid.UUID = Field(primary_key=True, foreign_key="corrective_actions.id")
    seq: int = Field(primary_key=True)
    from_status: str | None
    to_status: str
    at: datetime = _instant()
    by: str
    note: str | None = None
