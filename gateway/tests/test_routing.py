"""Routing: the route table sends each public path to its service, streams both ways, and turns upstream
failures into problems; /internal and undeclared paths are 404s."""

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from conftest import GatewayFactory
from pledge_gateway.routes import GATEWAY, ROUTE_TABLE
from upstream_stub import free_port

PROBLEM = "application/problem+json"
PROXIED = [r for r in ROUTE_TABLE if r.target != GATEWAY]


def example_path(template: str) -> str:
    return template.replace("{id}", "t-1")


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("route", PROXIED, ids=[r.path for r in PROXIED])
async def test_each_public_path_reaches_its_service(make_gateway: GatewayFactory, admin_key: str, route: Any) -> None:
    path = example_path(route.path) + ("/x/y" if route.prefix else "")  # below a prefix, or the one path
    async with make_gateway() as gw:
        response = await gw.get(path + "?a=1&b=two", headers=auth(admin_key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["service"] == route.target
    assert body["path"] == path
    assert body["query"] == "a=1&b=two"


async def test_internal_paths_are_never_routed(make_gateway: GatewayFactory, admin_key: str) -> None:
    async with make_gateway() as gw:
        response = await gw.get("/internal/v1/events", headers=auth(admin_key))
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


async def test_an_undeclared_path_is_a_404_problem_even_without_credentials(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        response = await gw.get("/v1/unknown-things")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["instance"] == "/v1/unknown-things"


async def test_an_upstream_that_is_down_is_a_503_problem_on_its_routes_only(
    make_gateway: GatewayFactory, admin_key: str
) -> None:
    async with make_gateway(tracking_url=f"http://127.0.0.1:{free_port()}") as gw:
        response = await gw.get("/v1/tickets", headers=auth(admin_key))
        others = await gw.get("/v1/segments", headers=auth(admin_key))
        ready = await gw.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"] == "the tracking service is unavailable"
    assert response.json()["service"] == "tracking"
    assert response.headers["retry-after"] == "5"
    assert others.status_code == 200
    assert ready.status_code == 200


async def test_an_upstream_slower_than_the_route_timeout_is_a_504_problem(
    make_gateway: GatewayFactory, admin_key: str
) -> None:
    async with make_gateway(timeout_seconds=0.2) as gw:
        response = await gw.get("/v1/departments", params={"sleep": "3"}, headers=auth(admin_key))
    assert response.status_code == 504
    assert response.headers["content-type"] == PROBLEM
    assert "did not answer in time" in response.json()["detail"]


async def test_an_upstream_crash_is_a_502_problem_without_its_internals(
    make_gateway: GatewayFactory, admin_key: str
) -> None:
    async with make_gateway() as gw:
        response = await gw.get("/v1/feedback/f-1", params={"crash": "1"}, headers=auth(admin_key))
    assert response.status_code == 502
    assert response.headers["content-type"] == PROBLEM
    assert "Traceback" not in response.text
    assert "secret" not in response.text


async def test_a_streamed_request_body_arrives_whole(make_gateway: GatewayFactory, admin_key: str) -> None:
    chunk = b'{"event": "x"}\n' * 4096
    expected = hashlib.sha256(chunk * 64).hexdigest()

    async def body() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield chunk

    async with make_gateway() as gw:
        response = await gw.post(
            "/v1/events/bulk",
            content=body(),
            headers={**auth(admin_key), "Content-Type": "application/x-ndjson"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["body_size"] == len(chunk) * 64
    assert response.json()["body_sha256"] == expected


async def test_a_streamed_response_arrives_whole(make_gateway: GatewayFactory, admin_key: str) -> None:
    async with make_gateway() as gw:
        response = await gw.get("/v1/reports/export", params={"stream": "20000"}, headers=auth(admin_key))
    assert response.status_code == 200
    lines = response.text.splitlines()
    assert len(lines) == 20000
    assert lines[-1] == '{"line": 19999}'


async def test_a_body_over_the_limit_is_a_413_problem(make_gateway: GatewayFactory, admin_key: str) -> None:
    async with make_gateway(max_body_bytes=1000) as gw:
        response = await gw.post("/v1/departments", content=b"x" * 1001, headers=auth(admin_key))
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


async def test_a_streamed_body_over_the_limit_is_a_413_problem(make_gateway: GatewayFactory, admin_key: str) -> None:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"y" * 10_000

    async with make_gateway(bulk_max_body_bytes=50_000) as gw:
        response = await gw.post("/v1/events/bulk", content=body(), headers=auth(admin_key))
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


async def test_the_request_id_travels_to_the_service_and_back(make_gateway: GatewayFactory, admin_key: str) -> None:
    async with make_gateway() as gw:
        response = await gw.get("/v1/segments", headers={**auth(admin_key), "X-Request-ID": "trace-42"})
    assert response.headers["x-request-id"] == "trace-42"
    assert response.json()["headers"]["x-request-id"] == "trace-42"


async def test_credentials_and_client_identity_headers_never_reach_a_service(
    make_gateway: GatewayFactory, admin_key: str
) -> None:
    forged = {"X-Pledge-Identity": "e30", "X-Pledge-Timestamp": "1", "X-Pledge-Signature": "00"}
    async with make_gateway() as gw:
        response = await gw.get("/v1/segments", headers={**auth(admin_key), **forged, "X-API-Key": "nope"})
    assert response.status_code == 401  # an explicit X-API-Key wins and is checked
    async with make_gateway() as gw:
        response = await gw.get("/v1/segments", headers={**auth(admin_key), **forged})
    seen = response.json()
    assert "authorization" not in seen["headers"]
    assert seen["headers"]["x-pledge-signature"] != "00"
    assert seen["caller"]["kind"] == "key"
    assert seen["caller"]["scopes"] == ["admin"]


async def test_upstream_server_and_date_headers_are_not_duplicated(
    make_gateway: GatewayFactory, admin_key: str
) -> None:
    async with make_gateway() as gw:
        response = await gw.get("/v1/segments", headers=auth(admin_key))
    assert response.headers["x-upstream"] == "commitment"
    assert response.headers.get_list("x-request-id") == [response.headers["x-request-id"]]
    assert "stub" not in response.headers.get_list("server")


async def test_readyz_is_ready_when_every_service_is(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        response = await gw.get("/readyz")
    assert response.status_code == 200
    assert response.json()["services"] == dict.fromkeys(("commitment", "tracking", "evaluation", "feedback"), "ready")


async def test_readyz_stays_ready_and_names_the_services_that_are_not(
    make_gateway: GatewayFactory, stub_state: dict[str, dict[str, Any]]
) -> None:
    stub_state["evaluation"]["ready"] = False
    async with make_gateway(feedback_url=f"http://127.0.0.1:{free_port()}") as gw:
        response = await gw.get("/readyz")
    assert response.status_code == 200
    services = response.json()["services"]
    assert services["evaluation"] == "not ready (503)"
    assert services["feedback"].startswith("unreachable")
    assert services["commitment"] == "ready"


async def test_openapi_merges_public_paths_of_every_service_and_never_internal_ones(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as gw:
        document = (await gw.get("/openapi.json")).json()
    paths = set(document["paths"])
    assert {"/v1/departments", "/v1/tickets", "/v1/alerts", "/v1/complaints"} <= paths
    assert {"/v1/api-keys", "/v1/tickets/{ticket_id}/overview"} <= paths
    assert not any(p.startswith("/internal") or not p.startswith("/v1/") for p in paths)
    assert document["paths"]["/v1/departments"]["get"]["x-required-scope"] == "definitions:read"
    # each service's schemas keep their names, and each title is its name
    ref = document["paths"]["/v1/tickets"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/TrackingItem"
    items = {n: s["title"] for n, s in document["components"]["schemas"].items() if "Item" in n}
    assert items == {n: n for n in ("CommitmentItem", "TrackingItem", "EvaluationItem", "FeedbackItem")}


async def test_openapi_without_a_service_misses_its_paths_and_says_so(
    make_gateway: GatewayFactory, stub_state: dict[str, dict[str, Any]]
) -> None:
    stub_state["feedback"]["openapi"] = False
    async with make_gateway() as gw:
        response = await gw.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert "/v1/complaints" not in document["paths"]
    assert "/v1/departments" in document["paths"]
    assert any(note.startswith("feedback:") for note in document["info"]["x-pledge-notes"])


async def test_docs_serve_the_merged_document(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        response = await gw.get("/docs")
    assert response.status_code == 200
    assert "/openapi.json" in response.text


async def test_every_answer_carries_security_headers(make_gateway: GatewayFactory, admin_key: str) -> None:
    async with make_gateway() as gw:
        answers = [await gw.get("/v1/segments", headers=auth(admin_key)), await gw.get("/v1/segments")]
    for response in answers:
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-store"


async def test_cors_allows_only_configured_origins(make_gateway: GatewayFactory) -> None:
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    async with make_gateway(cors_origins=["https://console.example"]) as gw:
        allowed = await gw.options("/v1/segments", headers={"Origin": "https://console.example", **preflight})
        refused = await gw.options("/v1/segments", headers={"Origin": "https://evil.example", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://console.example"
    assert "access-control-allow-origin" not in refused.headers


async def test_the_gateway_forwards_to_a_real_http_server_over_the_network(upstreams: dict[str, str]) -> None:
    # sanity of the stubs themselves: the tests above go through real sockets to them
    async with httpx.AsyncClient() as client:
        assert (await client.get(upstreams["tracking"] + "/readyz")).status_code == 200
