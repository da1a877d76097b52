"""rejudgements: the audited acts that re-judged runs under a back-dated commitment version

Revision ID: evaluation_0008
Revises: evaluation_0007
Create Date: 2026-12-03

One row per act (who asked, when, which version from which instant) and one row per run it re-judged,
with the run's governing version and state before and after. Written in the transaction that re-judges.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "evaluation_0008"
down_revision: str | None = "evaluation_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = (
    """
    CREATE TABLE rejudgements (
        id text PRIMARY KEY,
        commitment_key text NOT NULL,
        version_id text NOT NULL,
        version integer NOT NULL,
        effective_from timestamptz NOT NULL,
        requested_by text NOT NULL,
        requested_at timestamptz NOT NULL,
        reason text,
        runs_expected integer NOT NULL,
        runs integer NOT NULL,
        applied_at timestamptz NOT NULL
    )
    """,
    "CREATE INDEX rejudgements_by_commitment ON rejudgements (commitment_key, requested_at DESC, id)",
    "CREATE INDEX rejudgements_by_time ON rejudgements (requested_at DESC, id)",
    """
    CREATE TABLE rejudged_runs (
        rejudgement_id text NOT NULL REFERENCES rejudgements (id) ON DELETE CASCADE,
        run_id text NOT NULL,
        kind text NOT NULL,
        ticket_id text NOT NULL,
        source text NOT NULL,
        external_id text,
        process_key text NOT NULL,
        node_key text,
        segment text NOT NULL,
        started_at timestamptz NOT NULL,
        ended_at timestamptz,
        before_commitment_key text,
        before_version integer,
        before_state text,
        before_counted_seconds double precision,
        after_commitment_key text,
        after_version integer,
        after_state text,
        after_counted_seconds double precision,
        PRIMARY KEY (rejudgement_id, run_id)
    )
    """,
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE rejudged_runs")
    op.execute("DROP TABLE rejudgements")
