"""webhook subscriptions belong to the owner of the caller's credential, which key rotation keeps

Revision ID: evaluation_0007
Revises: evaluation_0006
Create Date: 2026-12-03

`owner` is the caller's `holder` in the signed identity: for an API key, the id of the first key of its
rotation chain (the gateway's `owner_id`); for users and services, their `sub`. Existing rows take their
`created_by` (the id of the key that created them), which is its chain's owner unless that key was itself made
by a rotation; `created_by` stays as the record of which key created the subscription.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "evaluation_0007"
down_revision: str | None = "evaluation_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE webhook_subscriptions ADD COLUMN owner text")
    op.execute("UPDATE webhook_subscriptions SET owner = created_by")
    op.execute("ALTER TABLE webhook_subscriptions ALTER COLUMN owner SET DEFAULT ''")
    op.execute("ALTER TABLE webhook_subscriptions ALTER COLUMN owner SET NOT NULL")


def downgrade() -> None:
    op.execute("ALTER TABLE webhook_subscriptions DROP COLUMN owner")
