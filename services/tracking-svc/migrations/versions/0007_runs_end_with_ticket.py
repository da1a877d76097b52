"""node runs ended by their ticket; a ticket carries its node runs' pauses

`node_runs.ended_by_ticket`: the run was ended by its ticket's close or cancellation, not by an event of its
node. `tickets.pauses`: the pauses of all the ticket's node runs (node, cycle, start, end, reason), put on
the feed with the ticket so that its end-to-end run is judged with them; filled here from the runs.

Revision ID: tracking_0007
Revises: tracking_0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "tracking_0007"
down_revision: str | None = "tracking_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE node_runs ADD COLUMN ended_by_ticket boolean NOT NULL DEFAULT false")
    op.execute("ALTER TABLE tickets ADD COLUMN pauses jsonb NOT NULL DEFAULT '[]'")
    op.execute(
        """
        UPDATE tickets t SET pauses = p.pauses
        FROM (SELECT r.ticket_id,
                     jsonb_agg(jsonb_build_object('node_key', r.node_key, 'cycle', r.cycle) || e
                               ORDER BY (e->>'start')::timestamptz, r.node_key, r.cycle) AS pauses
              FROM node_runs r CROSS JOIN LATERAL jsonb_array_elements(r.pauses) AS e
              GROUP BY r.ticket_id) AS p
        WHERE t.id = p.ticket_id
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE tickets DROP COLUMN pauses")
    op.execute("ALTER TABLE node_runs DROP COLUMN ended_by_ticket")
