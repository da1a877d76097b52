"""Scorecards per customer segment: a closed month's values are frozen per segment (none: the department as a
whole)

Revision ID: evaluation_0018
Revises: evaluation_0017
Create Date: 2026-12-03

docs/kpis.md.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "evaluation_0018"
down_revision: str | None = "evaluation_0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = (
    # '' is the department-wide scorecard (no segment), so the key stays NOT NULL
    "ALTER TABLE scorecard_snapshots ADD COLUMN segment text NOT NULL DEFAULT ''",
    "ALTER TABLE scorecard_snapshots DROP CONSTRAINT scorecard_snapshots_pkey",
    "ALTER TABLE scorecard_snapshots ADD PRIMARY KEY (period, segment)",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DELETE FROM scorecard_snapshots WHERE segment <> ''")
    op.execute("ALTER TABLE scorecard_snapshots DROP CONSTRAINT scorecard_snapshots_pkey")
    op.execute("ALTER TABLE scorecard_snapshots DROP COLUMN segment")
    op.execute("ALTER TABLE scorecard_snapshots ADD PRIMARY KEY (period)")
