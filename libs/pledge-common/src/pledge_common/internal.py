"""Service-to-service calls: the service token on /internal routes, and the outbound HTTP client."""

import hmac
from typing import Any

import httpx
from fastapi import APIRouter, Depends, Request
from httpx_aiohttp import AiohttpTransport

from pledge_common import tracing
from pledge_common.observability import REQUEST_ID_HEADER, current_request_id
from pledge_common.problems import Unauthorized


async def require_service_token(request: Request) -> None:
    expected: str = request.app.state.settings.service_token
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized(
            "internal routes need the service token", headers={"WWW-Authenticate": 'Bearer realm="internal"'}
        )


def internal_router() -> APIRouter:
    """Parent router for `/internal/...`: never routed by the gateway, always token-protected."""
    return APIRouter(prefix="/internal", dependencies=[Depends(require_service_token)])


async def add_context_headers(request: httpx.Request) -> None:
    """The request id and the trace context of the current request go on with every call it makes."""
    request_id = current_request_id()
    if request_id and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = request_id
    # the current span's context replaces any `traceparent` passed along (the gateway forwards the client's)
    tracing.inject(request.headers)


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
    """httpx API over the aiohttp transport (the stock transport collapses under concurrency)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
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
        event_hooks={"request": [add_context_headers]},
        **kwargs,
    )
