"""feed payloads and raw event bodies as json (text), not jsonb

Both columns are written on every ingested event and read back whole (the feed, a ticket's raw events);
nothing queries inside them. `jsonb` parses each value into its binary form on the way in and prints it
again on the way out, which made the feed rows the largest single cost of bulk ingest. `json` only
checks the text, and the feed embeds it verbatim.

Revision ID: tracking_0004
Revises: tracking_0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "tracking_0004"
down_revision: str | None = "tracking_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE outbox ALTER COLUMN payload TYPE json USING payload::json")
    op.execute("ALTER TABLE events ALTER COLUMN body TYPE json USING body::json")


def downgrade() -> None:
    op.execute("ALTER TABLE events ALTER COLUMN body TYPE jsonb USING body::jsonb")
    op.execute("ALTER TABLE outbox ALTER COLUMN payload TYPE jsonb USING payload::jsonb")
