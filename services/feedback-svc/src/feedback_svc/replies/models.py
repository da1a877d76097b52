"""Table model of reply reviews (the HTTP contract is in schemas.py)."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


class ReplyReview(SQLModel, table=True):
    __tablename__ = "reply_reviews"

    id: uuid.UUID = Field(primary_key=True)
    source: str
    reply_ref: str
    complaint_id: uuid.UUID | None = None
    inquiry_ref: str | None = None
    department: str
    process_key: str | None = None
    category: str
    replied_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    accurate: bool
    reviewer: str
    reason: str | None = None
    reviewed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    recorded_by: str
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
