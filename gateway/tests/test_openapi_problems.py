"""The merged OpenAPI document declares every error as the one shared `Problem`, and every `$ref` in it resolves;
the merge renames nothing: a schema or an operationId two services both define is refused."""

import copy
from typing import Any

import pytest
from conftest import GatewayFactory
from fastapi import FastAPI
from pledge_common.openapi import install_document, operations, schema_refs
from pledge_gateway.config import Settings
from pledge_gateway.main import create_app
from pledge_gateway.meta import MergeConflict, merge_documents
from pydantic import BaseModel, create_model

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_CONTENT = {"application/problem+json": {"schema": PROBLEM_REF}}
PATHS = {
    "commitment": "/v1/departments",
    "tracking": "/v1/tickets",
    "evaluation": "/v1/alerts",
    "feedback": "/v1/complaints",
}


def service_document(service: str, *, declares_problems: bool) -> dict[str, Any]:
    """A FastAPI service with its own `<Service>Item`, a body (FastAPI's 422), a path parameter and a declared
    409; with or without the problem document installed."""
    item: type[BaseModel] = create_model(f"{service.title()}Item", **{f"{service}_key": (str, ...)})
    app = FastAPI(title=service)
    path = PATHS[service]

    @app.post(path, status_code=201, responses={409: {"description": "exists already"}})
    async def create(body: item) -> Any:
        return body

    @app.get(path + "/{key}", response_model=item, responses={404: {"description": "no such thing"}})
    async def read(key: str) -> Any:
        return None

    if declares_problems:
        install_document(app)
    return app.openapi()


def merged(services: dict[str, dict[str, Any] | str] | None = None) -> dict[str, Any]:
    gateway = create_app(Settings(environment="test"))
    return merge_documents(gateway.openapi(), services or documents())


def documents() -> dict[str, dict[str, Any] | str]:
    return {
        "commitment": service_document("commitment", declares_problems=True),
        "tracking": service_document("tracking", declares_problems=True),
        "evaluation": service_document("evaluation", declares_problems=False),  # a release from before
        "feedback": service_document("feedback", declares_problems=True),
    }


def assert_errors_are_problems(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for ref in schema_refs(document):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, f"dangling {ref}"
    assert [name for name in schemas if "Problem" in name] == ["Problem"]
    assert not {"HTTPValidationError", "ValidationError"} & set(schemas)
    for operation in operations(document):
        responses = operation["responses"]
        for status in ("4XX", "5XX", "401", "429", "503"):
            assert responses[status]["content"] == PROBLEM_CONTENT, (operation.get("operationId"), status)
        for status, response in responses.items():
            if status[0] in "45":
                assert response["content"] == PROBLEM_CONTENT, (operation.get("operationId"), status)


def test_the_merged_document_has_one_problem_every_error_refers_to_and_no_dangling_ref() -> None:
    document = merged()
    assert_errors_are_problems(document)
    names = ("CommitmentItem", "TrackingItem", "EvaluationItem", "FeedbackItem")
    assert {n: document["components"]["schemas"][n]["title"] for n in names} == {n: n for n in names}


def test_a_schema_two_services_define_differently_is_refused_not_renamed() -> None:
    services = documents()
    tracking = services["tracking"]
    assert isinstance(tracking, dict)
    schemas = tracking["components"]["schemas"]
    schemas["CommitmentItem"] = copy.deepcopy(schemas["TrackingItem"])  # same name, another body
    with pytest.raises(
        MergeConflict, match="schema CommitmentItem is defined by commitment and, differently, tracking"
    ):
        merged(services)


def test_the_same_schema_in_two_services_is_kept_once() -> None:
    services = documents()
    commitment, tracking = services["commitment"], services["tracking"]
    assert isinstance(commitment, dict)
    assert isinstance(tracking, dict)
    tracking["components"]["schemas"]["CommitmentItem"] = copy.deepcopy(
        commitment["components"]["schemas"]["CommitmentItem"]
    )
    assert "CommitmentItem" in merged(services)["components"]["schemas"]


def test_an_operation_id_used_by_two_services_is_refused() -> None:
    services = documents()
    tracking, feedback = services["tracking"], services["feedback"]
    assert isinstance(tracking, dict)
    assert isinstance(feedback, dict)
    feedback["paths"]["/v1/complaints"]["post"]["operationId"] = tracking["paths"]["/v1/tickets"]["post"]["operationId"]
    with pytest.raises(MergeConflict, match="operationId create_v1_tickets_post of feedback POST /v1/complaints"):
        merged(services)


def test_declared_errors_keep_their_descriptions_in_the_merge() -> None:
    document = merged()
    for service, path in PATHS.items():
        create = document["paths"][path]["post"]["responses"]
        assert create["409"] == {"description": "exists already", "content": PROBLEM_CONTENT}, service
        assert create["422"]["content"] == PROBLEM_CONTENT, service
        assert document["paths"][path + "/{key}"]["get"]["responses"]["404"]["description"] == "no such thing"
    assert (
        document["paths"]["/v1/api-keys"]["post"]["responses"]["422"]["content"] == PROBLEM_CONTENT
    )  # the gateway's own


async def test_the_served_document_declares_every_error_as_a_problem(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        document = (await gw.get("/openapi.json")).json()
    assert document["paths"]["/v1/tickets"]["get"]["responses"]["4XX"]["content"] == PROBLEM_CONTENT
    assert_errors_are_problems(document)
