"""idempotency keys: the first answer to a POST with an Idempotency-Key, per caller and key, until it expires

Revision ID: gateway_0005_idempotency_keys
Revises: gateway_0004_api_key_owner
Create Date: 2026-12-03

The table of `pledge_common.idempotency` (the DDL is written out here, not imported: a migration does not change
when the library does).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "gateway_0005_idempotency_keys"
down_revision: str | None = "gateway_0004_api_key_owner"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = [
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


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE idempotency_keys")
