"""Tests every service must pass (imported into each service's test suite with a star import)."""

import asyncio
import uuid

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pledge_common.db import create_engine
from pledge_common.openapi import operations, schema_refs
from pledge_common.outbox import emit_many
from pledge_common.workers import Heartbeat
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from pledge_dev import migrate
from pledge_dev.metrics import delta, label_values, samples, value
from pledge_dev.testing import ServiceSpec

PROBLEM = "application/problem+json"


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_ready_when_migrated(client: httpx.AsyncClient, service_spec: ServiceSpec) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"
    assert response.json()["service"] == service_spec.name


async def test_readyz_is_503_problem_when_migrations_are_missing(service_spec: ServiceSpec, fresh_db_url: str) -> None:
    application = service_spec.create_app(
        service_spec.settings_factory(database_url=fresh_db_url, environment="test", **service_spec.env)
    )
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            response = await c.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert "migrations not at head" in response.json()["detail"]


async def test_readyz_is_503_problem_naming_a_worker_that_keeps_crashing(
    service_spec: ServiceSpec, migrated_url: str
) -> None:
    """Readiness includes the background workers; liveness does not (the process is not restarted for it)."""
    settings = service_spec.settings_factory(
        database_url=migrated_url,
        environment="test",
        worker_backoff_seconds=0,
        worker_max_failures=2,
        **service_spec.env,
    )
    scrape: dict[str, str] = {}
    if "metrics_token" in type(settings).model_fields:  # the gateway's /metrics asks for its metrics token
        settings = settings.model_copy(update={"metrics_token": "conformance-scrape"})
        scrape = {"Authorization": "Bearer conformance-scrape"}
    application = service_spec.create_app(settings)

    async def broken(heartbeat: Heartbeat) -> None:
        raise RuntimeError("a handler bug")

    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            assert (await c.get("/readyz")).status_code == 200
            status = application.state.workers.add("conformance-broken", broken, kind="scanner")
            for _ in range(2000):
                if status.failures >= 2:
                    break
                await asyncio.sleep(0.001)
            response = await c.get("/readyz")
            alive = await c.get("/healthz")
            metrics = (await c.get("/metrics", headers=scrape)).text
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    named = [line for line in response.json()["workers"] if "conformance-broken" in line]
    assert named
    assert "RuntimeError: a handler bug" in named[0]
    assert alive.status_code == 200
    service = service_spec.name
    assert f'pledge_worker_stalled{{kind="scanner",service="{service}",worker="conformance-broken"}} 1.0' in metrics
    assert f'pledge_worker_restarts_total{{kind="scanner",service="{service}",worker="conformance-broken"}}' in metrics


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 404
    assert response.json()["instance"] == "/v1/no-such-thing"


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.delete("/healthz")
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert "DELETE" in response.json()["detail"]


async def test_internal_routes_require_the_service_token(client: httpx.AsyncClient, service_spec: ServiceSpec) -> None:
    path = "/internal/v1/events" if service_spec.produces_feed else "/internal/v1/anything"
    response = await client.get(path)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert "WWW-Authenticate" in response.headers
    forged = await client.get(path, headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 401


async def test_bad_query_parameter_is_422_naming_the_field(
    client: httpx.AsyncClient, internal_headers: dict[str, str], service_spec: ServiceSpec
) -> None:
    if not service_spec.produces_feed:
        pytest.skip(f"{service_spec.name} serves no feed; its own tests cover its parameters")
    response = await client.get("/internal/v1/events", params={"limit": "many"}, headers=internal_headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["field"] == "query.limit"


async def test_the_openapi_document_declares_every_error_as_a_problem(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert "Problem" in schemas
    assert not {"HTTPValidationError", "ValidationError"} & set(schemas)
    for ref in schema_refs(document):
        assert ref.removeprefix("#/components/schemas/") in schemas, f"dangling {ref}"
    problem = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operation in operations(document):
        responses = operation["responses"]
        for status in ("4XX", "5XX", "422"):
            if status in responses:
                assert responses[status]["content"] == problem, (operation.get("operationId"), status)
        assert {"4XX", "5XX"} <= set(responses), operation.get("operationId")


async def test_feed_serves_committed_events_in_order(
    client: httpx.AsyncClient, internal_headers: dict[str, str], service_spec: ServiceSpec, engine: AsyncEngine
) -> None:
    if not service_spec.produces_feed:
        pytest.skip(f"{service_spec.name} serves no feed")
    marker = f"conformance-{uuid.uuid4().hex}"
    async with engine.begin() as conn:
        for i in range(3):
            await emit_many(conn, [("conformance.checked", f"{marker}-{i}", {"i": i})])
    try:
        # Snapshot xmin is cluster-wide: a transaction open elsewhere on the server (another test session)
        # may hold these events back for a while — later, never lost — so long-poll until they arrive.
        seen: list[str] = []
        after: str | None = None
        for _ in range(30):
            params: dict[str, str | int] = {"limit": 500, "wait": 2}
            if after:
                params["after"] = after
            body = (await client.get("/internal/v1/events", params=params, headers=internal_headers)).json()
            seen += [e["key"] for e in body["events"] if e["key"].startswith(marker)]
            after = body["next"]
            if len(seen) >= 3:
                break
        assert seen == [f"{marker}-0", f"{marker}-1", f"{marker}-2"]
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM outbox WHERE key LIKE :m"), {"m": f"{marker}%"})


async def test_request_id_is_echoed_and_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
    problem = await client.get("/nowhere", headers={"X-Request-ID": "req-404"})
    assert problem.json()["request_id"] == "req-404"
    assert problem.headers["x-request-id"] == "req-404"


async def test_metrics_count_requests_by_route(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert 'route="/healthz"' in response.text
    assert "http_request_duration_seconds_bucket" in response.text
    assert "http_requests_in_flight" in response.text


async def test_feed_polls_are_counted_apart_from_request_latency(
    client: httpx.AsyncClient, internal_headers: dict[str, str], service_spec: ServiceSpec
) -> None:
    if not service_spec.produces_feed:
        pytest.skip(f"{service_spec.name} serves no feed")
    before = samples((await client.get("/metrics")).text)
    polled = await client.get("/internal/v1/events", params={"wait": "0.05"}, headers=internal_headers)
    assert polled.status_code == 200
    after = samples((await client.get("/metrics")).text)
    feed = {"route": "/internal/v1/events", "method": "GET", "status": "200"}
    assert delta(before, after, "http_long_poll_requests_total", **feed) == 1
    assert delta(before, after, "http_long_poll_duration_seconds_count", route="/internal/v1/events") == 1
    assert "/internal/v1/events" not in label_values(after, "http_request_duration_seconds_count", "route")
    assert "/internal/v1/events" not in label_values(after, "http_requests_total", "route")


async def test_metrics_show_the_database_pool(client: httpx.AsyncClient, service_spec: ServiceSpec) -> None:
    await client.get("/readyz")  # the pool has opened a connection
    found = samples((await client.get("/metrics")).text)
    size = value(found, "pledge_db_pool_size", service=service_spec.name)
    assert size > 0
    assert value(found, "pledge_db_pool_max", service=service_spec.name) >= size
    assert ("pledge_db_pool_checked_out", frozenset({("service", service_spec.name)})) in found


def test_migrations_go_up_from_empty_and_down_again(service_spec: ServiceSpec, fresh_db_url: str) -> None:
    migrate.upgrade(service_spec.alembic_ini, fresh_db_url)
    created = _tables(fresh_db_url, service_spec.name)
    assert "alembic_version" in created
    if service_spec.produces_feed:
        assert "outbox" in created
    migrate.downgrade(service_spec.alembic_ini, fresh_db_url)
    assert _tables(fresh_db_url, service_spec.name) == {"alembic_version"}
    migrate.upgrade(service_spec.alembic_ini, fresh_db_url)
    assert _tables(fresh_db_url, service_spec.name) == created


def _tables(url: str, schema: str) -> set[str]:
    import asyncio

    async def read() -> set[str]:
        engine = create_engine(url, schema)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                    {"s": schema},
                )
                return {r[0] for r in rows}
        finally:
            await engine.dispose()

    return asyncio.run(read())
