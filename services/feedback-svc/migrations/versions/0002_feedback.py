"""feedback (CSAT, NPS) and the cache of evaluation-svc's judgments of feedback tickets

Revision ID: feedback_0002
Revises: feedback_0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "feedback_0002"
down_revision: str | None = "feedback_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE feedback (
            id uuid PRIMARY KEY,
            ticket_id text,
            process_key text NOT NULL,
            segment text,
            customer_ref text,
            channel text NOT NULL,
            csat smallint CHECK (csat BETWEEN 1 AND 5),
            nps smallint CHECK (nps BETWEEN 0 AND 10),
            comment text,
            given_at timestamptz NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT feedback_has_a_score CHECK (csat IS NOT NULL OR nps IS NOT NULL)
        )
        """
    )
    op.execute("CREATE UNIQUE INDEX feedback_one_per_ticket_channel ON feedback (ticket_id, channel)")
    op.execute("CREATE INDEX feedback_process_given ON feedback (process_key, given_at)")
    op.execute("CREATE INDEX feedback_given ON feedback (given_at)")
    # the nodes (and their departments) a ticket's feedback is attributed to, copied from tracking
    op.execute(
        """
        CREATE TABLE feedback_nodes (
            feedback_id uuid NOT NULL REFERENCES feedback (id) ON DELETE CASCADE,
            node_key text NOT NULL,
            department text,
            PRIMARY KEY (feedback_id, node_key)
        )
        """
    )
    # evaluation-svc's judgment of each node run of a ticket that has feedback; final ones are kept,
    # in-progress ones are fetched again
    op.execute(
        """
        CREATE TABLE ticket_judgments (
            ticket_id text NOT NULL,
            node_key text NOT NULL,
            cycle integer NOT NULL,
            state text NOT NULL,
            counted_seconds double precision,
            commitment_seconds double precision,
            tolerance_seconds double precision,
            department text,
            final boolean NOT NULL,
            fetched_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (ticket_id, node_key, cycle)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE ticket_judgments")
    op.execute("DROP TABLE feedback_nodes")
    op.execute("DROP TABLE feedback")
