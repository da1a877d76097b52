"""complaint metric snapshots: the figures of a closed period as first read after its close

Revision ID: feedback_0010
Revises: feedback_0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "feedback_0010"
down_revision: str | None = "feedback_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE complaint_metric_snapshots (
            key text PRIMARY KEY,
            params jsonb NOT NULL,
            taken_at timestamptz NOT NULL,
            body jsonb NOT NULL
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE complaint_metric_snapshots")
