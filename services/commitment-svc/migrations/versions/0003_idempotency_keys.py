"""idempotency keys: the first answer to a creating request, per caller and key, until it expires

Revision ID: commitment_0003
Revises: commitment_0002
Create Date: 2026-11-22

The answer is kept as the exact JSON text that was sent (not jsonb, which would reorder its keys), so a
replay is byte for byte the first answer.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "commitment_0003"
down_revision: str | None = "commitment_0002"
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
