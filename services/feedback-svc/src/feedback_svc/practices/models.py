"""Table model of practices (the HTTP contract is in schemas.py)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel


def _texts() -> Any:
    return Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))


class Practice(SQLModel, table=True):
    __tablename__ = "practices"

    id: uuid.UUID = Field(primary_key=True)
    title: str
    body: str
    tags: list[str] = _texts()
    process_keys: list[str] = _texts()
    node_keys: list[str] = _texts()
    root_causes: list[str] = _texts()
    action_id: uuid.UUID | None = None
    figures: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    search_text: str
    sources: list[str] | None = Field(default=None, sa_column=Column(ARRAY(Text), nullable=True))
    created_by: str
    created_at: datetime = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=False))
