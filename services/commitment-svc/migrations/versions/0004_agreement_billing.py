"""agreement billing: the period an agreement is settled by, its base fee and its cap on credits

Revision ID: commitment_0004
Revises: commitment_0003
Create Date: 2026-12-03

Existing agreements are billed monthly in UTC, without a fee or a cap (`{}` reads as those defaults).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "commitment_0004"
down_revision: str | None = "commitment_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE agreements ADD COLUMN billing jsonb NOT NULL DEFAULT '{}'::jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE agreements DROP COLUMN billing")
