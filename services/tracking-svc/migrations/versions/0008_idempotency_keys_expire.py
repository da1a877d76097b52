"""idempotency keys of `pledge_common.idempotency`: per caller (kind and id), any POST, expiring

Revision ID: tracking_0008
Revises: tracking_0007
Create Date: 2026-12-03

The table bulk ingest kept never expired and was keyed by the caller's id alone. It is replaced by the shared
shape (answer text, kept headers, expiry). Answers stored before are dropped rather than converted (their
callers' kind is not known): a bulk request retried across the upgrade is processed again, and its events are
answered as duplicates by their event ids, so nothing is written twice.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "tracking_0008"
down_revision: str | None = "tracking_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = [
    "DROP TABLE idempotency_keys",
    """
    CREATE TABLE idempotency_keys (
        caller text NOT NULL,
        key text NOT NULL,
        request_hash bytea NOT NULL,
        status_code integer NOT NULL,
        response_body text NOT NULL,
        response_headers jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (caller, key),
        CONSTRAINT idempotency_keys_expire_after_creation CHECK (expires_at > created_at)
    )
    """,
    "CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at)",
]
DOWNGRADE = [
    "DROP TABLE idempotency_keys",
    """
    CREATE TABLE idempotency_keys (
        caller text NOT NULL,
        key text NOT NULL,
        request_hash bytea NOT NULL,
        status_code integer NOT NULL,
        response jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (caller, key)
    )
    """,
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
