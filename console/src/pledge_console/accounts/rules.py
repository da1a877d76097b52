"""Pure rules of accounts: password hashes (scrypt), roles and the scopes of their session keys."""

import base64
import hashlib
import hmac
import re
import secrets
from enum import StrEnum

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
