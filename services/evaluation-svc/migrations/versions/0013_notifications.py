"""notifications to people: contacts, channels, routing rules, the message log, escalations

Revision ID: evaluation_0013
Revises: evaluation_0012
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "evaluation_0013"
down_revision: str | None = "evaluation_0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = (
    """
    CREATE TABLE notify_contacts (
        id uuid PRIMARY KEY,
        department text NOT NULL,
        position text,
        name text NOT NULL,
        email text,
        chat_handle text,
        language text NOT NULL DEFAULT 'zh' CHECK (language IN ('zh', 'en')),
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX notify_contacts_department ON notify_contacts (department, position)",
    """
    CREATE TABLE notify_channels (
        id uuid PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('email', 'wecom', 'dingtalk', 'feishu', 'slack', 'teams', 'webhook')),
        name text NOT NULL,
        url text,
        secret text,
        language text NOT NULL DEFAULT 'zh' CHECK (language IN ('zh', 'en')),
        enabled boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((kind = 'email') = (url IS NULL))
    )
    """,
    """
    CREATE TABLE notify_rules (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        departments text[] NOT NULL DEFAULT '{}',
        positions text[] NOT NULL DEFAULT '{}',
        processes text[] NOT NULL DEFAULT '{}',
        nodes text[] NOT NULL DEFAULT '{}',
        segments text[] NOT NULL DEFAULT '{}',
        levels text[] NOT NULL DEFAULT '{}',
        channel_ids uuid[] NOT NULL,
        contact_ids uuid[] NOT NULL DEFAULT '{}',
        responsible boolean NOT NULL DEFAULT true,
        quiet_calendar text,
        escalate_after interval,
        escalate_to_department text,
        escalate_to_position text,
        escalate_levels integer NOT NULL DEFAULT 1,
        digest_every interval,
        enabled boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    # alerts waiting for their rule's digest window to close: one message per rule and department per window
    """
    CREATE TABLE notify_digest_items (
        id bigserial PRIMARY KEY,
        rule_id uuid NOT NULL,
        department text,
        window_end timestamptz NOT NULL,
        alert jsonb NOT NULL
    )
    """,
    "CREATE INDEX notify_digest_items_due ON notify_digest_items (window_end)",
    # one row per alert taken up by the planner: an alert is planned by exactly one replica
    "CREATE TABLE notify_planned (alert_id uuid PRIMARY KEY, planned_at timestamptz NOT NULL DEFAULT now())",
    "CREATE INDEX notify_planned_at ON notify_planned (planned_at)",
    """
    CREATE TABLE notify_escalations (
        alert_id uuid NOT NULL,
        rule_id uuid NOT NULL,
        step integer NOT NULL DEFAULT 0,
        department text,
        position text,
        due_at timestamptz,
        closed_at timestamptz,
        closed_reason text,
        history jsonb NOT NULL DEFAULT '[]',
        PRIMARY KEY (alert_id, rule_id)
    )
    """,
    "CREATE INDEX notify_escalations_due ON notify_escalations (due_at) WHERE closed_at IS NULL",
    """
    CREATE TABLE notify_messages (
        id uuid PRIMARY KEY,
        alert_id uuid,
        rule_id uuid,
        channel_id uuid REFERENCES notify_channels (id) ON DELETE SET NULL,
        channel_kind text NOT NULL,
        contact_id uuid,
        recipient text NOT NULL,
        language text NOT NULL,
        reason text NOT NULL CHECK (reason IN ('alert', 'escalation', 'digest', 'report', 'failure')),
        escalation_step integer NOT NULL DEFAULT 0,
        content jsonb NOT NULL,
        status text NOT NULL DEFAULT 'queued'
            CHECK (status IN ('queued', 'retrying', 'sent', 'failed', 'skipped')),
        attempts integer NOT NULL DEFAULT 0,
        not_before timestamptz NOT NULL DEFAULT now(),
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        lease_until timestamptz,
        sent_at timestamptz,
        response_status integer,
        response_excerpt text,
        error text,
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX notify_messages_due ON notify_messages (next_attempt_at) WHERE status IN ('queued', 'retrying')",
    "CREATE INDEX notify_messages_recent ON notify_messages (created_at DESC, id)",
    "CREATE INDEX notify_messages_alert ON notify_messages (alert_id)",
    # scheduled reports: a department's report for the last period, to its contacts, on a monthly schedule
    """
    CREATE TABLE notify_schedules (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        department text NOT NULL,
        report text NOT NULL CHECK (report IN ('status', 'achievement')),
        format text NOT NULL CHECK (format IN ('xlsx')),
        day_of_month integer NOT NULL CHECK (day_of_month BETWEEN 1 AND 28),
        at_time time NOT NULL,
        timezone text NOT NULL,
        channel_ids uuid[] NOT NULL,
        enabled boolean NOT NULL DEFAULT true,
        next_run_at timestamptz NOT NULL,
        last_run_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX notify_schedules_due ON notify_schedules (next_run_at) WHERE enabled",
)

DOWNGRADE = (
    "DROP TABLE notify_schedules",
    "DROP TABLE notify_messages",
    "DROP TABLE notify_escalations",
    "DROP TABLE notify_planned",
    "DROP TABLE notify_digest_items",
    "DROP TABLE notify_rules",
    "DROP TABLE notify_channels",
    "DROP TABLE notify_contacts",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
