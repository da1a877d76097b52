"""console schema: sessions of users signed in with a token of the gateway's JWT issuer

Revision ID: console_0002
Revises: console_0001
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "console_0002"
down_revision: str | None = "console_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a token session has no local account and no gateway key of its own: it calls the API with the user's
    # token (kept in api_key, never sent to the browser) and holds what the gateway reported of its holder
    op.execute("ALTER TABLE sessions ALTER COLUMN account_id DROP NOT NULL")
    op.execute("ALTER TABLE sessions ALTER COLUMN api_key_id DROP NOT NULL")
    op.execute("ALTER TABLE sessions ADD COLUMN subject text")
    op.execute("ALTER TABLE sessions ADD COLUMN scopes text[]")
    op.execute("ALTER TABLE sessions ADD COLUMN department text")
    op.execute(
        "ALTER TABLE sessions ADD CONSTRAINT sessions_account_or_token CHECK ("
        "(account_id IS NOT NULL AND api_key_id IS NOT NULL AND subject IS NULL AND scopes IS NULL) OR "
        "(account_id IS NULL AND api_key_id IS NULL AND subject IS NOT NULL AND scopes IS NOT NULL))"
    )


def downgrade() -> None:
    op.execute("DELETE FROM sessions WHERE account_id IS NULL")
    op.execute("ALTER TABLE sessions DROP CONSTRAINT sessions_account_or_token")
    op.execute("ALTER TABLE sessions DROP COLUMN department")
    op.execute("ALTER TABLE sessions DROP COLUMN scopes")
    op.execute("ALTER TABLE sessions DROP COLUMN subject")
    op.execute("ALTER TABLE sessions ALTER COLUMN api_key_id SET NOT NULL")
    op.execute("ALTER TABLE sessions ALTER COLUMN account_id SET NOT NULL")
