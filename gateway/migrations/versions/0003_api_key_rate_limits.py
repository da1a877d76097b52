"""api key rate-limit overrides

Revision ID: gateway_0003_key_rate_limits
Revises: gateway_0002_api_keys
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "gateway_0003_key_rate_limits"
down_revision: str | None = "gateway_0002_api_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # {"<bucket name>": {"rate": <float>, "burst": <int>}}: replaces the settings' limit of that bucket for this key
    op.add_column(
        "api_keys",
        sa.Column("rate_limits", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
    )


def downgrade() -> None:
    op.drop_column("api_keys", "rate_limits")
