"""corrective actions and survey responses bound to the sources of the caller who wrote them

Revision ID: feedback_0007
Revises: feedback_0006
Create Date: 2026-12-03

Neither names a ticket, so the sources are the writer's: a partner bound to source systems sees the actions it
opened and the SERVQUAL results of the responses it sent. Rows written before, and rows written by callers bound
to no source, stay NULL: only callers bound to no source see them.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "feedback_0007"
down_revision: str | None = "feedback_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE corrective_actions ADD COLUMN sources text[]")
    op.execute("ALTER TABLE survey_responses ADD COLUMN sources text[]")


def downgrade() -> None:
    op.execute("ALTER TABLE survey_responses DROP COLUMN sources")
    op.execute("ALTER TABLE corrective_actions DROP COLUMN sources")
