"""tickets, node runs, the raw event log, the copy of commitment's catalogue, idempotency keys

Revision ID: tracking_0002
Revises: tracking_0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "tracking_0002"
down_revision: str | None = "tracking_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATEMENTS = (
    # Instants on the feed and in stored JSON: ISO 8601, UTC, always with microseconds and "+00:00",
    # independent of the session's TimeZone setting (Python writes the same format).
    """
    CREATE FUNCTION iso_utc(ts timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
    $$ SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') $$
    """,
    # This service's copy of commitment-svc's processes, nodes and segments (fed by its feed).
    """
    CREATE TABLE known_processes (
        key text PRIMARY KEY,
        name text NOT NULL DEFAULT '',
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE known_nodes (
        process_key text NOT NULL REFERENCES known_processes (key) ON DELETE CASCADE,
        node_key text NOT NULL,
        name text NOT NULL DEFAULT '',
        position integer NOT NULL DEFAULT 0,
        department text,
        position_key text,
        PRIMARY KEY (process_key, node_key)
    )
    """,
    """
    CREATE TABLE known_segments (
        key text PRIMARY KEY,
        name text NOT NULL DEFAULT '',
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE tickets (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        source text NOT NULL,
        external_id text NOT NULL,
        process_key text NOT NULL,
        customer_ref text,
        segment text,
        attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
        customer_ref_version text NOT NULL DEFAULT '',
        segment_version text NOT NULL DEFAULT '',
        attributes_version text NOT NULL DEFAULT '',
        status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'cancelled')),
        opened_at timestamptz,
        closed_at timestamptz,
        cancelled_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (source, external_id)
    )
    """,
    "CREATE INDEX tickets_process_seq ON tickets (process_key, seq)",
    "CREATE INDEX tickets_opened_at ON tickets (opened_at)",
    "CREATE INDEX tickets_customer_ref ON tickets (customer_ref) WHERE customer_ref IS NOT NULL",
    """
    CREATE TABLE node_runs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        ticket_id uuid NOT NULL,
        node_key text NOT NULL,
        cycle integer NOT NULL CHECK (cycle >= 1),
        status text NOT NULL CHECK (status IN ('pending', 'in_progress', 'completed', 'cancelled')),
        started_at timestamptz,
        completed_at timestamptz,
        cancelled_at timestamptz,
        pauses jsonb NOT NULL DEFAULT '[]'::jsonb,
        department text,
        position text,
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (ticket_id, node_key, cycle)
    )
    """,
    # No foreign keys to tickets on the two big tables: the ingest path writes the ticket first in the same
    # transaction, and a per-row FK trigger would cost a large share of bulk-ingest throughput.
    # The raw event log: every accepted event as received (normalised JSON), with arrival time and request id.
    """
    CREATE TABLE events (
        source text NOT NULL,
        event_id text NOT NULL,
        ticket_id uuid NOT NULL,
        type text NOT NULL,
        occurred_at timestamptz NOT NULL,
        node_key text,
        reason text,
        department text,
        position text,
        payload_hash bytea NOT NULL,
        body jsonb NOT NULL,
        received_at timestamptz NOT NULL,
        request_id text,
        PRIMARY KEY (source, event_id)
    )
    """,
    "CREATE INDEX events_ticket_node ON events (ticket_id, node_key, occurred_at, event_id)",
    """
    CREATE TABLE idempotency_keys (
        caller text NOT NULL,
        key text NOT NULL,
        request_hash bytea NOT NULL,
        status_code integer NOT NULL,
        response jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (caller, key)
    )
    """,
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("idempotency_keys", "events", "node_runs", "tickets", "known_segments", "known_nodes"):
        op.execute(f"DROP TABLE {table}")
    op.execute("DROP TABLE known_processes")
    op.execute("DROP FUNCTION iso_utc(timestamptz)")
