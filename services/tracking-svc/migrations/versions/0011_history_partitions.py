"""history: the event log and node runs partitioned by month; event ids kept unique in a small table

`events` becomes a table partitioned by range on `received_at` (an event is never changed after it is
stored, and arrives in the current month). Its primary key must hold the partition key, so it becomes
(source, event_id, received_at, ticket_id) (with the ticket: the distribution column of the Citus path,
docs/operations.md "Past one Postgres") and no longer says that an event id is stored once: `event_keys`, one plain
(unpartitioned) table keyed by (source, event_id), does, and holds what a duplicate is answered with (payload
hash, ticket, arrival). Ingest writes both in one transaction; retention deletes the keys of the months it
drops.

`node_runs` becomes a table partitioned by range on `recorded_at`, the first instant (UTC) of the month the
run was first recorded, set once and never changed (a run is updated in place by later events). Its keys
become (id, recorded_at, ticket_id) and (ticket_id, node_key, cycle, recorded_at); ingest reads a run's `recorded_at`
from its stored row before writing it, under the lock of its ticket, so a run is never started twice in two
months. Existing runs take the month they started in (else that of their last change). No foreign key names
either table.

Reversible: the downgrade copies every row back into plain tables with the former keys.

Revision ID: tracking_0011
Revises: tracking_0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op
from pledge_common.partitions import convert_sync, unconvert_sync

revision: str = "tracking_0011"
down_revision: str | None = "tracking_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENT_INDEXES = ("CREATE INDEX events_ticket_node_key ON events (ticket_id, node_key)",)
RUN_KEY = (
    "ALTER TABLE node_runs ADD CONSTRAINT node_runs_ticket_id_node_key_cycle_key"
    " UNIQUE (ticket_id, node_key, cycle, recorded_at)",
)
RUN_KEY_DOWN = (
    "ALTER TABLE node_runs ADD CONSTRAINT node_runs_ticket_id_node_key_cycle_key UNIQUE (ticket_id, node_key, cycle)",
)


def upgrade() -> None:
    conn = op.get_bind()
    op.execute(
        """
        CREATE TABLE event_keys (
            source text NOT NULL,
            event_id text NOT NULL,
            ticket_id uuid NOT NULL,
            payload_hash bytea NOT NULL,
            received_at timestamptz NOT NULL,
            PRIMARY KEY (source, event_id)
        )
        """
    )
    op.execute(
        "INSERT INTO event_keys (source, event_id, ticket_id, payload_hash, received_at)"
        " SELECT source, event_id, ticket_id, payload_hash, received_at FROM events"
    )
    op.execute("CREATE INDEX event_keys_received_at ON event_keys (received_at)")
    convert_sync(
        conn,
        "events",
        "received_at",
        primary_key=("source", "event_id", "received_at", "ticket_id"),
        indexes=EVENT_INDEXES,
    )
    convert_sync(
        conn,
        "node_runs",
        "recorded_at",
        primary_key=("id", "recorded_at", "ticket_id"),
        indexes=RUN_KEY,
        new_column="recorded_at timestamptz NOT NULL DEFAULT date_trunc('month', now(), 'UTC')",
        existing_value="date_trunc('month', coalesce(started_at, updated_at), 'UTC')",
    )


def downgrade() -> None:
    conn = op.get_bind()
    unconvert_sync(conn, "node_runs", primary_key=("id",), indexes=RUN_KEY_DOWN, drop_column="recorded_at")
    unconvert_sync(conn, "events", primary_key=("source", "event_id"), indexes=EVENT_INDEXES)
    op.execute("DROP TABLE event_keys")
