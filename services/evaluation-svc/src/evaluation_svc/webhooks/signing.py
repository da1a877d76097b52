"""Signatures of outbound deliveries (where they may go is in targets.py)."""

import hashlib
import hmac

SIGNATURE_HEADER = "X-Pledge-Signature"
TIMESTAMP_HEADER = "X-Pledge-Timestamp"
EVENT_HEADER = "X-Pledge-Event"
DELIVERY_HEADER = "X-Pledge-Delivery"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, timestamp + "." + body): receivers recompute and compare, and
    refuse timestamps too old (replays)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
