"""node runs ended by their ticket; a ticket carries its node runs' pauses

`node_runs.ended_by_ticket`: the run was ended by its ticket's close or cancellation, not by an event of its
node. `tickets.pauses`: the pauses of all the ticket's node runs (node, cycle, start, end, reason), put on
the feed with the ticket so that its end-to-end run is judged with them; filled here from the runs. Runs left
open on tickets already ended are ended by them here (both changes go on the feed).

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


# Runs left open on a ticket already closed or cancelled end with it (at its end, or at their start when that
# came later; an open pause ends there too), and go on the feed, in the shape `ingest.repository` gives them.
_END_OPEN_RUNS = """
WITH ended AS (
    UPDATE node_runs r SET
        status = CASE t.status WHEN 'closed' THEN 'completed' ELSE 'cancelled' END,
        completed_at = CASE t.status WHEN 'closed' THEN greatest(t.closed_at, r.started_at) END,
        cancelled_at = CASE t.status WHEN 'cancelled' THEN greatest(t.cancelled_at, r.started_at) END,
        pauses = (
            SELECT coalesce(jsonb_agg(
                       CASE WHEN p.e->>'end' IS NULL
                            THEN jsonb_set(p.e, '{end}', to_jsonb(greatest(coalesce(t.closed_at, t.cancelled_at),
                                                                           r.started_at, (p.e->>'start')::timestamptz)))
                            ELSE p.e END ORDER BY p.i), '[]')
            FROM jsonb_array_elements(r.pauses) WITH ORDINALITY AS p(e, i)),
        ended_by_ticket = true,
        updated_at = now()
    FROM tickets t
    WHERE t.id = r.ticket_id AND t.status IN ('closed', 'cancelled') AND r.status IN ('pending', 'in_progress')
    RETURNING r.id, r.ticket_id, t.source, t.external_id, t.process_key, r.node_key, t.segment, t.customer_ref,
              r.cycle, r.department, r.position, r.status, r.started_at, r.completed_at, r.cancelled_at, r.pauses,
              r.ended_by_ticket
)
INSERT INTO outbox (type, key, payload)
SELECT 'node_run.upserted', e.id::text, to_json(e) FROM ended e ORDER BY e.ticket_id, e.node_key, e.cycle
"""
# Each ticket with pauses carries them, and goes on the feed so that its end-to-end run is judged with them.
_TICKET_PAUSES = """
WITH changed AS (
    UPDATE tickets t SET pauses = p.pauses
    FROM (SELECT r.ticket_id,
                 jsonb_agg(jsonb_build_object('node_key', r.node_key, 'cycle', r.cycle) || e
                           ORDER BY (e->>'start')::timestamptz, r.node_key, r.cycle) AS pauses
          FROM node_runs r CROSS JOIN LATERAL jsonb_array_elements(r.pauses) AS e
          GROUP BY r.ticket_id) AS p
    WHERE t.id = p.ticket_id
    RETURNING t.id, t.source, t.external_id, t.process_key, t.customer_ref, t.segment, t.status, t.opened_at,
              t.closed_at, t.cancelled_at, t.attributes, t.pauses
)
INSERT INTO outbox (type, key, payload)
SELECT 'ticket.upserted', c.id::text, to_json(c) FROM changed c ORDER BY c.id
"""


def upgrade() -> None:
    op.execute("SET LOCAL TimeZone = 'UTC'")  # instants in payloads as the feed writes them
    op.execute("ALTER TABLE node_runs ADD COLUMN ended_by_ticket boolean NOT NULL DEFAULT false")
    op.execute("ALTER TABLE tickets ADD COLUMN pauses jsonb NOT NULL DEFAULT '[]'")
    op.execute(_END_OPEN_RUNS)
    op.execute(_TICKET_PAUSES)


def downgrade() -> None:
    op.execute("ALTER TABLE tickets DROP COLUMN pauses")
    op.execute("ALTER TABLE node_runs DROP COLUMN ended_by_ticket")
