import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class AgreementRow(SQLModel, table=True):
    """One version of an SLA/OLA; versions of one agreement share `key`."""

    __tablename__ = "agreements"

    id: uuid.UUID = Field(primary_key=True)
    key: str
    version: int
    kind: str
    title: str
    provider: str
    customer: str
    scope: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    covers: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    exemptions: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    penalties: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    billing: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    glossary: dict[str, str] = Field(sa_column=Column(JSONB, nullable=False))
    status: str
    history: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    signed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    terminated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    row_version: int = 1
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
