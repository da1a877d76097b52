"""alert lifecycle: open → acknowledged → resolved (when the run ends), late alerts, deliveries per alert

Revision ID: evaluation_0005
Revises: evaluation_0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "evaluation_0005"
down_revision: str | None = "evaluation_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = (
    """
    ALTER TABLE alerts
        ADD COLUMN resolved_at timestamptz,
        ADD COLUMN final_state text,
        ADD COLUMN late boolean NOT NULL DEFAULT false
    """,
    # alerts of runs that already ended are resolved with the run's end and final state
    """
    UPDATE alerts a SET state = 'resolved', resolved_at = r.ended_at, final_state = r.final_state
    FROM node_runs r WHERE r.id = a.node_run_id AND r.ended_at IS NOT NULL
    """,
    """
    ALTER TABLE alerts ADD CONSTRAINT alerts_state CHECK (
        state IN ('open', 'acknowledged', 'resolved') AND (state = 'resolved') = (resolved_at IS NOT NULL))
    """,
    # the unresolved alerts of a run, found when it ends (few rows: resolved alerts leave the index)
    "CREATE INDEX alerts_unresolved ON alerts (node_run_id) WHERE state <> 'resolved'",
    "ALTER TABLE webhook_deliveries ADD COLUMN alert_id uuid",
    "UPDATE webhook_deliveries SET alert_id = CAST(CAST(body AS jsonb) #>> '{alert,id}' AS uuid)",
    "ALTER TABLE webhook_deliveries ALTER COLUMN alert_id SET NOT NULL",
    # deliveries still pending for alerts resolved above are never sent
    """
    UPDATE webhook_deliveries d SET status = 'skipped', lease_until = NULL
    FROM alerts a WHERE a.id = d.alert_id AND a.state = 'resolved' AND d.status = 'pending'
    """,
    "CREATE INDEX webhook_deliveries_alert ON webhook_deliveries (alert_id) WHERE status = 'pending'",
)

DOWNGRADE = (
    "DROP INDEX webhook_deliveries_alert",
    "UPDATE webhook_deliveries SET status = 'failed' WHERE status = 'skipped'",
    "ALTER TABLE webhook_deliveries DROP COLUMN alert_id",
    "DROP INDEX alerts_unresolved",
    "ALTER TABLE alerts DROP CONSTRAINT alerts_state",
    "UPDATE alerts SET state = CASE WHEN acknowledged_at IS NULL THEN 'open' ELSE 'acknowledged' END "
    "WHERE state = 'resolved'",
    "ALTER TABLE alerts DROP COLUMN late, DROP COLUMN final_state, DROP COLUMN resolved_at",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
