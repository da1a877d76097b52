"""Table models of feedback (the HTTP contract is in schemas.py)."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


class Feedback(SQLModel, table=True):
    __tablename__ = "feedback"

    id: uuid.UUID = Field(primary_key=True)
    ticket_id: str | None = None
    process_key: str
    segment: str | None = None
    customer_ref: str | None = None
    source: str | None = None  # the source system of the ticket (None without a ticket)
    channel: str
    csat: int | None = None
    nps: int | None = None
    comment: str | None = None
    given_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class FeedbackNode(SQLModel, table=True):
    __tablename__ = "feedback_nodes"

    feedback_id: uuid.UUID = Field(primary_key=True, foreign_key="feedback.id")
    node_key: str = Field(primary_key=True)
    department: str | None = None
