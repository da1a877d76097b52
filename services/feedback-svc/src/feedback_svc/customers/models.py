"""Table model of customer events (the HTTP contract is in schemas.py)."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


class CustomerEvent(SQLModel, table=True):
    __tablename__ = "customer_events"

    id: uuid.UUID = Field(primary_key=True)
    source: str
    external_id: str
    customer_ref: str
    type: str
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    plan: str | None = None
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
