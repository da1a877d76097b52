"""Routing through the gateway between real processes: every service's public routes behind one entry,
with a scope each; readiness of the whole suite; bodies streamed both ways; a fuzz pass over the merged
OpenAPI."""

import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import psutil
from pledge_common.internal import internal_headers
from pledge_common.openapi import operations, schema_refs
from pledge_dev.paths import REPO_ROOT
from pledge_dev.suite import Suite
from pledge_gateway.routes import match_route

PROBLEM = "application/problem+json"
SERVICES = ("commitment", "tracking", "evaluation", "feedback")


async def test_readyz_through_the_gateway_names_every_service_ready(suite: Suite) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{suite.gateway_url}/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["services"] == dict.fromkeys(SERVICES, "ready")


async def test_the_merged_openapi_has_every_services_public_routes_and_no_internal_ones(suite: Suite) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        document = (await client.get(f"{suite.gateway_url}/openapi.json")).json()
        for service in SERVICES:
            own = (await client.get(f"{suite.url(service)}/openapi.json")).json()
            public = {p for p in own["paths"] if p.startswith("/v1/")}
            assert public, f"{service} publishes no /v1 route"
            assert public <= set(document["paths"]), (service, public - set(document["paths"]))
    assert "x-pledge-notes" not in document["info"]
    assert not any(p.startswith("/internal") for p in document["paths"])


async def test_the_merged_openapi_declares_every_error_as_the_one_problem_schema(suite: Suite) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        document = (await client.get(f"{suite.gateway_url}/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert [name for name in schemas if "Problem" in name or "ValidationError" in name] == ["Problem"]
    for ref in schema_refs(document):
        assert ref.removeprefix("#/components/schemas/") in schemas, f"dangling {ref}"
    problem = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operation in operations(document):
        errors = {s: r for s, r in operation["responses"].items() if s[0] in "45"}
        assert {"4XX", "5XX", "401", "403", "429"} <= set(errors), operation["operationId"]
        for status, response in errors.items():
            assert response["content"] == problem, (operation["operationId"], status)


async def test_no_public_route_of_any_service_is_left_without_a_scope(suite: Suite) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for service in SERVICES:
            own = (await client.get(f"{suite.url(service)}/openapi.json")).json()
            for path, operations in own["paths"].items():
                if not path.startswith("/v1/"):
                    continue
                route = match_route(path)
                assert route is not None, f"{service} publishes {path}, which the gateway does not route"
                assert route.target == service, f"{path} of {service} is routed to {route.target}"
                for method in operations:
                    assert route.scope_for(method.upper()), (path, method)
        merged = (await client.get(f"{suite.gateway_url}/openapi.json")).json()
    assert "x-pledge-unrouted" not in merged["info"]
    for path, operations in merged["paths"].items():
        for method, operation in operations.items():
            assert operation.get("x-required-scope"), (path, method)


async def test_internal_routes_are_404_through_the_gateway_even_with_the_token(suite: Suite) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(
            f"{suite.gateway_url}/internal/v1/events", headers=internal_headers(suite.service_token)
        )
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


async def test_the_request_id_reaches_the_service_and_comes_back(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/v1/segments", headers={"X-Request-ID": "gw-e2e-7"})
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "gw-e2e-7"


async def test_text_the_database_cannot_store_is_a_422_naming_its_field_in_every_service(
    gateway: httpx.AsyncClient,
) -> None:
    """NUL (U+0000): refused before any route runs (bodies, queries, paths), and per item in bulk ingest."""
    nul = "contains the NUL character (U+0000), which cannot be stored"
    refused = [
        await gateway.put("/v1/departments/nul-dept", json={"name": "Depart\x00ment"}),
        await gateway.post("/v1/complaints", json={"channel": "phone", "summary": "x", "customer": "C\x00"}),
        await gateway.post("/v1/api-keys", json={"name": "k\x00", "scopes": ["reports:read"]}),
    ]
    for response, field in zip(refused, ["name", "customer", "name"], strict=True):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        assert {"field": field, "message": nul} in response.json()["errors"]
    query = await gateway.get("/v1/alerts", params={"department": "x\x00"})
    assert query.status_code == 422
    assert query.json()["errors"][0]["field"] == "query.department"
    path = await gateway.get("/v1/commitments/a%00b")
    assert path.status_code == 422
    assert path.json()["errors"][0]["field"] == "path"
    # bulk ingest answers per item: the one bad event is refused, not the request
    bulk = await gateway.post(
        "/v1/events/bulk",
        json=[
            {
                "event_id": "nul-1",
                "type": "ticket.opened",
                "occurred_at": "2026-03-03T10:00:00+08:00",
                "source": "nul-src",
                "ticket": {"external_id": "N\x001", "process": "no-such-process"},
            }
        ],
    )
    assert bulk.status_code == 200, bulk.text
    assert bulk.json()["items"][0]["error"] == {"status": 422, "field": "ticket.external_id", "detail": nul}


async def test_the_docs_page_serves_the_merged_document(suite: Suite) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"{suite.gateway_url}/docs")
    assert response.status_code == 200
    assert "/openapi.json" in response.text


async def test_a_bulk_ndjson_stream_passes_through_with_bounded_gateway_memory(
    suite: Suite, gateway: httpx.AsyncClient
) -> None:
    process = await gateway.put(
        "/v1/processes/gw-stream", json={"name": "Streamed", "nodes": [{"key": "only", "name": "Only"}]}
    )
    assert process.status_code in (200, 201), process.text
    count = 40_000
    start = datetime.now(UTC) - timedelta(days=1)
    run = uuid.uuid4().hex[:8]

    async def lines() -> AsyncIterator[bytes]:
        batch = []
        for n in range(count):
            event = {
                "event_id": f"{run}-{n}",
                "type": "ticket.opened",
                "occurred_at": (start + timedelta(seconds=n)).isoformat(),
                "source": "gw-stream",
                "ticket": {"external_id": f"{run}-{n}", "process": "gw-stream", "attributes": {"pad": "x" * 200}},
            }
            batch.append(json.dumps(event).encode() + b"\n")
            if len(batch) == 500:
                yield b"".join(batch)
                batch = []
        if batch:
            yield b"".join(batch)

    gateway_process = psutil.Process(suite.processes["gateway"].pid)
    before = gateway_process.memory_info().rss
    await _wait_for_process(gateway, "gw-stream")
    response = await gateway.post(
        "/v1/events/bulk",
        content=lines(),
        headers={"Content-Type": "application/x-ndjson", "Idempotency-Key": run},
        timeout=600,
    )
    grown = gateway_process.memory_info().rss - before
    assert response.status_code in (200, 207), response.text[:500]
    assert response.json()["accepted"] == count
    # ~12 MB went through; a gateway that buffered it would grow by at least that much
    assert grown < 8 * 1024 * 1024, f"gateway grew by {grown / 1e6:.1f} MB"


async def _wait_for_process(gateway: httpx.AsyncClient, process: str) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + 60  # the catalogue copy arrives over tracking's feed of commitment
    probe = {
        "event_id": f"probe-{uuid.uuid4().hex}",
        "type": "ticket.opened",
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "gw-stream-probe",
        "ticket": {"external_id": uuid.uuid4().hex, "process": process},
    }
    while True:
        response = await gateway.post("/v1/events", json=probe)
        if response.status_code in (200, 201):
            return
        assert time.monotonic() < deadline, response.text
        await asyncio.sleep(0.3)


def test_a_fuzz_pass_over_the_merged_openapi_finds_no_server_error(suite: Suite, tmp_path_factory: object) -> None:
    """schemathesis, authorised as admin, a few examples per operation and the coverage phase (boundary values,
    NUL and other unusual text, missing and extra fields): no 5xx; answers, their statuses and their content
    types are the ones the document declares."""
    key = httpx.post(
        f"{suite.gateway_url}/v1/api-keys",
        json={"name": "fuzz", "scopes": ["admin"]},
        headers={"Authorization": f"Bearer {suite.admin_key}"},
        timeout=10,
    ).json()["key"]
    # schemathesis's generator recurses as deep as the schemas nest, and hypothesis, describing a strategy there,
    # parses source text: near the default limit of 1 000 frames CPython 3.11 then fails with "AST constructor
    # recursion depth mismatch" (a tool error, not an answer of ours). The same error comes when one worker thread
    # parses while hypothesis, in the other, moves the process-wide limit (it sets and restores it around each
    # test). So the tool's process gets a high limit once, and the limit then stays where it is.
    launcher = (
        "import runpy, sys; sys.setrecursionlimit(5000); sys.setrecursionlimit = lambda limit: None; "
        "runpy.run_module('schemathesis.cli', run_name='__main__')"
    )
    command = [
        sys.executable, "-c", launcher, "run", f"{suite.gateway_url}/openapi.json",
        "--header", f"Authorization: Bearer {key}",
        "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
        "--max-examples", "4", "--seed", "20261121", "--phases", "examples,coverage,fuzzing",
        "--workers", "2", "--request-timeout", "30", "--no-shrink",
        "--exclude-path-regex", "^/v1/api-keys/.*/(revoke|rotate)$",
        "--rate-limit", "auto", "--warnings", "off",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
