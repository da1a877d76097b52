"""customer events: joined, left, plan changed; sent once per (source, external_id)

Revision ID: feedback_0013
Revises: feedback_0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "feedback_0013"
down_revision: str | None = "feedback_0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = [
    """
    CREATE TABLE customer_events (
        id uuid PRIMARY KEY,
        source text NOT NULL,
        external_id text NOT NULL,
        customer_ref text NOT NULL,
        type text NOT NULL CHECK (type IN ('joined', 'left', 'plan_changed')),
        at timestamptz NOT NULL,
        plan text,
        created_at timestamptz NOT NULL,
        UNIQUE (source, external_id)
    )
    """,
    "CREATE INDEX customer_events_customer_at ON customer_events (customer_ref, at)",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE customer_events")
