"""history: node runs partitioned by the month they were first recorded (docs/operations.md, "Years of history")

`node_runs` becomes a table partitioned by range on `recorded_at`: the first instant (UTC) of the month the run
was first recorded, set once on its first write and never changed, so that a run's every later change (a late
start, its end, a re-judgment) updates it in its partition. The primary key is (id, recorded_at); the
projection reads a run's `recorded_at` from its stored row before writing it (`readmodel.repository`), and a
run is written by one feed partition's consumer at a time, so no second row of an id can be started in another
month. Existing runs take the month they started in (else the month of their last change). No foreign key
names node_runs. The rollups (`run_state_hourly`, `run_duration_daily`) stay as they are: they hold the
aggregates when old months are dropped.

Reversible: the downgrade copies every row back into one plain table keyed by id.

Revision ID: evaluation_0019
Revises: evaluation_0018
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op
from pledge_common.partitions import convert_sync, unconvert_sync

revision: str = "evaluation_0019"
down_revision: str | None = "evaluation_0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    "CREATE INDEX node_runs_ended_at ON node_runs (ended_at) WHERE ended_at IS NOT NULL",
    "CREATE INDEX node_runs_open ON node_runs (process_key) WHERE ended_at IS NULL AND started_at IS NOT NULL",
    """CREATE INDEX node_runs_active ON node_runs USING gist (tstzrange(started_at, ended_at, '[)'))
       INCLUDE (started_at, ended_at, process_key, node_key, segment, department, position, source, commitment_id,
                commitment_key, commitment_due_at, tolerance_due_at, exempted)
       WHERE started_at IS NOT NULL""",
    "CREATE INDEX node_runs_next_alert ON node_runs (next_alert_at) WHERE next_alert_at IS NOT NULL",
    "CREATE INDEX node_runs_commitment ON node_runs (commitment_key, ended_at)",
    "CREATE INDEX node_runs_unjudged ON node_runs (process_key) WHERE commitment_id IS NULL",
    "CREATE INDEX node_runs_ticket ON node_runs (ticket_id)",
    "CREATE INDEX node_runs_ended_by_ticket ON node_runs (process_key, ended_at) WHERE ended_by_ticket",
    "CREATE STATISTICS node_runs_cells (dependencies, mcv)"
    " ON process_key, coalesce(node_key, ''), coalesce(department, '') FROM node_runs",
)


def upgrade() -> None:
    convert_sync(
        op.get_bind(),
        "node_runs",
        "recorded_at",
        primary_key=("id", "recorded_at"),
        indexes=INDEXES,
        new_column="recorded_at timestamptz NOT NULL DEFAULT date_trunc('month', now(), 'UTC')",
        existing_value="date_trunc('month', coalesce(started_at, updated_at), 'UTC')",
    )


def downgrade() -> None:
    unconvert_sync(op.get_bind(), "node_runs", primary_key=("id",), indexes=INDEXES, drop_column="recorded_at")
