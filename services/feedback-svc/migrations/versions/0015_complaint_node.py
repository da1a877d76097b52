"""complaint node: the process node a complaint is attributed to (breakdowns and Pareto by node)

Revision ID: feedback_0015
Revises: feedback_0014
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "feedback_0015"
down_revision: str | None = "feedback_0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a node belongs to a process: attributed only together with one
    op.execute(
        "ALTER TABLE complaints ADD COLUMN node_key text,"
        " ADD CONSTRAINT complaints_node_has_process CHECK (node_key IS NULL OR process_key IS NOT NULL)"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE complaints DROP CONSTRAINT complaints_node_has_process, DROP COLUMN node_key")
