"""complaints of source systems' complaint tickets: one complaint per tracking ticket

Revision ID: feedback_0011
Revises: feedback_0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "feedback_0011"
down_revision: str | None = "feedback_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # tracking's id of the source system's complaint ticket the complaint was made from (null otherwise)
    op.execute("ALTER TABLE complaints ADD COLUMN intake_ticket_id text")
    op.execute(
        "CREATE UNIQUE INDEX complaints_intake_ticket ON complaints (intake_ticket_id)"
        " WHERE intake_ticket_id IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE complaints DROP COLUMN intake_ticket_id")
