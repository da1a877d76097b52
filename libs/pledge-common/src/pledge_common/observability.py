"""Request ids, JSON logs and Prometheus metrics: the same for every process of the suite."""

import json
import logging
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
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
        self.service = service

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


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
            await send(message)

        self.metrics.in_flight.labels(self.metrics.service).inc()
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
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(self.metrics.service, method, route_path, status_holder["status"]).inc()
            self.metrics.latency.labels(self.metrics.service, method, route_path).observe(elapsed)
            if route_path not in ("/healthz", "/metrics", "/internal/v1/events"):
                log.info(
                    "%s %s %s",
                    method,
                    scope.get("path"),
                    status_holder["status"],
                    extra={
                        "method": method,
                        "path": scope.get("path"),
                        "route": route_path,
                        "status": status_holder["status"],
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
