"""settlements: one record per agreement and billing period, draft then approved (frozen)

Revision ID: evaluation_0006
Revises: evaluation_0005
Create Date: 2026-12-03

`document` is the settlement as answered (charges, pending runs, adjustments, satisfaction, totals); an
approved row is never written again.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "evaluation_0006"
down_revision: str | None = "evaluation_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE settlements (
            agreement_key text NOT NULL,
            period_start timestamptz NOT NULL,
            period_end timestamptz NOT NULL,
            period text NOT NULL,
            agreement_id text NOT NULL,
            status text NOT NULL CHECK (status IN ('draft', 'approved')),
            currency text,
            credits numeric(16, 2) NOT NULL,
            document jsonb NOT NULL,
            drafted_at timestamptz NOT NULL,
            drafted_by text NOT NULL,
            approved_at timestamptz,
            approved_by text,
            PRIMARY KEY (agreement_key, period_start),
            CONSTRAINT settlements_approved_who_when CHECK ((status = 'approved') = (approved_at IS NOT NULL))
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE settlements")
