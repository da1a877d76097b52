"""Request ids, JSON logs and Prometheus metrics: the same for every process of the suite.

Route labels. A request is labelled with the template of the route that served it (`/v1/tickets/{ticket_id}`),
never its path: a FastAPI route's own, or the one a proxy sets in the scope under ROUTE_KEY. A service names its
template in the `X-Pledge-Route` answer header, which the gateway takes as its label when the template lies
within the gateway route that forwarded the call (else the gateway route's own template), and never passes on.
A request that matched nothing is `unmatched`.

Long-polls. A feed poll between services (`/internal/v1/events`) and any request with a `wait=` parameter
waits on purpose, for up to half a minute: counted apart (`http_long_poll_*`), so that they neither skew the
latency histogram of the routes that serve people nor fill the access log (logged at DEBUG only).
"""

import asyncio
import json
import logging
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pledge_common import domain_metrics, tracing

REQUEST_ID_HEADER = "X-Request-ID"
ROUTE_KEY = "pledge.route"  # the route template a proxy matched, for the labels and the access log
# A service names the template of the route that answered (the gateway labels its metrics with it, then drops it)
ROUTE_HEADER = b"x-pledge-route"
LONG_POLL_ROUTES = frozenset({"/internal/v1/events"})
QUIET_ROUTES = frozenset({"/healthz", "/metrics"})
SCRAPE_TIMEOUT_SECONDS = 3.0
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
log = logging.getLogger("pledge.http")


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> None:
    _request_id.set(value)


def _clean_request_id(raw: str | None) -> str:
    if raw and 0 < len(raw) <= 128 and raw.isascii() and raw.isprintable():
        return raw
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """One JSON object per line, always with the request id of the current request (if any)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        trace_id = tracing.current_trace_id()
        if trace_id is not None:
            entry["trace_id"] = trace_id
        for key in ("service", "method", "path", "route", "status", "duration_ms", "client"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO", json_lines: bool = True) -> None:
    handler = logging.StreamHandler(sys.stdout)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))

    def add_service(record: logging.LogRecord) -> bool:
        record.service = service
        return True

    handler.addFilter(add_service)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


class Metrics:
    """Per-app registry, so that several apps in one test process never collide."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by route, method and status",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            ["service", "method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.in_flight = Gauge("http_requests_in_flight", "Requests being served", ["service"], registry=self.registry)
        self.long_polls = Counter(
            "http_long_poll_requests_total",
            "Long-polls (feed polls between services, `wait=` requests) by route, method and status",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.long_poll_latency = Histogram(
            "http_long_poll_duration_seconds",
            "Long-poll duration by route (mostly the wait asked for)",
            ["service", "method", "route"],
            buckets=(0.01, 0.1, 0.5, 1, 2.5, 5, 10, 20, 30, 60),
            registry=self.registry,
        )
        self.service = service
        self._scrape_hooks: list[Callable[[], Awaitable[None]]] = []

    def on_scrape(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` before each scrape (it sets gauges read from the database: queue backlogs)."""
        self._scrape_hooks.append(hook)

    async def refresh(self) -> None:
        """Run the scrape hooks; one that fails or is slow leaves its gauges at their last values."""
        for hook in self._scrape_hooks:
            try:
                async with asyncio.timeout(SCRAPE_TIMEOUT_SECONDS):
                    await hook()
            except Exception:  # a scrape never fails for a gauge: the gauge keeps its last value
                log.warning("a metrics scrape hook failed", exc_info=True)

    def render(self) -> Response:
        body = generate_latest(self.registry) + generate_latest(domain_metrics.REGISTRY)
        return Response(body, media_type=CONTENT_TYPE_LATEST)


def is_long_poll(route: str, query_string: bytes) -> bool:
    """A feed poll, or a request that asks to wait (`wait=` with a value other than 0)."""
    if route in LONG_POLL_ROUTES:
        return True
    if b"wait=" not in query_string:
        return False
    for pair in query_string.split(b"&"):
        name, _, value = pair.partition(b"=")
        if name == b"wait" and value not in (b"", b"0"):
            return True
    return False


def matched_template(scope: Scope) -> str | None:
    """The full template of the FastAPI route that matched (None before routing or when none matched).

    A route of an included router knows only its own part of the path (`/v1/events` for the feed of
    `/internal/v1/events`); the full template is the one FastAPI matched, kept in its routing context."""
    context = scope.get("fastapi", {}).get("effective_route_context")
    template = getattr(context, "path_format", None)
    if isinstance(template, str) and template:
        return template
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else None


def route_label(scope: Scope) -> str:
    """The template of the route that served the request (see the module's docstring)."""
    template = scope.get(ROUTE_KEY)
    if template:
        return str(template)
    return matched_template(scope) or "unmatched"


class RequestContextMiddleware:
    """Request id in and out, access log, metrics, and a problem+json 500 for anything unexpected."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        request_id = _clean_request_id(headers.get(REQUEST_ID_HEADER.lower()))
        _request_id.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        status_holder = {"status": 500, "started": False}
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                message.setdefault("headers", [])
                message["headers"] = [
                    *[(k, v) for k, v in message["headers"] if k.lower() != b"x-request-id"],
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
                template = matched_template(scope)
                if template is not None and template.startswith("/v1/") and ROUTE_KEY not in scope:
                    message["headers"].append((ROUTE_HEADER, template.encode()))
            await send(message)

        self.metrics.in_flight.labels(self.metrics.service).inc()
        with tracing.server_span(headers, str(scope.get("method", ""))) as span:
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as err:
                if status_holder["started"]:
                    log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
                    raise
                from pledge_common.problems import unexpected_response

                # a 503 with Retry-After when the database is unavailable, else a 500 (logged with its traceback)
                response = unexpected_response(err, scope.get("path"))
                await response(scope, receive, send_with_id)
            finally:
                self.metrics.in_flight.labels(self.metrics.service).dec()
                elapsed = time.perf_counter() - started
                self._record(scope, status_holder["status"], elapsed, span)

    def _record(self, scope: Scope, status: int, elapsed: float, span: Any) -> None:
        route_path = route_label(scope)
        method = scope.get("method", "")
        service = self.metrics.service
        long_poll = is_long_poll(route_path, scope.get("query_string", b""))
        if long_poll:
            self.metrics.long_polls.labels(service, method, route_path, status).inc()
            self.metrics.long_poll_latency.labels(service, method, route_path).observe(elapsed)
        else:
            self.metrics.requests.labels(service, method, route_path, status).inc()
            self.metrics.latency.labels(service, method, route_path).observe(elapsed)
        if span is not None:
            span.update_name(f"{method} {route_path}")
            span.set_attribute("http.request.method", method)
            span.set_attribute("http.route", route_path)
            span.set_attribute("http.response.status_code", status)
        if route_path in QUIET_ROUTES:
            return
        level = logging.DEBUG if long_poll else logging.INFO
        if not log.isEnabledFor(level):
            return
        log.log(
            level,
            "%s %s %s",
            method,
            scope.get("path"),
            status,
            extra={
                "method": method,
                "path": scope.get("path"),
                "route": route_path,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )
