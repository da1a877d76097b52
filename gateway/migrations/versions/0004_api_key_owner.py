"""api key owner: the first key of each rotation chain, kept by every later key of the chain

Revision ID: gateway_0004_api_key_owner
Revises: gateway_0003_key_rate_limits
Create Date: 2026-12-03

Existing keys get the id of the first key of their chain (followed through `replaced_by`); a key never rotated
owns itself. The gateway forwards the owner in the signed identity, and the services keep a caller's own things
(webhook subscriptions) by it, so a rotated key keeps them.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "gateway_0004_api_key_owner"
down_revision: str | None = "gateway_0003_key_rate_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE api_keys ADD COLUMN owner_id uuid")
    op.execute(
        """
        WITH RECURSIVE chain (id, owner_id) AS (
            SELECT k.id, k.id FROM api_keys k
            WHERE NOT EXISTS (SELECT 1 FROM api_keys earlier WHERE earlier.replaced_by = k.id)
            UNION
            SELECT next.id, chain.owner_id
            FROM chain JOIN api_keys k ON k.id = chain.id JOIN api_keys next ON next.id = k.replaced_by
        )
        UPDATE api_keys SET owner_id = chain.owner_id FROM chain WHERE chain.id = api_keys.id
        """
    )
    op.execute("UPDATE api_keys SET owner_id = id WHERE owner_id IS NULL")  # a cycle, which rotation never makes
    op.execute("ALTER TABLE api_keys ALTER COLUMN owner_id SET NOT NULL")
    op.execute("CREATE INDEX api_keys_owner ON api_keys (owner_id)")


def downgrade() -> None:
    op.execute("DROP INDEX api_keys_owner")
    op.execute("ALTER TABLE api_keys DROP COLUMN owner_id")
