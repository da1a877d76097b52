"""KPI targets per KPI, department (and segment) and month, and the frozen scorecards of closed months

Revision ID: evaluation_0015
Revises: evaluation_0014
Create Date: 2026-12-03

docs/kpis.md.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "evaluation_0015"
down_revision: str | None = "evaluation_0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = (
    """
    CREATE TABLE kpi_targets (
        id uuid PRIMARY KEY,
        kpi text NOT NULL,
        department text NOT NULL,
        segment text,
        period text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
        target double precision NOT NULL,
        created_by text,
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    # one target per KPI, department, segment (none: the department as a whole) and month
    "CREATE UNIQUE INDEX kpi_targets_one ON kpi_targets (kpi, department, coalesce(segment, ''), period)",
    "CREATE INDEX kpi_targets_period ON kpi_targets (period, department, kpi, id)",
    """
    CREATE TABLE scorecard_snapshots (
        period text PRIMARY KEY,
        values jsonb NOT NULL,
        frozen_at timestamptz NOT NULL
    )
    """,
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE scorecard_snapshots")
    op.execute("DROP TABLE kpi_targets")
