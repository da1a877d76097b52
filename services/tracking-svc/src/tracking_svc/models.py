"""Table models (the storage; never the HTTP contract — see the schemas modules). Migrations create them."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Column, LargeBinary
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class Ticket(SQLModel, table=True):
    __tablename__ = "tickets"

    id: UUID = Field(primary_key=True)
    seq: int
    source: str
    external_id: str
    process_key: str
    customer_ref: str | None = None
    segment: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    customer_ref_version: str = ""
    segment_version: str = ""
    attributes_version: str = ""
    status: str = "open"
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None
    pauses: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    created_at: datetime
    updated_at: datetime


class NodeRun(SQLModel, table=True):
    __tablename__ = "node_runs"

    id: UUID = Field(primary_key=True)
    ticket_id: UUID
    node_key: str
    cycle: int
    status: str
    started_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    pauses: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    department: str | None = None
    position: str | None = None
    ended_by_ticket: bool = False
    updated_at: datetime


class Event(SQLModel, table=True):
    """The raw event log: every accepted event as received."""

    __tablename__ = "events"

    source: str = Field(primary_key=True)
    event_id: str = Field(primary_key=True)
    ticket_id: UUID
    type: str
    occurred_at: datetime
    node_key: str | None = None
    reason: str | None = None
    department: str | None = None
    position: str | None = None
    payload_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))  # text: read whole, never queried into
    received_at: datetime
    request_id: str | None = None


class KnownNode(SQLModel, table=True):
    __tablename__ = "known_nodes"

    process_key: str = Field(primary_key=True)
    node_key: str = Field(primary_key=True)
    name: str = ""
    position: int = 0
    department: str | None = None
    position_key: str | None = None
