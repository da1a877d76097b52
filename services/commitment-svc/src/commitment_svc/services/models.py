"""services."""

from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


class ServiceRow(SQLModel, table=True):
    """A configuration item: a service whose availability, samples, occurrences or deliverables are promised."""

    __tablename__ = "services"

    key: str = Field(primary_key=True)
    name: str
    description: str = ""
    customer_ref: str | None = None
    segment_key: str = "default"
    owner_department: str | None = None
    status: str = "active"
    row_version: int = 1
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
