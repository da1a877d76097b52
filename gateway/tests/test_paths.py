"""One form of a path: what the edge matches is what it forwards; every ambiguous form is a 400 problem."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote

import pytest
from asgi_lifespan import LifespanManager
from conftest import new_key
from pledge_common.problems import PROBLEM_JSON
from pledge_dev.testing import ServiceSpec
from pledge_gateway.config import Settings
from pledge_gateway.main import create_app
from pledge_gateway.paths import path_fault
from pledge_gateway.routes import Scope
from sqlalchemy.ext.asyncio import AsyncEngine

AMBIGUOUS = [
    "/v1/reports/../webhooks",
    "/v1/reports/./webhooks",
    "/v1/reports/..",
    "/v1/reports/.",
    "/v1/reports/%2e%2e/webhooks",
    "/v1/reports/%2E%2e/webhooks",
    "/v1/reports/.%2E/webhooks",
    "/v1/reports/%2e/webhooks",
    "/v1/reports/%252e%252e/webhooks",
    "/v1/reports/%25252e%25252e/webhooks",
    "/v1/reports/..;x/webhooks",
    "/v1/reports/%2e%2e;/webhooks",
    "/v1/reports/.../webhooks",
    "/v1/reports%2f..%2fwebhooks",
    "/v1/reports%2F..%2Fwebhooks",
    "/v1/reports/a%2fb",
    "/v1/reports/a%252fb",
    "/v1/reports\\..\\webhooks",
    "/v1/reports/a\\b",
    "/v1/reports%5c..%5cwebhooks",
    "/v1/reports/%255c",
    "/v1/reports//webhooks",
    "/v1//reports",
    "/v1/tickets/../../internal/v1/events",
    "/v1/tickets/x#/../../webhooks",
]
PLAIN = [
    "/v1/reports",
    "/v1/reports/",
    "/v1/tickets/crm:WO-1",
    "/v1/tickets/crm:WO/1",
    "/v1/tickets/crm:a.b",
    "/v1/tickets/crm:a..b",
    "/v1/tickets/crm:.hidden",
    "/v1/tickets/crm:%41%20b",
    "/v1/tickets/crm:100%25",
    "/v1/tickets/crm:a;b",
]


@pytest.mark.parametrize("raw", AMBIGUOUS)
def test_an_ambiguous_path_has_a_fault(raw: str) -> None:
    assert path_fault(raw) is not None


@pytest.mark.parametrize("raw", PLAIN)
def test_a_plain_path_has_none(raw: str) -> None:
    assert path_fault(raw) is None


@asynccontextmanager
async def gateway_app(service_spec: ServiceSpec, migrated_url: str) -> AsyncIterator[Any]:
    application = create_app(Settings(**{"database_url": migrated_url, **service_spec.env}))
    async with LifespanManager(application):
        yield application


async def raw_request(app: Any, method: str, raw_path: str, key: str) -> tuple[int, dict[str, str], bytes]:
    """One request with its path exactly as given (an HTTP client would resolve its dot segments first)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path),  # as the ASGI server decodes it
        "raw_path": raw_path.encode("latin-1"),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"gateway.test"), (b"authorization", f"Bearer {key}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("gateway.test", 80),
        "state": {},
    }
    sent: list[dict[str, Any]] = []
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, body


@pytest.mark.parametrize("raw", AMBIGUOUS)
async def test_an_ambiguous_path_is_a_400_problem_naming_the_path_before_any_route(
    service_spec: ServiceSpec, migrated_url: str, engine: AsyncEngine, clean_keys: None, raw: str
) -> None:
    key, _ = await new_key(engine, [Scope.reports_read, Scope.tickets_read])
    async with gateway_app(service_spec, migrated_url) as app:
        status, headers, body = await raw_request(app, "POST", raw, key)
    assert status == 400, body
    assert headers["content-type"] == PROBLEM_JSON
    assert b'"field":"path"' in body.replace(b" ", b"")


async def test_a_reports_key_cannot_reach_webhooks_through_a_dot_segment(
    service_spec: ServiceSpec, migrated_url: str, engine: AsyncEngine, clean_keys: None
) -> None:
    key, _ = await new_key(engine, [Scope.reports_read])
    async with gateway_app(service_spec, migrated_url) as app:
        plain = await raw_request(app, "GET", "/v1/webhooks", key)
        dotted = await raw_request(app, "GET", "/v1/reports/../webhooks", key)
        encoded = await raw_request(app, "GET", "/v1/reports/%2e%2E/webhooks", key)
    assert plain[0] == 403
    assert dotted[0] == 400
    assert encoded[0] == 400


@pytest.mark.parametrize("raw", [p for p in PLAIN if p.startswith("/v1/tickets/")])
async def test_the_service_receives_exactly_the_path_the_edge_matched(
    service_spec: ServiceSpec, migrated_url: str, engine: AsyncEngine, clean_keys: None, raw: str
) -> None:
    key, _ = await new_key(engine, [Scope.tickets_read])
    async with gateway_app(service_spec, migrated_url) as app:
        status, _, body = await raw_request(app, "GET", raw + "/x", key)
    assert status == 200, body
    assert json.loads(body)["path"] == unquote(raw + "/x")
