"""OpenAPI documents a client can be generated from, the same way for every app.

- Errors: every error of every app leaves as `application/problem+json` (problems.py). FastAPI's generated
  document declares 422 as `application/json` with its own `HTTPValidationError`, and routes declare other
  errors with a description only; `declare_problems` rewrites a document so that a client (or a generated SDK)
  reads each of them as a `Problem`, and documents any other 4xx/5xx as one too.
- operationIds are the route function's name in camelCase (`operation_id`), never FastAPI's default.
- Every component schema's `title` is its name (`name_schemas`): a generator names its classes by title.
- Response headers are declared where they are sent (`declare_headers`): by the request headers an operation
  takes (Idempotency-Key, If-Match, If-None-Match), by a page answer (Link), or by the `sends(...)` marker.
- Request bodies carry an example from the service's examples module (`add_examples`).
"""

import copy
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from pledge_common.problems import PROBLEM_JSON, problem_schema

SCHEMA_REF = "#/components/schemas/"
PROBLEM = "Problem"  # the name is reserved: a service's own schemas must not use it
PROBLEM_SCHEMA: dict[str, Any] = problem_schema()  # its `type` enum is the registry (problems.py)
RANGE_RESPONSES = {
    "4XX": "Any other client error, as problem details",
    "5XX": "A server error, as problem details (quote its `request_id`)",
}
# Response headers the suite sends, declared on the responses that carry them
HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": "the resource's version: send it back in If-Match to update, If-None-Match to revalidate",
        "schema": {"type": "string", "example": '"3"'},
    },
    "Location": {"description": "the path of the resource created", "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Link": {
        "description": 'the next page, `<...?cursor=...>; rel="next"`, when there is one',
        "schema": {"type": "string"},
    },
    "RateLimit-Limit": {"description": "requests allowed in a burst", "schema": {"type": "integer"}},
    "RateLimit-Remaining": {"description": "requests left in this burst", "schema": {"type": "integer"}},
    "RateLimit-Reset": {"description": "seconds until the allowance is whole again", "schema": {"type": "integer"}},
    "RateLimit-Policy": {"description": "the policy, `<burst>;w=<seconds>`", "schema": {"type": "string"}},
    "Retry-After": {"description": "seconds to wait before sending the request again", "schema": {"type": "integer"}},
}
RATE_LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy")
SENDS = "x-pledge-sends"  # the marker `sends(...)` leaves on an operation until `declare_headers` reads it
# Request headers whose presence says which response headers an operation sends
IDEMPOTENCY_KEY, IF_MATCH, IF_NONE_MATCH = "idempotency-key", "if-match", "if-none-match"
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
    for item in document.get("webhooks", {}).values():  # requests this app sends: the receiver answers them
        for _, operation in path_operations(item if isinstance(item, dict) else {}):
            operation.get("responses", {}).pop("422", None)  # FastAPI's, as if this app validated them
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


def operation_id(route: APIRoute) -> str:
    """An operation's id: its route function's name in camelCase (`list_commitments` → `listCommitments`).

    Set as FastAPI's `generate_unique_id_function` for every app; two routes of one merged document with the
    same function name are a clash to fix by renaming one (the gateway's merge refuses it)."""
    head, *rest = route.name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def name_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """Every component schema's `title` becomes its name (FastAPI keeps `Page[X]` as the title of
    `Page_X_`; a generator names its class by the title, so two titles alike lose one class)."""
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        if isinstance(schema, dict):
            schema["title"] = name
    return document


def sends(*headers: str) -> dict[str, Any]:
    """`openapi_extra` for a route that sends these response headers beyond what `declare_headers` infers
    (`Location` goes on its 201 only, the others on every success)."""
    unknown = [h for h in headers if h not in HEADERS]
    if unknown:
        raise ValueError(f"not a declared response header: {unknown}")
    return {SENDS: list(headers)}


def add_header(response: dict[str, Any], name: str) -> None:
    """Declare response header `name` (one of HEADERS) on `response` (a response object)."""
    if "$ref" not in response:
        response.setdefault("headers", {}).setdefault(name, copy.deepcopy(HEADERS[name]))


def _resolve(document: dict[str, Any], schema: Any) -> dict[str, Any]:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 10:
        ref = str(schema["$ref"])
        if not ref.startswith(SCHEMA_REF):
            return {}
        schema = document.get("components", {}).get("schemas", {}).get(ref[len(SCHEMA_REF) :], {})
        seen += 1
    return schema if isinstance(schema, dict) else {}


def is_page(document: dict[str, Any], response: dict[str, Any]) -> bool:
    """Whether a response's JSON body is a page: `items` and `next_cursor`."""
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    properties = _resolve(document, schema).get("properties", {})
    return "items" in properties and "next_cursor" in properties


def _request_headers(operation: dict[str, Any]) -> set[str]:
    return {
        str(p.get("name", "")).lower()
        for p in operation.get("parameters", [])
        if isinstance(p, dict) and p.get("in") == "header"
    }


def declare_headers(document: dict[str, Any]) -> dict[str, Any]:
    """Declare the response headers each operation sends, in place (and return the document):

    - `Idempotent-Replayed` on the successes of an operation that takes `Idempotency-Key`;
    - `ETag` on the successes (with a body) of an operation that takes `If-Match` or `If-None-Match`, and of
      the GET of a path whose other operations take `If-Match` (the read that gives the ETag to send back);
    - `Link` on a 200 whose body is a page;
    - what the `sends(...)` marker names (`Location` on a 201 only).

    Doing it twice changes nothing more."""
    for item in document.get("paths", {}).values():
        if not isinstance(item, dict):
            continue
        etagged = any(IF_MATCH in _request_headers(op) for _, op in path_operations(item))
        for method, operation in path_operations(item):
            taken = _request_headers(operation)
            marked = operation.pop(SENDS, [])
            for status, response in operation.get("responses", {}).items():
                status = str(status)
                if not status.startswith("2") or not isinstance(response, dict):
                    continue
                names: list[str] = []
                if IDEMPOTENCY_KEY in taken:
                    names.append("Idempotent-Replayed")
                if status != "204" and (taken & {IF_MATCH, IF_NONE_MATCH} or (method == "get" and etagged)):
                    names.append("ETag")
                if status == "200" and is_page(document, response):
                    names.append("Link")
                names += [h for h in marked if h != "Location" or status == "201"]
                for name in names:
                    add_header(response, name)
    return document


def add_examples(document: dict[str, Any], examples: Mapping[str, Any]) -> dict[str, Any]:
    """Put `examples[operationId]` as the example of that operation's JSON request body (`application/json`,
    or a `+json` type such as merge-patch), in place.

    An example for an operation the document does not have, or that takes no JSON body, is an error: an
    examples module cannot drift from its routes silently."""
    placed: set[str] = set()
    for operation in operations(document):
        operation_id_ = str(operation.get("operationId"))
        if operation_id_ not in examples:
            continue
        content: dict[str, Any] = operation.get("requestBody", {}).get("content", {})
        media = next((m for t, m in content.items() if t == "application/json" or t.endswith("+json")), None)
        if media is None:
            raise ValueError(f"example for {operation_id_}, which takes no JSON body")
        media["example"] = copy.deepcopy(examples[operation_id_])
        placed.add(operation_id_)
    missing = sorted(set(examples) - placed)
    if missing:
        raise ValueError(f"examples for operations this document does not have: {missing}")
    return document


def install_document(app: FastAPI, examples: Mapping[str, Any] | None = None) -> None:
    """`app.openapi()` answers the document as every client reads it: errors declared as problems, schema
    titles their names, response headers declared, request bodies with their examples.

    FastAPI builds the document once and again only when routes were added since; each new one is rewritten
    once, and the same document is answered until then."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    rewritten: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        document = generate()
        if not rewritten or rewritten[0] is not document:
            declare_headers(name_schemas(declare_problems(document)))
            add_examples(document, examples or {})
            rewritten[:] = [document]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
