"""The problem type registry: every problem answered names a registered `type`, the most precise one the
problem tells; docs/problems.md is the registry."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Header
from pledge_common.openapi import PROBLEM_SCHEMA
from pledge_common.problems import (
    PROBLEM_TYPES,
    STATUS_SLUGS,
    Conflict,
    Forbidden,
    PreconditionFailed,
    Problem,
    install_problem_handlers,
    invalid,
    problem_body,
    problems_markdown,
    unexpected_response,
)
from pydantic import BaseModel, ConfigDict

DOC = Path(__file__).resolve().parents[3] / "docs" / "problems.md"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seats: int


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/strict")
    async def strict(body: Strict) -> Strict:
        return body

    @app.post("/keyed")
    async def keyed(idempotency_key: str = Header()) -> None:
        raise invalid("header.Idempotency-Key", "already used with a different request")

    @app.get("/stale")
    async def stale() -> None:
        raise PreconditionFailed("changed", current_etag='"4"')

    @app.get("/scope")
    async def scope() -> None:
        raise Forbidden("needs a scope", required_scope="reports:read")

    @app.get("/in-use")
    async def in_use() -> None:
        raise Conflict("running", slug="idempotency-key-in-use")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://problems.test") as c:
        yield c


async def test_an_unknown_body_field_and_an_invalid_value_are_told_apart(client: httpx.AsyncClient) -> None:
    unknown = (await client.post("/strict", json={"seats": 1, "colour": "red"})).json()
    wrong = (await client.post("/strict", json={"seats": "many"})).json()
    assert (unknown["type"], unknown["title"], unknown["errors"][0]["field"]) == (
        "/problems/unknown-field",
        "Unknown Field",
        "colour",
    )
    assert (wrong["type"], wrong["status"]) == ("/problems/invalid-value", 422)


async def test_precise_types_are_derived_from_the_problem(client: httpx.AsyncClient) -> None:
    reused = (await client.post("/keyed", headers={"Idempotency-Key": "k1"})).json()
    stale = (await client.get("/stale")).json()
    scope = (await client.get("/scope")).json()
    in_use = await client.get("/in-use")
    missing = (await client.get("/nowhere")).json()
    assert reused["type"] == "/problems/idempotency-key-reused"
    assert (stale["type"], stale["current_etag"]) == ("/problems/stale-etag", '"4"')
    assert (scope["type"], scope["required_scope"]) == ("/problems/scope-required", "reports:read")
    assert (in_use.status_code, in_use.json()["type"]) == (409, "/problems/idempotency-key-in-use")
    assert missing["type"] == "/problems/not-found"


def test_an_unavailable_database_is_its_own_type() -> None:
    class Unavailable(Exception):
        sqlstate = "08006"  # connection_failure

    unavailable = unexpected_response(Unavailable(), "/v1/x")
    failed = unexpected_response(RuntimeError("boom"), "/v1/x")
    assert (unavailable.status_code, unavailable.headers["retry-after"]) == (503, "3")
    assert b'"type":"/problems/database-unavailable"' in unavailable.body
    assert (failed.status_code, b'"type":"/problems/internal-error"' in failed.body) == (500, True)


def test_a_slug_that_is_not_registered_is_refused() -> None:
    with pytest.raises(ValueError, match="not in the registry"):
        problem_body(400, "Bad Request", slug="made-up")
    assert Problem("x", slug="made-up").slug == "made-up"  # refused when answered, as above


def test_every_status_type_is_registered_with_its_status() -> None:
    for status, slug in STATUS_SLUGS.items():
        assert PROBLEM_TYPES[slug].status == status
    assert all(kind.uri == f"/problems/{slug}" for slug, kind in PROBLEM_TYPES.items())


def test_the_problem_schema_lists_the_registry_as_its_type_enum() -> None:
    assert PROBLEM_SCHEMA["properties"]["type"]["enum"] == [k.uri for k in PROBLEM_TYPES.values()]
    assert {"errors", "request_id", "retry_after", "runs_changing", "required_scope"} <= set(
        PROBLEM_SCHEMA["properties"]
    )


def test_the_problems_page_is_generated_from_the_registry() -> None:
    assert DOC.read_text() == problems_markdown(), (
        "docs/problems.md is stale: python3 -m uv run --frozen python -m pledge_common.problems > docs/problems.md"
    )
