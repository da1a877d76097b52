"""practices: the knowledge base of what works, searchable by a normalised text column

Revision ID: feedback_0009
Revises: feedback_0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "feedback_0009"
down_revision: str | None = "feedback_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = [
    """
    CREATE TABLE practices (
        id uuid PRIMARY KEY,
        title text NOT NULL,
        body text NOT NULL,
        tags text[] NOT NULL DEFAULT '{}',
        process_keys text[] NOT NULL DEFAULT '{}',
        node_keys text[] NOT NULL DEFAULT '{}',
        root_causes text[] NOT NULL DEFAULT '{}',
        action_id uuid UNIQUE REFERENCES corrective_actions (id),
        figures jsonb,
        search_text text NOT NULL,
        sources text[],
        created_by text NOT NULL,
        created_at timestamptz NOT NULL
    )
    """,
    "CREATE INDEX practices_created ON practices (created_at DESC, id DESC)",
    "CREATE INDEX practices_root_causes ON practices USING gin (root_causes)",
    "CREATE INDEX practices_node_keys ON practices USING gin (node_keys)",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE practices")
