"""OpenAPI documents that say how errors are answered: RFC 9457 problem details, never FastAPI's default.

Every error of every app leaves as `application/problem+json` (problems.py). FastAPI's generated document
declares 422 as `application/json` with its own `HTTPValidationError`, and routes declare other errors with a
description only; `declare_problems` rewrites a document so that a client (or a generated SDK) reads each of
them as a `Problem`, and documents any other 4xx/5xx as one too.
"""

import copy
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI

from pledge_common.problems import PROBLEM_JSON

SCHEMA_REF = "#/components/schemas/"
PROBLEM = "Problem"  # the name is reserved: a service's own schemas must not use it
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details: how every error is answered (`application/problem+json`). "
    "Some problems carry further members (e.g. `services`, `service`, `items_checked`).",
    "properties": {
        "type": {
            "type": "string",
            "description": "a URI reference naming the kind of problem; `about:blank` when the status says it all",
        },
        "title": {"type": "string", "description": "short summary of the kind of problem"},
        "status": {"type": "integer", "description": "the HTTP status code"},
        "detail": {"type": "string", "description": "what went wrong with this request"},
        "instance": {"type": "string", "description": "the path of the request"},
        "errors": {
            "type": "array",
            "description": "the fields at fault",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string", "description": "e.g. `inner.name`, `query.limit`, `header.If-Match`"},
                    "message": {"type": "string"},
                },
                "required": ["field", "message"],
            },
        },
        "request_id": {"type": "string", "description": "the request id (also in the `X-Request-ID` header)"},
    },
    "required": ["type", "title", "status"],
    "additionalProperties": True,
}
RANGE_RESPONSES = {
    "4XX": "Any other client error, as problem details",
    "5XX": "A server error, as problem details (quote its `request_id`)",
}
# FastAPI's own description of its validation error components, unused once every 422 is a Problem
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})


def problem_content() -> dict[str, Any]:
    """A response's `content`: problem+json, the shared Problem schema."""
    return {PROBLEM_JSON: {"schema": {"$ref": SCHEMA_REF + PROBLEM}}}


def _is_error(status: str) -> bool:
    return status[:1] in {"4", "5"}


def path_operations(item: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(method, operation) of one path item (skipping its `parameters`, `summary`...)."""
    for method, operation in item.items():
        if method.lower() in METHODS and isinstance(operation, dict):
            yield method, operation


def operations(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every operation under `paths` (not `webhooks`: those describe what other servers answer)."""
    for item in document.get("paths", {}).values():
        if isinstance(item, dict):
            for _, operation in path_operations(item):
                yield operation


def declare_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Rewrite `document` in place (and return it) so that every error is documented as a Problem:

    - components get the `Problem` schema;
    - every 422 answers problem+json → Problem (keeping the description the route gave);
    - every other error status an operation declares without content gets that content; one that
      declares its own content keeps it;
    - every operation documents `4XX` and `5XX` as problems, for the statuses it does not list;
    - FastAPI's `HTTPValidationError` / `ValidationError` are removed when nothing refers to them any more.

    Doing it twice changes nothing more."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas[PROBLEM] = copy.deepcopy(PROBLEM_SCHEMA)
    for operation in operations(document):
        responses: dict[str, Any] = operation.setdefault("responses", {})
        for status, response in responses.items():
            if not isinstance(response, dict) or not _is_error(str(status)) or "$ref" in response:
                continue
            if str(status) == "422" or not response.get("content"):
                response["content"] = problem_content()
        for status, description in RANGE_RESPONSES.items():
            responses.setdefault(status, {"description": description, "content": problem_content()})
    _drop_unreferenced(document, FASTAPI_VALIDATION_SCHEMAS)
    return document


def schema_refs(node: Any) -> Iterator[str]:
    """Every `$ref` string in a document or part of one."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from schema_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from schema_refs(value)


def _drop_unreferenced(document: dict[str, Any], names: tuple[str, ...]) -> None:
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    dropped = True
    while dropped:  # HTTPValidationError refers to ValidationError: dropping one may free the other
        dropped = False
        for name in names:
            if name not in schemas:
                continue
            body = schemas.pop(name)
            if SCHEMA_REF + name in set(schema_refs(document)):
                schemas[name] = body
            else:
                dropped = True


def install_problem_document(app: FastAPI) -> None:
    """`app.openapi()` answers the document with its errors declared as problems (see `declare_problems`).

    FastAPI builds the document once and again only when routes were added since; each new one is rewritten
    once, and the same document is answered until then."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    rewritten: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        document = generate()
        if not rewritten or rewritten[0] is not document:
            rewritten[:] = [declare_problems(document)]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
