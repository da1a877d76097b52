"""Signatures of outbound deliveries (where they may go is in targets.py): the Standard Webhooks spec
(https://www.standardwebhooks.com), so a receiver verifies with a maintained library in its own language
instead of writing a verifier.

A delivery carries `webhook-id` (the delivery's id: one per event and subscription, the same on every retry,
so a receiver drops repeats by it), `webhook-timestamp` (unix seconds of this attempt) and `webhook-signature`
(`v1,<base64 HMAC-SHA256>` over `id.timestamp.body`, keyed with the secret's decoded bytes). Secrets are
`whsec_<base64 of 32 random bytes>`.
"""

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
EVENT_HEADER = "X-Pledge-Event"  # informative only: the signed body carries the same `type`


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt."""
    signature = Webhook(secret).sign(message_id, datetime.fromtimestamp(timestamp, UTC), body.decode())
    return {ID_HEADER: message_id, TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature}
