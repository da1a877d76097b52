import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ARRAY, Column, DateTime, Interval, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class CommitmentVersion(SQLModel, table=True):
    """One version of a commitment; versions of one commitment share `commitment_key`."""

    __tablename__ = "commitment_versions"

    id: uuid.UUID = Field(primary_key=True)
    commitment_key: str
    version: int
    name: str = ""
    description: str = ""
    kind: str = "duration"
    process_key: str | None = None
    node_key: str | None = None
    service_key: str | None = None
    obligation_key: str | None = None
    segment_key: str
    limit_unit: str
    commitment_limit: timedelta | None = Field(default=None, sa_column=Column(Interval))
    tolerance_limit: timedelta | None = Field(default=None, sa_column=Column(Interval))
    objective: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB(none_as_null=True)))
    calendar_key: str
    allowed_pause_reasons: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))
    owner_department: str | None = None
    owner_position: str | None = None
    prewarning_fraction: float = 0.8
    status: str
    effective_from: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    effective_to: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    status_history: list[dict[str, Any]] = Field(sa_column=Column(JSONB, nullable=False))
    row_version: int = 1
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
