"""observability: the outbox keeps the W3C trace context of the transaction that wrote each event

A consumer's span links to the producer's (pledge_common.tracing). Existing rows keep a null traceparent; a
nullable column without a default: adding it rewrites nothing.

Revision ID: feedback_0016
Revises: feedback_0015
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op
from pledge_common.outbox import OUTBOX_TRACE_DDL, OUTBOX_TRACE_DOWN

revision: str = "feedback_0016"
down_revision: str | None = "feedback_0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in OUTBOX_TRACE_DDL:
        op.execute(statement)


def downgrade() -> None:
    for statement in OUTBOX_TRACE_DOWN:
        op.execute(statement)
