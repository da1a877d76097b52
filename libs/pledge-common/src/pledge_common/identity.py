"""Who is calling: the gateway signs the caller's identity; services verify it and filter by it."""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from pledge_common.internal import signing_key
from pledge_common.problems import Forbidden, Unauthorized

IDENTITY_HEADER = "X-Pledge-Identity"
TIMESTAMP_HEADER = "X-Pledge-Timestamp"
SIGNATURE_HEADER = "X-Pledge-Signature"
MAX_SKEW_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Caller:
    sub: str
    kind: str  # "key" | "user" | "service"
    scopes: frozenset[str]
    sources: frozenset[str] | None  # None: every source system
    # Who holds the credential, stable across API key rotation (the id of the first key of its rotation
    # chain); None: `sub` is stable already (users, services).
    owner: str | None = None

    @property
    def holder(self) -> str:
        """What a caller's own things (webhook subscriptions) belong to: the same before and after a rotation."""
        return self.owner or self.sub

    def can_see_source(self, source: str) -> bool:
        return self.sources is None or source in self.sources

    def has_scope(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    def to_json(self) -> dict[str, Any]:
        return {
            "sub": self.sub,
            "kind": self.kind,
            "scopes": sorted(self.scopes),
            "sources": sorted(self.sources) if self.sources is not None else None,
            **({"owner": self.owner} if self.owner is not None else {}),
        }


SYSTEM = Caller(sub="system", kind="service", scopes=frozenset({"admin"}), sources=None)


def _sign(secret: str, identity: str, timestamp: str) -> str:
    """HMAC-SHA256 under the key derived from the service token (internal.py), never the token itself."""
    return hmac.new(signing_key(secret), f"{identity}.{timestamp}".encode(), hashlib.sha256).hexdigest()


def identity_headers(caller: Caller, secret: str, now: float | None = None) -> dict[str, str]:
    identity = base64.urlsafe_b64encode(json.dumps(caller.to_json()).encode()).decode().rstrip("=")
    timestamp = str(int(now if now is not None else time.time()))
    return {
        IDENTITY_HEADER: identity,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: _sign(secret, identity, timestamp),
    }


def service_headers(service: str, secret: str) -> dict[str, str]:
    """Headers a service uses to call another service's public routes as itself."""
    return identity_headers(Caller(sub=service, kind="service", scopes=frozenset({"admin"}), sources=None), secret)


def verify_identity(headers: Any, secret: str | Sequence[str], now: float | None = None) -> Caller | None:
    """The caller named by valid signed headers; None when absent; Unauthorized when forged or stale.
    `secret`: the service token, or every accepted one while it rotates."""
    identity = headers.get(IDENTITY_HEADER)
    if identity is None:
        return None
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    secrets = (secret,) if isinstance(secret, str) else tuple(secret)
    valid = [hmac.compare_digest(signature.encode(), _sign(s, identity, timestamp).encode()) for s in secrets]
    if not any(valid):
        raise Unauthorized("the caller identity headers are not signed by the gateway")
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
        data = json.loads(base64.urlsafe_b64decode(identity + "=" * (-len(identity) % 4)))
        sources = data.get("sources")
        owner = data.get("owner")
        caller = Caller(
            sub=str(data["sub"]),
            kind=str(data["kind"]),
            scopes=frozenset(data.get("scopes") or ()),
            sources=frozenset(sources) if sources is not None else None,
            owner=str(owner) if owner is not None else None,
        )
    except (ValueError, KeyError, TypeError):
        raise Unauthorized("the caller identity headers are malformed") from None
    if age > MAX_SKEW_SECONDS:
        raise Unauthorized("the caller identity headers have expired")
    return caller


async def current_caller(request: Request) -> Caller:
    """The verified caller. Without identity headers: SYSTEM unless the service requires identity."""
    settings = request.app.state.settings
    caller = verify_identity(request.headers, settings.accepted_service_tokens)
    if caller is None:
        if getattr(settings, "require_identity", False):
            raise Unauthorized(
                "requests must come through the gateway",
                headers={"WWW-Authenticate": 'Bearer realm="pledge"'},
            )
        return SYSTEM
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]


def require_scope(caller: Caller, scope: str) -> None:
    if not caller.has_scope(scope):
        raise Forbidden(f"this operation needs the scope `{scope}`", required_scope=scope)
