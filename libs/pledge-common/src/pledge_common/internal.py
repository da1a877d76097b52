"""Service-to-service calls: the service token on /internal routes, and the outbound HTTP client.

The service token (`PLEDGE_SERVICE_TOKEN`) is a shared secret that never travels itself. Two keys are
derived from it, one per use, with HKDF-Expand (RFC 5869, SHA-256, the token as the pseudo-random key, one
label per use, 32 bytes): the **bearer** that `/internal` calls carry, and the **HMAC key** of the gateway's
identity signatures (`identity.py`). A bearer seen in a proxy's log therefore cannot forge an identity.

Rotation without downtime (docs/operations.md, "Rotating the service token"): a second token,
`PLEDGE_SERVICE_TOKEN_PREVIOUS`, is accepted beside the current one; calls and signatures always use the
current one. Roll out the new token as the *previous* (accepted everywhere), then swap the two, then drop
the old one: at every step each running pod accepts what every other pod sends.
"""

import hashlib
import hmac
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

import httpx
from fastapi import APIRouter, Depends, Request
from httpx_aiohttp import AiohttpTransport

from pledge_common.observability import REQUEST_ID_HEADER, current_request_id
from pledge_common.problems import Unauthorized

BEARER_LABEL = b"pledge/internal-bearer/v1"
SIGNING_LABEL = b"pledge/identity-signature/v1"


@lru_cache(maxsize=16)
def derive_key(token: str, label: bytes) -> bytes:
    """HKDF-Expand(PRK=token, info=label, L=32) with SHA-256: a single block, T(1) = HMAC(PRK, info | 0x01)."""
    return hmac.new(token.encode(), label + b"\x01", hashlib.sha256).digest()


def internal_bearer(token: str) -> str:
    """The bearer credential of `/internal` calls made with this service token."""
    return derive_key(token, BEARER_LABEL).hex()


def signing_key(token: str) -> bytes:
    """The HMAC key of identity signatures made with this service token."""
    return derive_key(token, SIGNING_LABEL)


def internal_headers(token: str) -> dict[str, str]:
    """The Authorization header of an `/internal` call made with this service token."""
    return {"Authorization": f"Bearer {internal_bearer(token)}"}


class HasServiceTokens(Protocol):
    @property
    def service_token(self) -> str: ...
    @property
    def accepted_service_tokens(self) -> tuple[str, ...]: ...


def bearer_is_accepted(given: str, tokens: Sequence[str]) -> bool:
    """Whether `given` is the bearer of one of the accepted tokens (every one compared, in constant time)."""
    matches = [hmac.compare_digest(given.encode(), internal_bearer(token).encode()) for token in tokens]
    return any(matches)


async def require_service_token(request: Request) -> None:
    settings: HasServiceTokens = request.app.state.settings
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not bearer_is_accepted(token, settings.accepted_service_tokens):
        raise Unauthorized(
            "internal routes need the service token", headers={"WWW-Authenticate": 'Bearer realm="internal"'}
        )


def internal_router() -> APIRouter:
    """Parent router for `/internal/...`: never routed by the gateway, always token-protected."""
    return APIRouter(prefix="/internal", dependencies=[Depends(require_service_token)])


async def _add_request_id(request: httpx.Request) -> None:
    request_id = current_request_id()
    if request_id and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = request_id


# An idle pooled connection is dropped this long after its last use: well before the servers of the suite
# close it (uvicorn's keep-alive timeout, 5 s by default). Reusing a connection the server is closing at
# that very moment fails the request, and a streamed body (NDJSON through the gateway) cannot be re-sent.
KEEPALIVE_EXPIRY_SECONDS = 2.0


def make_http_client(
    base_url: str = "",
    *,
    timeout: float = 10.0,
    token: str | None = None,
    max_connections: int = 200,
    **kwargs: Any,
) -> httpx.AsyncClient:
    """httpx API over the aiohttp transport (the stock transport collapses under concurrency). With `token` (the
    service token), every request carries the `/internal` bearer derived from it."""
    headers = internal_headers(token) if token else {}
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
    )
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        headers=headers,
        transport=AiohttpTransport(limits=limits, trust_env=False),
        event_hooks={"request": [_add_request_id]},
        **kwargs,
    )
