"""Table models of complaints (the HTTP contract is in schemas.py)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


def _instant(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


class Complaint(SQLModel, table=True):
    __tablename__ = "complaints"

    id: uuid.UUID = Field(primary_key=True)
    channel: str
    customer_ref: str
    ticket_id: str | None = None
    source: str | None = None  # the source system of that ticket (None without a ticket)
    process_key: str | None = None
    node_key: str | None = None  # the process node it is attributed to
    category: str
    severity: str
    description: str
    status: str
    received_at: datetime = _instant()
    received_by_department: str
    received_by_person: str | None = None
    owner_department: str
    owner_person: str | None = None
    resolution: str | None = None
    root_cause: str | None = None
    acknowledged_at: datetime | None = _instant(nullable=True)
    resolved_at: datetime | None = _instant(nullable=True)
    closed_at: datetime | None = _instant(nullable=True)
    customer_confirmed: bool | None = None
    customer_confirmation_note: str | None = None
    repeat_of: uuid.UUID | None = None
    tracking_ticket_id: str | None = None
    intake_ticket_id: str | None = None  # made from this source system's complaint ticket (tracking's id)
    transfers: int = 0
    reopens: int = 0
    investigated: bool = False
    transition_count: int = 0
    created_at: datetime = _instant()
    updated_at: datetime = _instant()


class ComplaintTransition(SQLModel, table=True):
    __tablename__ = "complaint_transitions"

    complaint_id: uuid.UUID = Field(primary_key=True, foreign_key="complaints.id")
    seq: int = Field(primary_key=True)
    from_status: str | None
    to_status: str
    at: datetime = _instant()
    by: str
    reason: str | None = None


class ComplaintOwner(SQLModel, table=True):
    __tablename__ = "complaint_owners"

    complaint_id: uuid.UUID = Field(primary_key=True, foreign_key="complaints.id")
    seq: int = Field(primary_key=True)
    department: str
    person: str | None = None
    since: datetime = _instant()
    until: datetime | None = _instant(nullable=True)
    assigned_by: str
    reason: str | None = None


class TrackingCommand(SQLModel, table=True):
    __tablename__ = "tracking_commands"

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: uuid.UUID = Field(foreign_key="complaints.id")
    event_id: str
    payload: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = _instant(nullable=True)
    last_error: str | None = None
    created_at: datetime | None = _instant(nullable=True)
    delivered_at: datetime | None = _instant(nullable=True)
