"""The edge: every public request passes here once — route table, credentials, scope, rate limit, then
either the gateway's own endpoint or the service behind the route. Raw ASGI: the hot path stays short.
"""

import hmac
import json
import logging
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from pledge_common.identity import Caller, identity_headers
from pledge_common.observability import ROUTE_KEY, current_request_id, is_long_poll
from pledge_common.problems import (
    BadRequest,
    Forbidden,
    NotFound,
    Problem,
    Unauthorized,
    field_error,
    problem_response,
)
from pledge_common.tracing import current_trace_id
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pledge_gateway.auth import Authenticator
from pledge_gateway.config import RateLimit, Settings
from pledge_gateway.meta import is_meta_path
from pledge_gateway.paths import path_fault
from pledge_gateway.proxy import DROP_CONSOLE_REQUEST, UPSTREAM_ROUTE_KEY, forward
from pledge_gateway.ratelimit import RateLimiter
from pledge_gateway.routes import (
    GATEWAY,
    PublicRoute,
    match_route,
    route_body_limit,
    route_template,
    route_timeout,
)
from pledge_gateway.routes import Scope as ApiScope

access_log = logging.getLogger("pledge.gateway.access")
QUIET_PATHS = frozenset({"/healthz", "/metrics"})
CONSOLE_PREFIX = "/console"
METRICS_PATH = "/metrics"
CONSOLE_TIMEOUT = 60.0  # a console page waits for the report routes it reads
CONSOLE_BODY_LIMIT = 64 * 1024  # its forms are small


class Gateway:
    """What the edge needs at run time (built by the app's lifespan, kept in `app.state.gateway`)."""

    def __init__(
        self, settings: Settings, http: httpx.AsyncClient, authenticator: Authenticator, limiter: RateLimiter
    ) -> None:
        self.settings = settings
        self.http = http
        self.authenticator = authenticator
        self.limiter = limiter
        self.base_urls = {s: settings.service_url(s) for s in ("commitment", "tracking", "evaluation", "feedback")}
        self._signed: dict[Caller, tuple[int, dict[str, str]]] = {}
        self._timeouts: dict[PublicRoute, httpx.Timeout] = {}

    def signed_identity(self, caller: Caller) -> dict[str, str]:
        """The caller's signed identity headers (re-signed at most once a second per caller)."""
        second = int(time.time())
        cached = self._signed.get(caller)
        if cached is not None and cached[0] == second:
            return cached[1]
        headers = identity_headers(caller, self.settings.service_token, now=second)
        if len(self._signed) > 10_000:
            self._signed.clear()
        self._signed[caller] = (second, headers)
        return headers

    def timeout_of(self, seconds: float) -> httpx.Timeout:
        return httpx.Timeout(seconds, connect=self.settings.connect_timeout_seconds, pool=seconds)

    def timeout(self, route: PublicRoute) -> httpx.Timeout:
        found = self._timeouts.get(route)
        if found is None:
            seconds = route_timeout(route, self.settings)
            found = httpx.Timeout(seconds, connect=self.settings.connect_timeout_seconds, pool=seconds)
            self._timeouts[route] = found
        return found


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k == name:
            return str(v.decode("latin-1"))
    return None


def principal(caller: Caller | None) -> str | None:
    return f"{caller.kind}:{caller.sub}" if caller is not None else None


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, meta: ASGIApp) -> None:
        self.app = app
        self.meta = meta

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        raw_path: bytes | None = scope.get("raw_path")
        fault = path_fault(raw_path.decode("latin-1") if raw_path else path)
        if path in QUIET_PATHS and fault is None and path != METRICS_PATH:
            await self.app(scope, receive, send)
            return
        if path == METRICS_PATH and fault is None:
            await self._metrics(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}
        # the route, and so the scope, is chosen from a path that has one form only (see paths.py)
        route = match_route(path) if fault is None else None
        if route is not None:
            scope[ROUTE_KEY] = route.path  # the metrics' route label: the template, never the path
        caller: Caller | None = None

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            if fault is not None:
                message = f"the path holds {fault}; send it in its plain form"
                raise BadRequest(message, errors=[field_error("path", message)])
            if route is None:
                if path == "/" and scope["method"] in ("GET", "HEAD"):
                    await _redirect(CONSOLE_PREFIX + "/", scope, receive, send_status)
                    return
                if is_console_path(path):
                    scope[ROUTE_KEY] = CONSOLE_PREFIX
                    await self._console(scope, receive, send_status)
                    return
                if path.startswith(("/v1/", "/internal")) or path == "/v1":
                    raise NotFound(f"no route for {path}")
                await (self.meta if is_meta_path(path) else self.app)(scope, receive, send_status)
                return
            gateway: Gateway = scope["app"].state.gateway
            caller, own_limits = await _authenticate(gateway, scope)
            needed = route.scope_for(scope["method"])
            if not caller.has_scope(needed):
                raise Forbidden(f"this operation needs the scope `{needed}`", required_scope=needed.value)
            decision = await gateway.limiter.check(caller, route, scope["method"], needed, own_limits)
            downstream = send_status
            if decision is not None:
                extra = decision.headers()

                async def downstream(message: Message) -> None:
                    if message["type"] == "http.response.start":
                        message["headers"] = [*message.get("headers", []), *extra]
                    await send_status(message)

            scope.setdefault("state", {})["caller"] = caller
            if route.target == GATEWAY:
                await self.app(scope, receive, downstream)
            else:
                await forward(
                    gateway.http,
                    gateway.base_urls[route.target],
                    route.target,
                    scope,
                    receive,
                    downstream,
                    identity=gateway.signed_identity(caller),
                    timeout=gateway.timeout(route),
                    body_limit=route_body_limit(route, gateway.settings),
                )
        except Problem as problem:
            response = problem_response(
                problem.status,
                problem.title,
                problem.detail,
                instance=path,
                errors=problem.errors,
                headers=problem.headers,
                **problem.extra,
            )
            await response(scope, receive, send_status)
        finally:
            if route is not None:
                scope[ROUTE_KEY] = route_template(route, scope.get(UPSTREAM_ROUTE_KEY))
            _log_access(scope, route, caller, status["code"], time.perf_counter() - started)

    async def _console(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The web console: no API credentials here (it signs its users in itself), its cookies pass through."""
        gateway: Gateway = scope["app"].state.gateway
        await forward(
            gateway.http,
            gateway.settings.console_url.rstrip("/"),
            "console",
            scope,
            receive,
            send,
            identity={},
            timeout=gateway.timeout_of(CONSOLE_TIMEOUT),
            body_limit=CONSOLE_BODY_LIMIT,
            drop=DROP_CONSOLE_REQUEST,
        )

    async def _metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The gateway's metrics: for the metrics token (Prometheus) or credentials with the `admin` scope."""
        gateway: Gateway = scope["app"].state.gateway
        expected = gateway.settings.metrics_token
        scheme, _, token = (_header(scope, b"authorization") or "").partition(" ")
        if expected and scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode()):
            await self.app(scope, receive, send)
            return
        try:
            caller, _ = await _authenticate(gateway, scope)
            if not caller.has_scope(ApiScope.admin):
                raise Forbidden("metrics need the metrics token or the scope `admin`", required_scope="admin")
        except Problem as problem:
            response = problem_response(
                problem.status, problem.title, problem.detail, instance=METRICS_PATH, headers=problem.headers,
                **problem.extra,
            )  # fmt: skip
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def is_console_path(path: str) -> bool:
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


async def _redirect(location: str, scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 307, "headers": [(b"location", location.encode())]})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _authenticate(gateway: Gateway, scope: Scope) -> tuple[Caller, Mapping[str, RateLimit]]:
    """The caller behind the request's credentials; a failure counts against the client's address."""
    client = str(scope["client"][0]) if scope.get("client") else ""
    try:
        return await gateway.authenticator.authenticate(
            _header(scope, b"authorization"), _header(scope, b"x-api-key"), client
        )
    except Unauthorized:
        await gateway.limiter.failed_authentication(client)  # 429 once this address has failed too often
        raise


def _log_access(scope: Scope, route: PublicRoute | None, caller: Caller | None, status: int, elapsed: float) -> None:
    # a long-poll waits on purpose and repeats all day: DEBUG only
    long_poll = route is not None and is_long_poll(route.path, scope.get("query_string", b""))
    level = logging.DEBUG if long_poll else logging.INFO
    if not access_log.isEnabledFor(level):
        return
    access_log.log(
        level,
        "%s %s %s",
        scope["method"],
        scope["path"],
        status,
        extra={
            "method": scope["method"],
            "path": scope["path"],
            "route": scope.get(ROUTE_KEY) if route is not None else None,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
            "principal": principal(caller),
            "client": scope["client"][0] if scope.get("client") else None,
        },
    )


class AccessLogFormatter(logging.Formatter):
    """One JSON line per request: who (key id or user, never the key), what, outcome, time, request id."""

    FIELDS = ("method", "path", "route", "status", "duration_ms", "principal", "client")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "service": "gateway",
            "msg": record.getMessage(),
            "request_id": current_request_id(),
            "trace_id": current_trace_id(),
        }
        for key in self.FIELDS:
            entry[key] = getattr(record, key, None)
        return json.dumps(entry)


def configure_access_log(json_lines: bool) -> None:
    """The gateway's access log replaces the generic one (which cannot name the caller)."""
    handler = logging.StreamHandler(sys.stdout)
    if json_lines:
        handler.setFormatter(AccessLogFormatter())
    access_log.handlers[:] = [handler]
    access_log.propagate = False
    access_log.setLevel(logging.INFO)
    logging.getLogger("pledge.http").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upstream call is noise


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
# the docs page loads only the gateway's own assets; Swagger UI sets style attributes, hence style-src inline
DOCS_CSP = (
    b"content-security-policy",
    b"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    b"connect-src 'self'; frame-ancestors 'none'",
)

# ReDoc injects its styles (style-src inline) and runs its search index in a worker made from a blob
REDOC_CSP = (
    b"content-security-policy",
    b"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    b"font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'",
)


def csp_of(path: str) -> tuple[bytes, bytes] | None:
    """The docs pages' own CSPs; none for the console (it sends its own); the API's for everything else."""
    if path == "/docs" or path.startswith("/docs/"):
        return DOCS_CSP
    if path == "/redoc" or path.startswith("/redoc/"):
        return REDOC_CSP
    return None if is_console_path(path) else API_CSP


class SecurityHeadersMiddleware:
    """Hardening headers on every answer (API answers are never cached by shared caches)."""

    def __init__(self, app: ASGIApp, hsts: bool = False) -> None:
        self.app = app
        self.extra = [*SECURITY_HEADERS]
        if hsts:
            self.extra.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = csp_of(scope["path"])

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                names = {k.lower() for k, _ in headers}
                extra = [(k, v) for k, v in self.extra if k not in names]  # the console's own headers win
                message["headers"] = [*headers, *extra, *([csp] if csp is not None else [])]
            await send(message)

        await self.app(scope, receive, with_headers)
