"""webhook secrets in the Standard Webhooks form: `whsec_` + standard base64 (with padding)

Revision ID: evaluation_0011
Revises: evaluation_0009
Create Date: 2026-12-03

Deliveries are signed per the Standard Webhooks spec, keyed with the secret's base64-decoded bytes. Secrets
made before were `whsec_` + URL-safe base64 without padding (`secrets.token_urlsafe(32)`), which standard
decoders misread. They are rewritten to the standard alphabet, padded: the same 32 bytes, so a receiver holding
an old secret converts it the same way (`-` to `+`, `_` to `/`, pad with `=`) and need not subscribe again.
New secrets are 32 random bytes in standard base64, which always ends in `=`; older ones never do.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "evaluation_0011"
down_revision: str | None = "evaluation_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        UPDATE webhook_subscriptions
           SET secret = 'whsec_' || rpad(translate(substr(secret, 7), '-_', '+/'),
                                         ((length(secret) - 6 + 3) / 4) * 4, '=')
         WHERE secret LIKE 'whsec\\_%' AND secret NOT LIKE '%='
        """
    )


def downgrade() -> None:
    op.execute(
        """
        UPDATE webhook_subscriptions
           SET secret = 'whsec_' || rtrim(translate(substr(secret, 7), '+/', '-_'), '=')
         WHERE secret LIKE 'whsec\\_%'
        """
    )
