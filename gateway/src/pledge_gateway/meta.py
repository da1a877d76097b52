"""The gateway's own surface: readiness of the whole suite, the merged OpenAPI and its docs page."""

import asyncio
import copy
import importlib.resources
import logging
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from pledge_common.app import own_readiness
from pledge_common.openapi import (
    PROBLEM,
    PROBLEM_SCHEMA,
    RATE_LIMIT_HEADERS,
    add_header,
    declare_problems,
    name_schemas,
    path_operations,
    problem_content,
)
from pledge_common.problems import PROBLEM_TYPE_PREFIX, PROBLEM_TYPES, NotFound, problem_response
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import Scope
from swagger_ui_bundle import swagger_ui_path

from pledge_gateway.routes import GATEWAY, SERVICES, match_route

log = logging.getLogger("pledge.gateway.meta")
DOCS_JS = Path(__file__).resolve().parent / "static" / "docs.js"
# Swagger UI from the gateway's own copy (the swagger-ui-bundle package): nothing is fetched from a CDN, so the
# page works air-gapped and behind firewalls that block CDNs; no inline script (see edge.DOCS_CSP)
DOCS_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Pledge API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi="/openapi.json"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/pledge-docs.js"></script>
</body>
</html>
"""
REDOC_JS = Path(__file__).resolve().parent / "static" / "redoc.js"
# ReDoc's standalone bundle from the gateway's own copy (the fastapi-standalone-docs package ships it)
REDOC_ASSETS = Path(str(importlib.resources.files("fastapi_standalone_docs") / "static" / "redoc"))
REDOC_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pledge API</title>
<link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png">
</head>
<body>
<div id="redoc" data-openapi="/openapi.json"></div>
<script src="/redoc/static/redoc.standalone.js"></script>
<script src="/redoc/pledge-redoc.js"></script>
</body>
</html>
"""
GATEWAY_RESPONSES = {
    "400": "the path is not in its one plain form (a dot segment, an encoded slash, a backslash, an empty segment)",
    "401": "no or invalid credentials",
    "403": "the credentials lack the scope this route needs",
    "413": "the request body is too large",
    "429": "rate limit reached; see Retry-After",
    "502": "the service behind this route failed",
    "503": "the service behind this route is unavailable",
    "504": "the service behind this route did not answer in time",
}


async def service_readiness(http: httpx.AsyncClient, base_url: str, timeout: float) -> str:  # noqa: ASYNC109
    try:
        response = await http.get(f"{base_url}/readyz", timeout=timeout)
    except httpx.HTTPError as err:
        return f"unreachable ({type(err).__name__})"
    return "ready" if response.status_code == 200 else f"not ready ({response.status_code})"


class AssetFiles(StaticFiles):
    """A folder of the docs pages' assets: a missing one is a 404 problem (the meta router has no handler that
    would turn StaticFiles' HTTPException into an answer: it would be a 500)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as err:
            return problem_response(
                err.status_code, "Not Found" if err.status_code == 404 else "Error", "no such asset"
            )


def router() -> Router:
    """Answered by the edge before FastAPI's own routing (which would serve its gateway-only versions)."""

    async def readyz(request: Request) -> Response:
        """Ready when the gateway can serve: its database answers and its migrations are at head. The services
        behind it are reported, not required: a route to a service that is down answers its own 503 problem,
        and the routes to the others keep working (one service down never takes ingestion off the Ingress)."""
        state = request.app.state
        gateway = state.gateway
        problem = await own_readiness(state)
        if problem is not None:
            return problem
        timeout = gateway.settings.readiness_timeout_seconds
        answers = await asyncio.gather(
            *(service_readiness(gateway.http, gateway.base_urls[s], timeout) for s in SERVICES)
        )
        services = dict(zip(SERVICES, answers, strict=True))
        return JSONResponse(
            {"status": "ready", "service": "gateway", "migration": state.migrations.head, "services": services}
        )

    async def openapi(request: Request) -> Response:
        """Every service's public routes (and the gateway's own) in one document."""
        return JSONResponse(await request.app.state.openapi.document(request.app))

    async def docs(request: Request) -> Response:
        """Swagger UI over the merged OpenAPI."""
        return HTMLResponse(DOCS_HTML)

    async def docs_js(request: Request) -> Response:
        return FileResponse(DOCS_JS, media_type="text/javascript")

    async def redoc(request: Request) -> Response:
        """ReDoc over the merged OpenAPI."""
        return HTMLResponse(REDOC_HTML)

    async def redoc_js(request: Request) -> Response:
        return FileResponse(REDOC_JS, media_type="text/javascript")

    async def redoc_logo(request: Request) -> Response:
        """The logo ReDoc asks for beside the page (a relative URL inside its bundle)."""
        return FileResponse(REDOC_ASSETS / "logo-mini.svg", media_type="image/svg+xml")

    async def problems(request: Request) -> Response:
        """The registry of problem types: what each `type` of an error answer means (no credentials needed)."""
        return JSONResponse({"items": [t.as_json() for t in PROBLEM_TYPES.values()]})

    async def problem(request: Request) -> Response:
        """One problem type: the page its `type` URI names."""
        slug = str(request.path_params["slug"])
        kind = PROBLEM_TYPES.get(slug)
        if kind is None:
            raise NotFound(f"no problem type {slug!r}; GET /problems lists them")
        return JSONResponse(kind.as_json())

    return Router(
        routes=[
            Route("/readyz", readyz, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/docs", docs, methods=["GET"]),
            Route(PROBLEM_TYPE_PREFIX.rstrip("/"), problems, methods=["GET"]),
            Route(PROBLEM_TYPE_PREFIX + "{slug}", problem, methods=["GET"]),
            Route("/docs/pledge-docs.js", docs_js, methods=["GET"]),
            Mount("/docs/static", AssetFiles(directory=Path(str(swagger_ui_path)))),
            Route("/redoc", redoc, methods=["GET"]),
            Route("/redoc/pledge-redoc.js", redoc_js, methods=["GET"]),
            Route("/redoc/logo-mini.svg", redoc_logo, methods=["GET"]),
            Mount("/redoc/static", AssetFiles(directory=REDOC_ASSETS)),
        ]
    )


META_PATHS = frozenset(
    {
        "/readyz",
        "/openapi.json",
        "/docs",
        "/docs/pledge-docs.js",
        "/redoc",
        "/redoc/pledge-redoc.js",
        "/redoc/logo-mini.svg",
        PROBLEM_TYPE_PREFIX.rstrip("/"),
    }
)
DOCS_ASSETS = ("/docs/static/", "/redoc/static/")


def is_meta_path(path: str) -> bool:
    """Whether the gateway answers `path` itself, before its routes and without credentials."""
    return path in META_PATHS or path.startswith((PROBLEM_TYPE_PREFIX, *DOCS_ASSETS))


class MergedOpenAPI:
    """Fetches each service's document, keeps its `/v1/...` paths, caches the merge for a short TTL."""

    def __init__(self, http: httpx.AsyncClient, base_urls: dict[str, str], ttl: float) -> None:
        self.http = http
        self.base_urls = base_urls
        self.ttl = ttl
        self.cached: dict[str, Any] | None = None
        self.cached_at = 0.0
        self.lock = asyncio.Lock()

    async def document(self, app: FastAPI) -> dict[str, Any]:
        if self.cached is not None and time.monotonic() - self.cached_at < self.ttl:
            return self.cached
        async with self.lock:
            if self.cached is None or time.monotonic() - self.cached_at >= self.ttl:
                fetched = await asyncio.gather(*(self._fetch(s) for s in SERVICES))
                self.cached = merge_documents(_own_document(app), dict(zip(SERVICES, fetched, strict=True)))
                self.cached_at = time.monotonic()
        return self.cached

    async def _fetch(self, service: str) -> dict[str, Any] | str:
        try:
            response = await self.http.get(f"{self.base_urls[service]}/openapi.json", timeout=3.0)
            if response.status_code != 200:
                return f"answered {response.status_code}"
            document = response.json()
            if not isinstance(document, dict):
                return "answered something that is not an OpenAPI document"
            return document
        except (httpx.HTTPError, ValueError) as err:
            return f"unreachable ({type(err).__name__})"


def _own_document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


class MergeConflict(ValueError):
    """Two documents define the same schema differently, or the same operationId: fix it at the source
    (rename the schema class or the route function); the merge never renames silently."""


def merge_documents(own: dict[str, Any], services: dict[str, dict[str, Any] | str]) -> dict[str, Any]:
    """One OpenAPI 3.1 document: public paths only, each service's schemas, operations and webhooks as they are.

    Every error is documented as the one shared `Problem` (each document is passed through
    `declare_problems` first, so a service whose document does not say it yet is read the same way). A schema
    name two documents define differently, an operationId or a webhook name used twice is a `MergeConflict`:
    a generated client would lose one of them."""
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Pledge API",
            "version": "1",
            "description": "Every public route of Pledge, through the gateway. Each operation names the scope "
            "it needs (`x-required-scope`). Send an API key as `X-API-Key` or `Authorization: Bearer`, or a "
            "user token as `Authorization: Bearer`.",
        },
        "paths": {},
        "webhooks": {},
        "components": {
            "schemas": {PROBLEM: copy.deepcopy(PROBLEM_SCHEMA)},
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "Bearer": {"type": "http", "scheme": "bearer", "description": "an API key or a user JWT"},
            },
        },
        "security": [{"ApiKey": []}, {"Bearer": []}],
    }
    notes: list[str] = []
    unrouted: list[str] = []
    schemas: dict[str, Any] = merged["components"]["schemas"]
    defined_in: dict[str, str] = {}
    operation_ids: dict[str, str] = {}
    sources: list[tuple[str, dict[str, Any] | str]] = [(GATEWAY, own), *services.items()]
    for name, document in sources:
        if isinstance(document, str):
            notes.append(f"{name}: {document}; its paths are missing")
            continue
        document = name_schemas(declare_problems(copy.deepcopy(document)))
        theirs: dict[str, Any] = document.get("components", {}).get("schemas", {})
        theirs.pop(PROBLEM)  # the same in every document: the merged one has it once
        for schema, body in theirs.items():
            if schema in schemas and schemas[schema] != body:
                raise MergeConflict(f"schema {schema} is defined by {defined_in[schema]} and, differently, {name}")
            schemas[schema] = body
            defined_in.setdefault(schema, name)
        for path, operations in document.get("paths", {}).items():
            if not path.startswith("/v1/"):
                continue  # /internal/..., health, metrics: never public
            route = match_route(path)
            if route is None or route.target != name:
                unrouted.append(f"{name}: {path}")
                continue
            for method, operation in path_operations(operations):
                where = f"{name} {method.upper()} {path}"
                clash = operation_ids.setdefault(str(operation.get("operationId", where)), where)
                if clash != where:
                    raise MergeConflict(f"operationId {operation.get('operationId')} of {where} is also {clash}'s")
            merged["paths"][path] = _decorate(operations, route.scope_for)
        for hook, item in document.get("webhooks", {}).items():
            if hook in merged["webhooks"]:
                raise MergeConflict(f"webhook {hook} of {name} is declared twice")
            merged["webhooks"][hook] = item
    if unrouted:
        merged["info"]["x-pledge-unrouted"] = unrouted
    if notes:
        merged["info"]["x-pledge-notes"] = notes
        merged["info"]["description"] += "\n\nNot available right now: " + "; ".join(notes)
    return merged


def _decorate(operations: dict[str, Any], scope_for: Any) -> dict[str, Any]:
    """What the gateway adds to a routed operation: its scope, its own errors, the rate limit headers it
    sends (on successes and the 429), Retry-After (on 429 and 503)."""
    for method, operation in path_operations(operations):
        operation["x-required-scope"] = str(scope_for(method.upper()).value)
        responses = operation.setdefault("responses", {})
        for status, description in GATEWAY_RESPONSES.items():
            responses.setdefault(status, {"description": description, "content": problem_content()})
        for status, response in responses.items():
            if not isinstance(response, dict):
                continue
            if str(status).startswith("2") or str(status) == "429":
                for header in RATE_LIMIT_HEADERS:
                    add_header(response, header)
            if str(status) in {"429", "503"}:
                add_header(response, "Retry-After")
    return operations
