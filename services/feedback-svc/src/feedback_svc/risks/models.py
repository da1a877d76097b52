"""Table model of risk points (the HTTP contract is in schemas.py)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel


def _instant() -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=False))


class RiskPoint(SQLModel, table=True):
    __tablename__ = "risk_points"

    id: uuid.UUID = Field(primary_key=True)
    title: str
    description: str | None = None
    level: str
    process_key: str | None = None
    node_key: str | None = None
    department: str | None = None
    controls: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    owner_department: str
    owner_person: str | None = None
    kpi_keys: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    alert_refs: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    sources: list[str] | None = Field(default=None, sa_column=Column(ARRAY(Text), nullable=True))
    version: int = 1
    created_by: str
    created_at: datetime = _instant()
    updated_at: datetime = _instant()
