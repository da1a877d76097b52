"""Table model of API keys (never the HTTP contract: see schemas.py)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, LargeBinary, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlmodel import Field, SQLModel


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), primary_key=True))
    name: str = Field(sa_column=Column(Text, nullable=False))
    prefix: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    secret_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    salt: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    scopes: list[str] = Field(sa_column=Column(ARRAY(Text), nullable=False))
    sources: list[str] | None = Field(default=None, sa_column=Column(ARRAY(Text), nullable=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_by: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    expires_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    replaced_by: uuid.UUID | None = Field(default=None, sa_column=Column(UUID(as_uuid=True), nullable=True))
    # the id of the first key of this key's rotation chain: what the key's holder owns elsewhere (webhooks)
    # belongs to it, so a rotation keeps it
    owner_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    # bucket name -> {"rate": float, "burst": int}: this key's own limit for that bucket (see ratelimit.py)
    rate_limits: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
