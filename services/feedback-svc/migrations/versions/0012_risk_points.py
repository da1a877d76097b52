"""risk points: the service-collaboration risk points of a process, node or department, with controls

Revision ID: feedback_0012
Revises: feedback_0011
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "feedback_0012"
down_revision: str | None = "feedback_0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = [
    """
    CREATE TABLE risk_points (
        id uuid PRIMARY KEY,
        title text NOT NULL,
        description text,
        level text NOT NULL CHECK (level IN ('low', 'medium', 'high')),
        process_key text,
        node_key text,
        department text,
        controls jsonb NOT NULL,
        owner_department text NOT NULL,
        owner_person text,
        kpi_keys text[] NOT NULL DEFAULT '{}',
        alert_refs text[] NOT NULL DEFAULT '{}',
        sources text[],
        version integer NOT NULL DEFAULT 1,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CONSTRAINT risk_points_placed CHECK (process_key IS NOT NULL OR department IS NOT NULL),
        CONSTRAINT risk_points_node_of_process CHECK (node_key IS NULL OR process_key IS NOT NULL)
    )
    """,
    "CREATE INDEX risk_points_created ON risk_points (created_at DESC, id DESC)",
    "CREATE INDEX risk_points_kpis ON risk_points USING gin (kpi_keys)",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE risk_points")
