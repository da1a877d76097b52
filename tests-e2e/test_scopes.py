"""Scopes hold at the gateway and at every service, by every spelling of a path.

Every operation of the merged OpenAPI is called with a key that holds every scope but the one it needs, by
its plain path and by dot-segment variants that start under a route the key may use; each service is called
directly with a signed identity that lacks the scope. Nothing answers 2xx and nothing is written. The
services' own declarations are checked against the gateway's route table in-process (no suite needed).
"""

import importlib
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import httpx
import pytest
import yarl
from fastapi import FastAPI
from pledge_common.identity import Caller, identity_headers
from pledge_common.openapi import path_operations
from pledge_common.scopes import Scope
from pledge_dev.suite import Suite
from pledge_gateway.routes import GATEWAY, ROUTE_TABLE, SERVICES, PublicRoute, match_route

ALLOWED = {400, 403, 404, 405}
# listings whose content a refused write would have changed (checked before and after the walk)
WATCHED = [
    "/v1/departments",
    "/v1/segments",
    "/v1/calendars",
    "/v1/processes",
    "/v1/services",
    "/v1/commitments",
    "/v1/agreements",
    "/v1/webhooks",
    "/v1/surveys",
    "/v1/feedback",
    "/v1/complaints",
    "/v1/corrective-actions",
    "/v1/api-keys",
    "/v1/integrations/alertmanager/mappings",
]


# listings that take no `limit` (not paged)
def concrete(template: str) -> str:
    """A path of the template with a placeholder in each parameter."""
    return re.sub(r"\{[^}]+\}", "x1", template)


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for template, item in sorted(document["paths"].items()):
        if template.startswith("/v1/"):
            for method, _ in path_operations(item):
                yield method.upper(), template


def decoy_for(method: str, needed: str) -> PublicRoute:
    """A prefix route whose scope for `method` is not `needed`: a key lacking `needed` may enter there."""
    return next(
        r
        for r in ROUTE_TABLE
        if r.target != GATEWAY and r.prefix and "{" not in r.path and r.scope_for(method) != needed
    )


def dotted_variants(method: str, path: str, needed: str) -> list[str]:
    """`path` reached from under another route: `/v1/<other>/../<rest>` in every spelling of `..` and `/`."""
    decoy = decoy_for(method, needed).path
    rest = path.removeprefix("/v1/")
    up = decoy.count("/") - 1  # segments below /v1
    variants = []
    for dots in ("..", "%2e%2e", "%2E%2e", "%252e%252e", "..;"):
        variants.append(decoy + f"/{dots}" * up + "/" + rest)
    variants.append(decoy + "%2f..%2f" * up + rest)
    variants.append(decoy + "%2F..%2F" * up + rest)
    variants.append(decoy + "\\.." * up + "\\" + rest)
    variants.append(decoy + "%5c.." * up + "%5c" + rest)
    return variants


async def raw_call(
    session: aiohttp.ClientSession, base: str, method: str, raw_path: str, headers: dict[str, str]
) -> int:
    """The path goes on the wire exactly as written (an ordinary client would resolve its dot segments)."""
    url = yarl.URL(base + raw_path, encoded=True)
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None
    async with session.request(
        method, url, data=body, headers={**headers, "Content-Type": "application/json"}, allow_redirects=False
    ) as response:
        await response.read()
        return response.status


# ---------------------------------------------------------------- declared scopes, in-process


def service_app(service: str) -> FastAPI:
    app: FastAPI = importlib.import_module(f"{service}_svc.main").create_app()
    return app


@pytest.fixture(scope="module")
def service_apps(monkeypatch_module: pytest.MonkeyPatch) -> dict[str, FastAPI]:
    monkeypatch_module.setenv("PLEDGE_ENVIRONMENT", "test")
    return {service: service_app(service) for service in SERVICES}


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


async def test_every_service_operation_declares_the_scope_of_the_gateway_route_table(
    service_apps: dict[str, FastAPI],
) -> None:
    """A caller with no scope is refused by the service itself, naming the scope the gateway's table names."""
    nobody = Caller(sub=str(uuid.uuid4()), kind="key", scopes=frozenset(), sources=None)
    mismatches = []
    seen = 0
    for service, app in service_apps.items():
        headers = identity_headers(nobody, app.state.settings.service_token)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
            for method, template in operations(app.openapi()):
                seen += 1
                path = concrete(template)
                route = match_route(path)
                if route is None or route.target != service:
                    mismatches.append(f"{service} {method} {template}: not routed to {service} by the gateway")
                    continue
                expected = route.scope_for(method).value
                response = await client.request(method, path, headers=headers)
                declared = response.json().get("required_scope") if response.status_code == 403 else None
                if declared != expected:
                    mismatches.append(
                        f"{service} {method} {template}: gateway {expected} service {declared} {response.status_code}"
                    )
    assert seen > 50
    assert mismatches == []


# ---------------------------------------------------------------- through the gateway and at each service


@pytest.fixture(scope="module")
async def admin(suite: Suite) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {suite.admin_key}"}
    async with httpx.AsyncClient(base_url=suite.gateway_url, headers=headers, timeout=30) as client:
        yield client


# what the suite's own background work changes while the walk runs (a webhook's delivery attempts), not a write
DELIVERY_STATE = frozenset({"consecutive_failures", "last_failure_at", "last_success_at", "disabled_at", "updated_at"})


async def snapshot(admin: httpx.AsyncClient) -> dict[str, Any]:
    found = {}
    for path in WATCHED:
        response = await admin.get(path, params={"limit": 100})
        assert response.status_code == 200, (path, response.text)
        body = response.json()
        if path == "/v1/webhooks":
            body["items"] = [{k: v for k, v in w.items() if k not in DELIVERY_STATE} for w in body["items"]]
        found[path] = body
    return found


async def test_no_key_reaches_an_operation_without_its_scope_by_any_spelling_of_the_path(
    suite: Suite, admin: httpx.AsyncClient
) -> None:
    document = (await admin.get("/openapi.json")).json()
    ops = list(operations(document))
    assert len(ops) > 50
    lacking: dict[str, str] = {}
    for scope in {document["paths"][t][m.lower()]["x-required-scope"] for m, t in ops}:
        others = sorted(s.value for s in Scope if s.value not in (scope, Scope.admin.value))
        created = await admin.post("/v1/api-keys", json={"name": f"lacks {scope}", "scopes": others})
        assert created.status_code == 201, created.text
        lacking[scope] = created.json()["key"]
    before = await snapshot(admin)
    leaks = []
    async with aiohttp.ClientSession() as session:
        for method, template in ops:
            needed = document["paths"][template][method.lower()]["x-required-scope"]
            headers = {"Authorization": f"Bearer {lacking[needed]}"}
            path = concrete(template)
            plain = await raw_call(session, suite.gateway_url, method, path, headers)
            if plain != 403:
                leaks.append(f"{method} {path}: {plain}")
            for variant in dotted_variants(method, path, needed):
                status = await raw_call(session, suite.gateway_url, method, variant, headers)
                if status not in ALLOWED:
                    leaks.append(f"{method} {variant}: {status}")
        admin_headers = {"Authorization": f"Bearer {suite.admin_key}"}
        for internal in ("/v1/tickets/../../internal/v1/events", "/v1/tickets/%2e%2e/%2e%2e/internal/v1/events"):
            status = await raw_call(session, suite.gateway_url, "GET", internal, admin_headers)
            if status not in ALLOWED:
                leaks.append(f"GET {internal}: {status}")
    assert leaks == []
    after = await snapshot(admin)
    assert after == before


async def test_every_service_refuses_a_signed_caller_without_the_scope(suite: Suite) -> None:
    """Called directly (as a routing mistake at the edge would), each service checks the scope itself."""
    leaks = []
    async with httpx.AsyncClient(timeout=30) as client:
        for service in SERVICES:
            base = suite.url(service)
            document = (await client.get(base + "/openapi.json")).json()
            for method, template in operations(document):
                path = concrete(template)
                route = match_route(path)
                assert route is not None, template
                needed = route.scope_for(method).value
                others = frozenset(s.value for s in Scope if s.value not in (needed, Scope.admin.value))
                caller = Caller(sub=str(uuid.uuid4()), kind="key", scopes=others, sources=None)
                response = await client.request(
                    method, base + path, headers=identity_headers(caller, suite.service_token)
                )
                if response.status_code != 403 or response.json().get("required_scope") != needed:
                    leaks.append(f"{service} {method} {path}: {response.status_code}")
    assert leaks == []
