"""the source system of the ticket a feedback or complaint is about (what callers bound to sources may see)

Revision ID: feedback_0006
Revises: feedback_0005
Create Date: 2026-11-22

Filled when a feedback or complaint names a ticket. Rows written before, and rows without a ticket, stay
NULL: only callers not bound to source systems see them.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "feedback_0006"
down_revision: str | None = "feedback_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE feedback ADD COLUMN source text")
    op.execute("ALTER TABLE complaints ADD COLUMN source text")
    op.execute("CREATE INDEX feedback_source_given ON feedback (source, given_at) WHERE source IS NOT NULL")
    op.execute("CREATE INDEX complaints_source_received ON complaints (source, received_at) WHERE source IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP INDEX complaints_source_received")
    op.execute("DROP INDEX feedback_source_given")
    op.execute("ALTER TABLE complaints DROP COLUMN source")
    op.execute("ALTER TABLE feedback DROP COLUMN source")
