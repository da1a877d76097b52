"""The OpenAPI document of an app built by create_service_app declares every error as RFC 9457 problem details."""

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from fastapi import APIRouter, FastAPI, Request
from pledge_common.app import create_service_app
from pledge_common.openapi import SENDS, add_examples, declare_headers, declare_problems, operations, schema_refs, sends
from pledge_common.problems import Conflict, NotFound
from pledge_common.settings import ServiceSettings
from pydantic import BaseModel, Field

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_CONTENT = {"application/problem+json": {"schema": PROBLEM_REF}}
NDJSON_BODY = {"content": {"application/x-ndjson": {"schema": {"type": "string", "description": "one per line"}}}}


class Booking(BaseModel):
    name: str = Field(min_length=1)
    seats: int = Field(ge=1)


router = APIRouter(prefix="/v1/bookings", tags=["bookings"])


@router.post(
    "",
    status_code=201,
    responses={
        409: {"description": "a booking of that name exists"},
        422: {"description": "invalid booking, or its name is a holiday"},
    },
)
async def create_booking(booking: Booking) -> Booking:
    """Book."""
    if booking.name == "taken":
        raise Conflict("name: taken", errors=[{"field": "name", "message": "taken"}], service="bookings")
    return booking


@router.get("/{name}", responses={404: {"description": "no such booking"}})
async def read_booking(name: str) -> Booking:
    """One booking."""
    raise NotFound(f"no booking {name}")


@router.post("/import", openapi_extra={"requestBody": {"required": True, **NDJSON_BODY}})
async def import_bookings(request: Request) -> dict[str, int]:
    """Bookings as NDJSON, read raw."""
    return {"lines": len((await request.body()).splitlines())}


@router.get(
    "/{name}/card",
    responses={406: {"description": "only text", "content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def booking_card(name: str) -> str:
    """A booking as text."""
    return name


@pytest.fixture(scope="module")
def alembic_ini(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-revision migration tree (create_service_app reads its head; nothing here migrates)."""
    root = tmp_path_factory.mktemp("bookings-svc")
    (root / "migrations" / "versions").mkdir(parents=True)
    (root / "migrations" / "versions" / "bookings_0001.py").write_text(
        'revision = "bookings_0001"\ndown_revision = None\n'
    )
    (root / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    return root / "alembic.ini"


@pytest.fixture
def app(alembic_ini: Path) -> FastAPI:
    return create_service_app(
        service="bookings",
        title="bookings",
        description="a service to test the document",
        settings=ServiceSettings(environment="test", database_url="postgresql://nobody@127.0.0.1:1/none"),
        alembic_ini=alembic_ini,
        public_routers=[router],
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://bookings.test") as c:
        yield c


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_every_422_answers_problem_json_keeping_the_description_the_route_gave(document: dict[str, Any]) -> None:
    create = document["paths"]["/v1/bookings"]["post"]["responses"]["422"]
    assert create == {"description": "invalid booking, or its name is a holiday", "content": PROBLEM_CONTENT}
    read = document["paths"]["/v1/bookings/{name}"]["get"]["responses"]["422"]
    assert read == {"description": "Validation Error", "content": PROBLEM_CONTENT}


def test_error_statuses_a_route_declares_get_the_problem_content(document: dict[str, Any]) -> None:
    conflict = document["paths"]["/v1/bookings"]["post"]["responses"]["409"]
    assert conflict == {"description": "a booking of that name exists", "content": PROBLEM_CONTENT}
    missing = document["paths"]["/v1/bookings/{name}"]["get"]["responses"]["404"]
    assert missing == {"description": "no such booking", "content": PROBLEM_CONTENT}


def test_every_operation_documents_any_other_4xx_and_5xx_as_a_problem(document: dict[str, Any]) -> None:
    counted = 0
    for operation in operations(document):
        for status in ("4XX", "5XX"):
            assert operation["responses"][status]["content"] == PROBLEM_CONTENT, operation["operationId"]
        counted += 1
    assert counted == 4


def test_fastapis_validation_schemas_are_gone_and_every_ref_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    for ref in schema_refs(document):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, ref


def test_routes_own_request_bodies_and_error_content_are_kept(document: dict[str, Any]) -> None:
    imported = document["paths"]["/v1/bookings/import"]["post"]
    assert imported["requestBody"] == {"required": True, **NDJSON_BODY}
    card = document["paths"]["/v1/bookings/{name}/card"]["get"]["responses"]["406"]
    assert card["content"] == {"text/plain": {"schema": {"type": "string"}}}


def test_the_document_is_built_once_and_again_for_routes_added_later(app: FastAPI) -> None:
    first = app.openapi()
    assert app.openapi() is first
    late = APIRouter()

    @late.delete("/v1/bookings/{name}", status_code=204, responses={412: {"description": "stale If-Match"}})
    async def cancel(name: str) -> None:
        """Cancel."""

    app.include_router(late)
    second = app.openapi()
    cancelled = second["paths"]["/v1/bookings/{name}"]["delete"]["responses"]
    assert cancelled["412"]["content"] == PROBLEM_CONTENT
    assert cancelled["4XX"]["content"] == PROBLEM_CONTENT
    assert app.openapi() is second


def test_declaring_problems_again_changes_nothing(document: dict[str, Any]) -> None:
    assert declare_problems(copy.deepcopy(document)) == document


def test_a_document_without_validation_errors_keeps_a_schema_of_that_name_it_uses() -> None:
    own = {"type": "object", "title": "ValidationError", "properties": {"rule": {"type": "string"}}}
    schema = {"$ref": "#/components/schemas/ValidationError"}
    ok = {"description": "ok", "content": {"application/json": {"schema": schema}}}
    document: dict[str, Any] = {
        "paths": {"/v1/rules": {"get": {"responses": {"200": ok}}}},
        "components": {"schemas": {"ValidationError": own}},
    }
    declare_problems(document)
    assert document["components"]["schemas"]["ValidationError"] == own


class TestAnswersMatchTheDocument:
    """The schema is what the handlers send: real answers validate against it (and FastAPI's default would not)."""

    @staticmethod
    def check(document: dict[str, Any], response: httpx.Response, status: int) -> dict[str, Any]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        body: dict[str, Any] = response.json()
        jsonschema.validate(body, document["components"]["schemas"]["Problem"])
        return body

    async def test_a_validation_error(self, client: httpx.AsyncClient, document: dict[str, Any]) -> None:
        response = await client.post("/v1/bookings", json={"name": "", "seats": 0})
        body = self.check(document, response, 422)
        assert {e["field"] for e in body["errors"]} == {"name", "seats"}

    async def test_a_conflict_with_an_extra_member(self, client: httpx.AsyncClient, document: dict[str, Any]) -> None:
        response = await client.post("/v1/bookings", json={"name": "taken", "seats": 2})
        assert self.check(document, response, 409)["service"] == "bookings"

    async def test_not_found_by_the_route_and_by_routing(
        self, client: httpx.AsyncClient, document: dict[str, Any]
    ) -> None:
        self.check(document, await client.get("/v1/bookings/nobody"), 404)
        self.check(document, await client.get("/v1/nowhere"), 404)
        self.check(document, await client.put("/v1/bookings"), 405)

    async def test_an_unexpected_failure(self, app: FastAPI, document: dict[str, Any]) -> None:
        failing = APIRouter()

        @failing.get("/v1/boom")
        async def boom() -> None:
            raise RuntimeError("boom")

        app.include_router(failing)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://bookings.test") as c:
            response = await c.get("/v1/boom")
        assert self.check(document, response, 500)["request_id"] == response.headers["x-request-id"]

    def test_fastapis_default_validation_body_would_not_match(self, document: dict[str, Any]) -> None:
        default = {"detail": [{"loc": ["body", "name"], "msg": "Field required", "type": "missing"}]}
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(default, document["components"]["schemas"]["Problem"])

    def test_a_problem_with_an_unnamed_field_error_would_not_match(self, document: dict[str, Any]) -> None:
        malformed = {
            "type": "/problems/invalid-value",
            "title": "Invalid Value",
            "status": 422,
            "errors": [{"message": "?"}],
        }
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(malformed, document["components"]["schemas"]["Problem"])


def test_operation_ids_are_the_route_functions_in_camel_case(document: dict[str, Any]) -> None:
    ids = sorted(op["operationId"] for op in operations(document))
    assert ids == ["bookingCard", "createBooking", "importBookings", "readBooking"]


def test_every_schema_title_is_its_name(document: dict[str, Any]) -> None:
    assert {n: s["title"] for n, s in document["components"]["schemas"].items()} == {
        n: n for n in document["components"]["schemas"]
    }


def page_document() -> dict[str, Any]:
    header = [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}]
    if_match = [{"name": "If-Match", "in": "header", "schema": {"type": "string"}}]
    ok = {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ThingPage"}}}}
    return {
        "paths": {
            "/v1/things": {
                "get": {"responses": {"200": ok}},
                "post": {"parameters": header, "responses": {"201": {"description": "made"}}, SENDS: ["Location"]},
            },
            "/v1/things/{key}": {
                "get": {"responses": {"200": {"description": "one"}}},
                "patch": {"parameters": if_match, "responses": {"200": {"description": "changed"}}},
                "delete": {"parameters": if_match, "responses": {"204": {"description": "gone"}}},
            },
        },
        "components": {
            "schemas": {
                "ThingPage": {
                    "type": "object",
                    "properties": {"items": {"type": "array"}, "next_cursor": {"type": ["string", "null"]}},
                }
            }
        },
    }


def test_headers_are_declared_from_request_headers_pages_and_the_marker() -> None:
    document = declare_headers(page_document())
    things, thing = document["paths"]["/v1/things"], document["paths"]["/v1/things/{key}"]

    def declared(operation: dict[str, Any], status: str) -> set[str]:
        return set(operation["responses"][status].get("headers", {}))

    assert declared(things["get"], "200") == {"Link"}
    assert declared(things["post"], "201") == {"Idempotent-Replayed", "Location"}
    assert SENDS not in things["post"]
    assert declared(thing["get"], "200") == {"ETag"}  # the read of a resource updated with If-Match
    assert declared(thing["patch"], "200") == {"ETag"}
    assert declared(thing["delete"], "204") == set()
    assert declare_headers(copy.deepcopy(document)) == document  # twice changes nothing more


def test_the_marker_names_only_known_headers() -> None:
    assert sends("ETag", "Location") == {SENDS: ["ETag", "Location"]}
    with pytest.raises(ValueError, match="not a declared response header"):
        sends("X-Made-Up")


def test_examples_go_on_json_bodies_and_a_stale_one_is_refused(document: dict[str, Any]) -> None:
    example = {"name": "Hengda Steel site visit", "seats": 3}
    with_example = add_examples(copy.deepcopy(document), {"createBooking": example})
    body = with_example["paths"]["/v1/bookings"]["post"]["requestBody"]["content"]["application/json"]
    assert body["example"] == example
    with pytest.raises(ValueError, match="does not have"):
        add_examples(copy.deepcopy(document), {"deleteBooking": example})
    with pytest.raises(ValueError, match="takes no JSON body"):
        add_examples(copy.deepcopy(document), {"readBooking": example})
