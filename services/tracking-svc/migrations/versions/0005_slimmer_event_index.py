"""the raw event log's per-ticket index keys only (ticket_id, node_key)

Every ingested event adds an entry to this index. Its only readers are the history lookup of a chunk
(by ticket, and by ticket and node) and a ticket's raw events (one ticket, sorted in memory), so the
instant and event id in the key only made each entry larger.

Revision ID: tracking_0005
Revises: tracking_0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "tracking_0005"
down_revision: str | None = "tracking_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE INDEX events_ticket_node_key ON events (ticket_id, node_key)")
    op.execute("DROP INDEX events_ticket_node")


def downgrade() -> None:
    op.execute("CREATE INDEX events_ticket_node ON events (ticket_id, node_key, occurred_at, event_id)")
    op.execute("DROP INDEX events_ticket_node_key")
