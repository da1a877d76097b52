"""Stand-in upstreams for the gateway's own tests (the real services are exercised in tests-e2e).

Each stub answers as one named service: readiness, an OpenAPI document, an echo of what it received
(including the caller it verified from the signed identity headers), slow and streamed answers, and a
source-filtered ticket lookup like the real services must do.
"""

import asyncio
import hashlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from pledge_common.identity import verify_identity
from pledge_common.problems import Unauthorized
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

TOKEN = "gateway-test-token"
STATE: dict[str, dict[str, Any]] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def openapi_document(service: str) -> dict[str, Any]:
    paths = {
        "commitment": "/v1/departments",
        "tracking": "/v1/tickets",
        "evaluation": "/v1/alerts",
        "feedback": "/v1/complaints",
    }
    item = f"{service.title()}Item"  # each service names its own schemas: the merge renames nothing
    return {
        "openapi": "3.1.0",
        "info": {"title": service, "version": "1"},
        "paths": {
            paths[service]: {
                "get": {
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{item}"}}},
                        }
                    }
                }
            },
            "/internal/v1/events": {"get": {"responses": {"200": {"description": "feed"}}}},
            "/healthz": {"get": {"responses": {"200": {"description": "alive"}}}},
        },
        "components": {"schemas": {item: {"type": "object", "title": item}}},
    }


def make_stub(service: str) -> Starlette:
    STATE[service] = {"ready": True, "openapi": True}

    def caller(request: Request) -> dict[str, Any] | None:
        try:
            found = verify_identity(request.headers, TOKEN)
        except Unauthorized as err:
            return {"rejected": str(err)}
        return found.to_json() if found is not None else None

    async def readyz(request: Request) -> Response:
        if STATE[service]["ready"]:
            return JSONResponse({"status": "ready", "service": service})
        return JSONResponse({"status": "not ready"}, status_code=503)

    async def openapi(request: Request) -> Response:
        if not STATE[service]["openapi"]:
            return PlainTextResponse("gone", status_code=503)
        return JSONResponse(openapi_document(service))

    async def echo(request: Request) -> Response:
        digest = hashlib.sha256()
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            digest.update(chunk)
        if request.query_params.get("sleep"):
            await asyncio.sleep(float(request.query_params["sleep"]))
        if request.query_params.get("crash"):
            return PlainTextResponse("Traceback (most recent call last): secret internals", status_code=500)
        if request.query_params.get("stream"):
            count = int(request.query_params["stream"])

            async def lines() -> Any:
                for i in range(count):
                    yield f'{{"line": {i}}}\n'.encode()

            return StreamingResponse(lines(), media_type="application/x-ndjson")
        answer = JSONResponse(
            {
                "service": service,
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "headers": {k: v for k, v in request.headers.items()},
                "body_size": size,
                "body_sha256": digest.hexdigest(),
                "caller": caller(request),
            },
            headers={"X-Upstream": service, "Server": "stub", "X-Request-ID": "upstream-overrides-nothing"},
        )
        if request.query_params.get("route_template"):  # as a service names the template of its route
            answer.headers["X-Pledge-Route"] = request.query_params["route_template"]
        if request.query_params.get("set_cookie"):
            answer.set_cookie("session", "belongs-to-one-caller")
        return answer

    async def jwks(request: Request) -> Response:
        return JSONResponse(STATE[service].get("jwks", {"keys": []}))

    async def ticket(request: Request) -> Response:
        """Tickets `<source>-<n>` (also addressed as `<source>:<n>`): visible only to callers that may see the
        source (404 otherwise)."""
        ticket_id = request.path_params["ticket_id"].replace(":", "-", 1)
        seen = caller(request)
        source = ticket_id.split("-")[0]
        if seen is None or "rejected" in seen:
            return JSONResponse({"title": "Unauthorized", "status": 401}, status_code=401)
        if source == "bad":
            body = {"title": "Unprocessable Content", "status": 422, "detail": "path.ref: not a ticket reference",
                    "errors": [{"field": "path.ref", "message": "not a ticket reference"}]}  # fmt: skip
            return JSONResponse(body, status_code=422, media_type="application/problem+json")
        if seen["sources"] is not None and source not in seen["sources"]:
            return JSONResponse(
                {"title": "Not Found", "status": 404}, status_code=404, media_type="application/problem+json"
            )
        return JSONResponse(
            {
                "id": ticket_id,
                "source": source,
                "node_runs": [{"id": f"{ticket_id}-run-1", "node_key": "accept"}],
            }
        )

    async def per_ticket(request: Request) -> Response:
        if STATE[service].get("down_parts"):
            return JSONResponse({"title": "Service Unavailable", "status": 503}, status_code=503)
        ticket_id = request.query_params.get("ticket_id")
        return JSONResponse({"items": [{"ticket_id": ticket_id, "from": service, "path": request.url.path}]})

    routes = [
        Route("/readyz", readyz),
        Route("/openapi.json", openapi),
        Route("/jwks.json", jwks),
        Route("/v1/tickets/{ticket_id}", ticket) if service == "tracking" else None,
        Route("/v1/reports/status/runs", per_ticket) if service == "evaluation" else None,
        Route("/v1/feedback", per_ticket) if service == "feedback" else None,
        Route("/v1/complaints", per_ticket) if service == "feedback" else None,
        Route("/{path:path}", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
    ]
    return Starlette(routes=[r for r in routes if r is not None])


@contextmanager
def running_stubs() -> Iterator[dict[str, str]]:
    """Four stubs on free ports, served from one background thread; stopped on exit."""
    services = ("commitment", "tracking", "evaluation", "feedback")
    servers = {
        s: uvicorn.Server(
            uvicorn.Config(make_stub(s), host="127.0.0.1", port=free_port(), log_level="warning", lifespan="off")
        )
        for s in services
    }
    loop = asyncio.new_event_loop()

    async def serve() -> None:
        await asyncio.gather(*(server.serve() for server in servers.values()))

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    while not all(server.started for server in servers.values()):
        if not thread.is_alive():
            raise RuntimeError("stub upstreams failed to start")
        threading.Event().wait(0.02)
    try:
        yield {s: f"http://127.0.0.1:{server.config.port}" for s, server in servers.items()}
    finally:
        for server in servers.values():
            server.should_exit = True
        thread.join(10)
        loop.close()
