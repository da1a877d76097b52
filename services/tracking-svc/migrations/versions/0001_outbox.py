"""outbox and consumer cursors

Revision ID: tracking_0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op
from pledge_common.outbox import CONSUMER_CURSOR_DDL, OUTBOX_DDL

revision: str = "tracking_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in (*OUTBOX_DDL, *CONSUMER_CURSOR_DDL):
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE consumer_cursors")
    op.execute("DROP TABLE outbox")
