"""console schema: local accounts, sessions

Revision ID: console_0001
Revises:
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "console_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE accounts (
            id uuid PRIMARY KEY,
            username text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9._-]{1,64}$'),
            password_hash text NOT NULL,
            role text NOT NULL CHECK (role IN ('viewer', 'manager', 'admin')),
            department text,
            created_at timestamptz NOT NULL,
            disabled_at timestamptz
        )
        """
    )
    # the cookie holds a random token; only its SHA-256 is stored. The session's API key is the gateway key
    # created for it at sign-in (scopes of the role, expiry of the session), revoked at sign-out.
    op.execute(
        """
        CREATE TABLE sessions (
            token_hash bytea PRIMARY KEY,
            account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            csrf_token text NOT NULL,
            api_key text NOT NULL,
            api_key_id uuid NOT NULL,
            created_at timestamptz NOT NULL,
            expires_at timestamptz NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX sessions_expires_at ON sessions (expires_at)")


def downgrade() -> None:
    op.execute("DROP TABLE sessions")
    op.execute("DROP TABLE accounts")
