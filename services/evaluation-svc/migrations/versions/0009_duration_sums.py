"""duration sums: run_duration_daily keeps the sum of counted seconds of each cell's runs

Revision ID: evaluation_0009
Revises: evaluation_0008
Create Date: 2026-12-03

With the sum beside the count, the achievement report gives the exact mean counted time, and a percentile
as the mean of the runs in the bucket holding its rank (equal durations give exactly their value).

The backfill needs no time zone: a completed run's cell is, among the cells of its dimensions and bucket,
the one of the latest day starting at or before its end (its own day's cell exists, since it counts it).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "evaluation_0009"
down_revision: str | None = "evaluation_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = (
    "ALTER TABLE run_duration_daily ADD COLUMN seconds numeric NOT NULL DEFAULT 0",
    """
    UPDATE run_duration_daily t SET seconds = s.seconds
    FROM (
        SELECT c.day, c.process_key, c.node_key, c.segment, c.department, c.position, c.source, c.commitment_id,
               c.commitment_key, c.exempted, c.bucket, sum(CAST(r.counted_seconds AS numeric)) AS seconds
        FROM node_runs r
        CROSS JOIN LATERAL (
            SELECT d.* FROM run_duration_daily d
            WHERE d.process_key = r.process_key AND d.node_key = coalesce(r.node_key, '')
              AND d.segment = r.segment AND d.department = coalesce(r.department, '')
              AND d.position = coalesce(r.position, '') AND d.source = r.source
              AND d.commitment_id = coalesce(r.commitment_id, '')
              AND d.commitment_key = coalesce(r.commitment_key, '') AND d.exempted = r.exempted
              AND d.bucket = r.duration_bucket AND d.day <= r.ended_at
            ORDER BY d.day DESC LIMIT 1
        ) c
        WHERE r.ended_at IS NOT NULL AND r.started_at IS NOT NULL AND starts_with(r.final_state, 'completed_')
          AND r.duration_bucket IS NOT NULL AND r.counted_seconds IS NOT NULL
        GROUP BY c.day, c.process_key, c.node_key, c.segment, c.department, c.position, c.source, c.commitment_id,
                 c.commitment_key, c.exempted, c.bucket
    ) s
    WHERE t.day = s.day AND t.process_key = s.process_key AND t.node_key = s.node_key AND t.segment = s.segment
      AND t.department = s.department AND t.position = s.position AND t.source = s.source
      AND t.commitment_id = s.commitment_id AND t.commitment_key = s.commitment_key AND t.exempted = s.exempted
      AND t.bucket = s.bucket
    """,
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("ALTER TABLE run_duration_daily DROP COLUMN seconds")
