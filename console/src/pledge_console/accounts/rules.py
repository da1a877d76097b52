"""Pure rules of accounts: password hashes (scrypt), roles and the scopes of their session keys."""

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pledge_common.scopes import Scope

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024
USERNAME = re.compile(r"^[a-z0-9._-]{1,64}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # a longer one is refused before hashing (no slow hash of a megabyte)


class Role(StrEnum):
    viewer = "viewer"
    manager = "manager"
    admin = "admin"


TOKEN_ROLE = "token"  # shown for a user signed in with a token: its scopes are the gateway's, not a role's
_VIEWER = (Scope.definitions_read, Scope.tickets_read, Scope.reports_read, Scope.feedback_read, Scope.complaints_read)
# the same mapping as the gateway's default JWT roles (pledge-viewer, pledge-manager, pledge-admin)
ROLE_SCOPES: dict[Role, tuple[Scope, ...]] = {
    Role.viewer: _VIEWER,
    Role.manager: (
        *_VIEWER,
        Scope.definitions_write,
        Scope.alerts_manage,
        Scope.feedback_write,
        Scope.complaints_manage,
    ),
    Role.admin: (Scope.admin,),
}


def scopes_of(role: Role) -> list[str]:
    return sorted(s.value for s in ROLE_SCOPES[role])


def can(role: Role, scope: Scope) -> bool:
    scopes = ROLE_SCOPES[role]
    return Scope.admin in scopes or scope in scopes


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hash_password(password: str, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$salt$hash` (base64)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=SCRYPT_MAXMEM, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def password_matches(password: str, stored: str) -> bool:
    """Whether `password` hashes to `stored` (constant-time comparison; a malformed hash never matches)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt" or len(password) > MAX_PASSWORD:
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=SCRYPT_MAXMEM,
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


# verified when the account does not exist, so that a wrong username costs the same time as a wrong password
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_PASSWORD:
        return f"at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"at most {MAX_PASSWORD} characters"
    return None


def new_password() -> str:
    return secrets.token_urlsafe(15)


@dataclass(frozen=True)
class TokenTerms:
    """What a session opened with a user token holds: the gateway's account of the token's holder."""

    subject: str
    scopes: list[str]
    department: str | None
    expires_at: datetime


MAX_TOKEN = 8192  # a JWT is a few hundred bytes to a few kilobytes: anything longer is refused unread


def token_terms(me: dict[str, Any], now: datetime, lifetime: timedelta) -> TokenTerms | str:
    """A session's terms from the gateway's `GET /v1/me` answer for a token, or why no session is opened.

    Only a user token signs in (an API key has its own uses); it must read reports (every page does); the
    session ends when the token expires, or after the console's own session lifetime if that comes first."""
    if me.get("kind") != "user":
        return "not_a_user_token"
    scopes = sorted(str(s) for s in me.get("scopes") or [])
    if "admin" not in scopes and Scope.reports_read.value not in scopes:
        return "token_no_scope"
    try:
        token_expiry = datetime.fromisoformat(str(me["expires_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return "not_a_user_token"
    if token_expiry.tzinfo is None or token_expiry <= now:
        return "not_a_user_token"
    department = me.get("department")
    return TokenTerms(
        subject=str(me.get("sub") or "")[:200],
        scopes=scopes,
        department=str(department)[:64] if department else None,
        expires_at=min(token_expiry, now + lifetime),
    )
