from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class CalendarRow(SQLModel, table=True):
    __tablename__ = "calendars"

    key: str = Field(primary_key=True)
    name: str
    timezone: str
    weekly: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    extra_day_windows: list[Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    builtin: bool = False
    row_version: int = 1
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class CalendarDay(SQLModel, table=True):
    """A date that departs from the weekly pattern: `holiday` (no work) or `working` (extra working day)."""

    __tablename__ = "calendar_days"

    calendar_key: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    kind: str
    label: str | None = None
