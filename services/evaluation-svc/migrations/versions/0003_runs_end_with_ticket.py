"""node runs ended by their ticket

`node_runs.ended_by_ticket`: tracking-svc says the run was ended by its ticket's close or cancellation,
not by an event of its node (a data-quality count: how often a source skips a node's completion).

Revision ID: evaluation_0003
Revises: evaluation_0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "evaluation_0003"
down_revision: str | None = "evaluation_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE node_runs ADD COLUMN ended_by_ticket boolean NOT NULL DEFAULT false")


def downgrade() -> None:
    op.execute("ALTER TABLE node_runs DROP COLUMN ended_by_ticket")
