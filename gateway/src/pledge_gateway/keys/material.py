"""Key material: the key format, slow hashing of the secret part, and status rules (pure functions)."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

KEY_PREFIX = "pledge"
PREFIX_BYTES = 6  # 12 hex characters, unique per key: the lookup part
# scrypt with N=2**14, r=8: ~16 MiB and some tens of milliseconds per verification; the gateway caches
# verified keys for a few seconds so that only the first request of a burst pays it.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


@dataclass(frozen=True)
class ParsedKey:
    prefix: str
    secret: str


def new_key() -> tuple[str, ParsedKey]:
    """A fresh key `pledge_<12 hex>_<secret>`, and its parts."""
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = secrets.token_urlsafe(32)
    return f"{KEY_PREFIX}_{prefix}_{secret}", ParsedKey(prefix, secret)


def parse_key(key: str) -> ParsedKey | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 2 * PREFIX_BYTES or not parts[2]:
        return None
    if len(key) > 200:
        return None
    return ParsedKey(parts[1], parts[2])


def looks_like_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX + "_")


def hash_secret(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)


def new_salt() -> bytes:
    return secrets.token_bytes(16)


def secret_matches(secret: str, salt: bytes, expected: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret, salt), expected)


def key_status(expires_at: datetime | None, revoked_at: datetime | None, now: datetime) -> str:
    """`revoked`, `expired` or `active`: a key is usable only while active."""
    if revoked_at is not None and revoked_at <= now:
        return "revoked"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "active"
