"""read model: reference tables, node runs with deadlines, rollups, alerts, webhooks

Revision ID: evaluation_0002
Revises: evaluation_0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "evaluation_0002"
down_revision: str | None = "evaluation_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLLUP_DIMS = """
    process_key text NOT NULL,
    node_key text NOT NULL,
    segment text NOT NULL,
    department text NOT NULL,
    position text NOT NULL,
    source text NOT NULL,
    commitment_id text NOT NULL,
    commitment_key text NOT NULL,
    exempted boolean NOT NULL,
"""
ROLLUP_KEY = "process_key, node_key, segment, department, position, source, commitment_id, commitment_key, exempted"

UPGRADE = (
    # reference tables: copies of commitment-svc's resources, kept from its feed
    """
    CREATE TABLE ref_departments (
        key text PRIMARY KEY,
        name text NOT NULL,
        parent_key text,
        positions jsonb NOT NULL DEFAULT '[]'
    )
    """,
    "CREATE TABLE ref_segments (key text PRIMARY KEY, name text NOT NULL)",
    """
    CREATE TABLE ref_calendars (
        key text PRIMARY KEY,
        name text NOT NULL,
        timezone text NOT NULL,
        weekly jsonb NOT NULL,
        holidays jsonb NOT NULL DEFAULT '[]',
        extra_working_days jsonb NOT NULL DEFAULT '[]',
        extra_day_windows jsonb,
        version integer NOT NULL DEFAULT 1
    )
    """,
    """
    CREATE TABLE ref_processes (
        key text PRIMARY KEY,
        name text NOT NULL,
        owner_department text,
        nodes jsonb NOT NULL DEFAULT '[]'
    )
    """,
    """
    CREATE TABLE ref_commitments (
        id text PRIMARY KEY,
        commitment_key text NOT NULL,
        version integer NOT NULL,
        process_key text NOT NULL,
        node_key text,
        segment_key text NOT NULL,
        limit_unit text NOT NULL,
        commitment_limit text NOT NULL,
        tolerance_limit text NOT NULL,
        calendar_key text,
        allowed_pause_reasons text[] NOT NULL DEFAULT '{}',
        owner_department text,
        owner_position text,
        prewarning_fraction double precision,
        status text NOT NULL,
        effective_from timestamptz,
        effective_to timestamptz
    )
    """,
    "CREATE INDEX ref_commitments_process ON ref_commitments (process_key)",
    "CREATE INDEX ref_commitments_calendar ON ref_commitments (calendar_key)",
    """
    CREATE TABLE ref_agreements (
        id text PRIMARY KEY,
        key text NOT NULL,
        version integer NOT NULL,
        kind text NOT NULL,
        title text NOT NULL,
        status text NOT NULL,
        payload jsonb NOT NULL
    )
    """,
    # force-majeure windows of signed (or since terminated) agreements: runs touching them are exempted
    """
    CREATE TABLE force_majeure (
        agreement_id text NOT NULL,
        idx integer NOT NULL,
        starts_at timestamptz NOT NULL,
        ends_at timestamptz NOT NULL,
        reason text NOT NULL,
        commitment_keys text[] NOT NULL,
        segments text[] NOT NULL,
        customer_refs text[] NOT NULL,
        PRIMARY KEY (agreement_id, idx)
    )
    """,
    # one row per node run (kind 'node') and per ticket judged end to end (kind 'ticket')
    """
    CREATE TABLE node_runs (
        id text PRIMARY KEY,
        kind text NOT NULL,
        ticket_id text NOT NULL,
        source text NOT NULL,
        external_id text,
        process_key text NOT NULL,
        node_key text,
        segment text NOT NULL,
        customer_ref text,
        cycle integer NOT NULL DEFAULT 1,
        department text,
        position text,
        status text NOT NULL,
        started_at timestamptz,
        completed_at timestamptz,
        cancelled_at timestamptz,
        ended_at timestamptz,
        pauses jsonb NOT NULL DEFAULT '[]',
        commitment_id text,
        commitment_key text,
        prewarning_due_at timestamptz,
        commitment_due_at timestamptz,
        tolerance_due_at timestamptz,
        counted_seconds double precision,
        duration_bucket integer,
        final_state text,
        exempted boolean NOT NULL DEFAULT false,
        alert_level_done smallint NOT NULL DEFAULT 0,
        next_alert_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT node_runs_ended_after_start CHECK (ended_at IS NULL OR ended_at >= started_at)
    )
    """,
    "CREATE INDEX node_runs_ended_at ON node_runs (ended_at) WHERE ended_at IS NOT NULL",
    "CREATE INDEX node_runs_open ON node_runs (process_key) WHERE ended_at IS NULL AND started_at IS NOT NULL",
    # the runs in progress at an instant; covering, so that reports read them from the index alone
    """CREATE INDEX node_runs_active ON node_runs USING gist (tstzrange(started_at, ended_at, '[)'))
       INCLUDE (started_at, ended_at, process_key, node_key, segment, department, position, source, commitment_id,
                commitment_key, commitment_due_at, tolerance_due_at, exempted)
       WHERE started_at IS NOT NULL""",
    "CREATE INDEX node_runs_next_alert ON node_runs (next_alert_at) WHERE next_alert_at IS NOT NULL",
    "CREATE INDEX node_runs_commitment ON node_runs (commitment_key, ended_at)",
    "CREATE INDEX node_runs_unjudged ON node_runs (process_key) WHERE commitment_id IS NULL",
    "CREATE INDEX node_runs_ticket ON node_runs (ticket_id)",
    # rollups of finished runs: counts per UTC hour of the end and final state; durations per UTC day
    f"""
    CREATE TABLE run_state_hourly (
        hour timestamptz NOT NULL,
        {ROLLUP_DIMS}
        state text NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (hour, {ROLLUP_KEY}, state)
    )
    """,
    f"""
    CREATE TABLE run_duration_daily (
        day timestamptz NOT NULL,
        {ROLLUP_DIMS}
        bucket integer NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (day, {ROLLUP_KEY}, bucket)
    )
    """,
    # alerts: one per (node run, cycle, level), whatever the number of scanner replicas
    """
    CREATE TABLE alerts (
        id uuid PRIMARY KEY,
        node_run_id text NOT NULL,
        cycle integer NOT NULL,
        level text NOT NULL,
        ticket_id text NOT NULL,
        kind text NOT NULL,
        process_key text NOT NULL,
        node_key text,
        segment text NOT NULL,
        department text,
        position text,
        source text NOT NULL,
        commitment_id text,
        commitment_key text,
        due_at timestamptz NOT NULL,
        raised_at timestamptz NOT NULL,
        state text NOT NULL DEFAULT 'open',
        acknowledged_at timestamptz,
        acknowledged_by text,
        note text
    )
    """,
    "CREATE UNIQUE INDEX alerts_once ON alerts (node_run_id, cycle, level)",
    "CREATE INDEX alerts_recent ON alerts (raised_at DESC, id)",
    "CREATE INDEX alerts_department ON alerts (department, raised_at DESC)",
    """
    CREATE TABLE webhook_subscriptions (
        id uuid PRIMARY KEY,
        url text NOT NULL,
        description text,
        department text,
        events text[] NOT NULL DEFAULT '{}',
        levels text[] NOT NULL DEFAULT '{}',
        sources text[],
        created_by text NOT NULL DEFAULT '',
        secret text NOT NULL,
        enabled boolean NOT NULL DEFAULT true,
        disabled_reason text,
        consecutive_failures integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE webhook_deliveries (
        id uuid PRIMARY KEY,
        subscription_id uuid NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
        event_type text NOT NULL,
        body text NOT NULL,
        status text NOT NULL DEFAULT 'pending',
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        lease_until timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        delivered_at timestamptz,
        last_status_code integer,
        last_error text
    )
    """,
    """CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
       WHERE status = 'pending'""",
    "CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (subscription_id, created_at DESC)",
    """
    CREATE TABLE webhook_attempts (
        delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
        attempt integer NOT NULL,
        at timestamptz NOT NULL,
        status_code integer,
        error text,
        duration_ms double precision NOT NULL,
        PRIMARY KEY (delivery_id, attempt)
    )
    """,
)

TABLES = (
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_subscriptions",
    "alerts",
    "run_duration_daily",
    "run_state_hourly",
    "node_runs",
    "force_majeure",
    "ref_agreements",
    "ref_commitments",
    "ref_processes",
    "ref_calendars",
    "ref_segments",
    "ref_departments",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TABLE {table}")
