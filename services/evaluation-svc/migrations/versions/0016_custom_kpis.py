"""Custom KPIs: a ratio or an average of a filtered population of runs, defined by API and versioned

Revision ID: evaluation_0016
Revises: evaluation_0015
Create Date: 2026-12-03

docs/kpis.md "Custom KPIs". A version is never changed; a month is computed with the version in force at its
start (the highest version whose `effective_from` is not after the month).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "evaluation_0016"
down_revision: str | None = "evaluation_0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = (
    """
    CREATE TABLE custom_kpis (
        key text NOT NULL,
        version integer NOT NULL CHECK (version >= 1),
        name text NOT NULL,
        unit text NOT NULL,
        direction text NOT NULL,
        kind text NOT NULL,
        definition jsonb NOT NULL,
        effective_from text NOT NULL CHECK (effective_from ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
        created_by text,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (key, version)
    )
    """,
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE custom_kpis")
