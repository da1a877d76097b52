"""corrective actions with links to what caused them and a transition history

Revision ID: feedback_0005
Revises: feedback_0004
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "feedback_0005"
down_revision: str | None = "feedback_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE corrective_actions (
            id uuid PRIMARY KEY,
            title text NOT NULL,
            description text NOT NULL,
            owner_department text NOT NULL,
            due_date date NOT NULL,
            status text NOT NULL CHECK (status IN ('open', 'in_progress', 'done', 'verified')),
            process_key text,
            node_key text,
            effectiveness_weeks integer NOT NULL DEFAULT 4 CHECK (effectiveness_weeks BETWEEN 1 AND 52),
            started_at timestamptz,
            done_at timestamptz,
            verified_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE INDEX corrective_actions_open_due ON corrective_actions (due_date)
        WHERE status IN ('open', 'in_progress')
        """
    )
    op.execute(
        """
        CREATE TABLE corrective_action_links (
            action_id uuid NOT NULL REFERENCES corrective_actions (id) ON DELETE CASCADE,
            kind text NOT NULL CHECK (kind IN ('complaint', 'recommendation', 'survey_gap')),
            ref text NOT NULL,
            PRIMARY KEY (action_id, kind, ref)
        )
        """
    )
    op.execute("CREATE INDEX corrective_action_links_ref ON corrective_action_links (kind, ref)")
    op.execute(
        """
        CREATE TABLE corrective_action_transitions (
            action_id uuid NOT NULL REFERENCES corrective_actions (id) ON DELETE CASCADE,
            seq integer NOT NULL,
            from_status text,
            to_status text NOT NULL,
            at timestamptz NOT NULL,
            by text NOT NULL,
            note text,
            PRIMARY KEY (action_id, seq)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE corrective_action_transitions")
    op.execute("DROP TABLE corrective_action_links")
    op.execute("DROP TABLE corrective_actions")
