"""the runs of a status cell, found without reading every node run

Revision ID: evaluation_0014
Revises: evaluation_0013
Create Date: 2026-12-03

A page of a cell's runs (`/v1/reports/status/runs`) read every node run twice at 5 million runs (over a second):
- its data-quality count, the runs of the whole cell that their ticket ended: a partial index holds those
  alone (few), so the count reads them only;
- its page, the first runs of the cell by id: the planner, which could not tell how many runs a process and
  node (or department) hold (`coalesce(node_key, '')` had no statistics), expected a handful and read the whole
  table; statistics on those dimensions let it walk the ids of a large cell and stop at the page's end.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "evaluation_0014"
down_revision: str | None = "evaluation_0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE INDEX node_runs_ended_by_ticket ON node_runs (process_key, ended_at) WHERE ended_by_ticket")
    op.execute(
        "CREATE STATISTICS node_runs_cells (dependencies, mcv)"
        " ON process_key, coalesce(node_key, ''), coalesce(department, '') FROM node_runs"
    )
    op.execute("ANALYZE node_runs")


def downgrade() -> None:
    op.execute("DROP STATISTICS node_runs_cells")
    op.execute("DROP INDEX node_runs_ended_by_ticket")
