"""Forwarding one request to its service: streamed both ways, bounded body, per-route timeout.

Raw ASGI on the client side and httpx (aiohttp transport) on the upstream side: memory stays bounded
whatever the size of the body (a bulk NDJSON stream of a million events passes through in chunks).
"""

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import httpx
from pledge_common.problems import (
    BadRequest,
    GatewayTimeout,
    PayloadTooLarge,
    Problem,
    ServiceUnavailable,
    field_error,
)
from starlette.types import Message, Receive, Scope, Send

log = logging.getLogger("pledge.gateway.proxy")

# Read small bodies whole: one upstream write instead of a chunked stream
SMALL_BODY = 64 * 1024
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Never passed upstream: credentials (services trust only signed identity), forged identity, our own
DROP_REQUEST = HOP_BY_HOP | {
    b"host",
    b"authorization",
    b"x-api-key",
    b"cookie",
    b"x-pledge-identity",
    b"x-pledge-timestamp",
    b"x-pledge-signature",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"x-forwarded-host",
    b"x-request-id",
}
# uvicorn writes its own date and server headers; the request id is set by the gateway's middleware
DROP_RESPONSE = HOP_BY_HOP | {b"date", b"server", b"x-request-id"}
# the web console does its own sign-in with its own cookie (and sends no signed identity): cookies pass to it
DROP_CONSOLE_REQUEST = DROP_REQUEST - {b"cookie"}


class BadGateway(Problem):
    status, title = 502, "Bad Gateway"


class ClientDisconnected(Exception):
    pass


class UpstreamBrokeOff(Exception):
    """The service failed after the answer had started: the connection to the client is dropped."""


@dataclass
class BodyReader:
    """Reads the client's body from ASGI `receive`, refusing more than `limit` bytes."""

    receive: Receive
    limit: int
    seen: int = 0
    too_large: bool = False

    def _count(self, chunk: bytes) -> None:
        self.seen += len(chunk)
        if self.seen > self.limit:
            self.too_large = True
            raise PayloadTooLarge(f"the request body exceeds {self.limit} bytes")

    async def read_all(self) -> bytes:
        parts = [chunk async for chunk in self.stream()]
        return b"".join(parts)

    async def stream(self) -> AsyncIterator[bytes]:
        while True:
            message: Message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            chunk = message.get("body", b"")
            if chunk:
                self._count(chunk)
                yield chunk
            if not message.get("more_body", False):
                return


def request_headers(
    scope: Scope, identity: dict[str, str], content_length: int | None, drop: frozenset[bytes] = DROP_REQUEST
) -> list[tuple[bytes, bytes]]:
    """Client headers minus credentials and hop-by-hop ones, plus the signed identity and forwarding."""
    headers = [(k, v) for k, v in scope["headers"] if k not in drop and k != b"content-length"]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    for name, value in identity.items():
        headers.append((name.lower().encode(), value.encode()))
    client = scope.get("client")
    if client:
        headers.append((b"x-forwarded-for", str(client[0]).encode()))
    headers.append((b"x-forwarded-proto", str(scope.get("scheme", "http")).encode()))
    for k, v in scope["headers"]:
        if k == b"host":
            headers.append((b"x-forwarded-host", v))
            break
    return headers


def _content_length(scope: Scope) -> int | None:
    for k, v in scope["headers"]:
        if k == b"content-length":
            try:
                return int(v)
            except ValueError:
                return None
    return None


def _has_body(scope: Scope) -> bool:
    return any(k in (b"content-length", b"transfer-encoding") for k, _ in scope["headers"])


async def forward(
    client: httpx.AsyncClient,
    base_url: str,
    service: str,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    identity: dict[str, str],
    timeout: httpx.Timeout,  # noqa: ASYNC109  (httpx applies it per upstream read)
    body_limit: int,
    drop: frozenset[bytes] = DROP_REQUEST,
) -> None:
    """Send the request to `base_url` and stream the answer back; failures become problems."""
    declared = _content_length(scope)
    if declared is not None and declared > body_limit:
        raise PayloadTooLarge(f"the request body exceeds {body_limit} bytes")
    reader = BodyReader(receive, body_limit)
    content: bytes | AsyncIterator[bytes] | None = None
    if declared is not None and declared <= SMALL_BODY:
        content = await reader.read_all() if declared else None
    elif _has_body(scope):
        content = reader.stream()
    raw_path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    url = base_url + raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
    # httpx.Request directly: the client holds no default headers, cookies or params to merge, and
    # build_request's merging doubles the cost of preparing a request
    request = httpx.Request(
        scope["method"],
        url,
        headers=request_headers(scope, identity, declared, drop),
        content=content,
        extensions={"timeout": timeout.as_dict()},
    )
    if request.url.path != scope["path"]:
        # the edge matched `scope["path"]`: never forward a path the client library has read differently
        message = "the path cannot be forwarded in the form it was matched"
        raise BadRequest(message, errors=[field_error("path", message)])
    try:
        response = await client.send(request, stream=True)
    except (httpx.HTTPError, aiohttp.ClientError, OSError) as err:
        if reader.too_large:
            raise PayloadTooLarge(f"the request body exceeds {body_limit} bytes") from None
        raise _upstream_problem(service, err) from None
    except ClientDisconnected:
        return
    try:
        if response.status_code >= 500 and not _is_problem(response):
            # never relay an upstream's internals (a proxy's HTML page, a stack trace)
            raise BadGateway(f"the {service} service failed to answer")
        headers = [(k.lower(), v) for k, v in response.headers.raw if k.lower() not in DROP_RESPONSE]
        length = response.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) <= SMALL_BODY:
            body = await response.aread()
            await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        try:
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except (httpx.HTTPError, aiohttp.ClientError, OSError):
            log.warning("the %s service broke off its response", service)
            raise UpstreamBrokeOff(service) from None
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except (httpx.HTTPError, aiohttp.ClientError) as err:
        # the answer failed before anything was sent to the client
        raise _upstream_problem(service, err) from None
    finally:
        await response.aclose()


def _is_problem(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.startswith("application/problem+json")


# What a client is told to wait when a service is down: a restarted process or a rescheduled pod takes seconds.
UPSTREAM_RETRY_AFTER_SECONDS = 5


def _upstream_problem(service: str, err: BaseException) -> Problem:
    if isinstance(err, httpx.ReadTimeout | httpx.WriteTimeout):
        return GatewayTimeout(f"the {service} service did not answer in time", service=service)
    if isinstance(err, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | ConnectionError):
        # only the routes of this service fail: the gateway stays ready and serves the others
        return ServiceUnavailable(
            f"the {service} service is unavailable",
            service=service,
            headers={"Retry-After": str(UPSTREAM_RETRY_AFTER_SECONDS)},
        )
    if isinstance(err, httpx.TimeoutException):
        return GatewayTimeout(f"the {service} service did not answer in time", service=service)
    return BadGateway(f"the {service} service failed to answer", service=service)
