"""The API guide (docs/api-guide.md) held over the running suite's merged OpenAPI and over its answers:
one page shape on every list, Idempotency-Key declared on every unsafe POST and honoured, operationIds and
schema titles a client generator can use, RFC 3339 durations, an example on every request body, typed
problems."""

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
from pledge_common.openapi import SCHEMA_REF, path_operations
from pledge_common.problems import PROBLEM_TYPES
from pledge_dev.demo_org import load_demo_org
from pledge_dev.suite import Suite

UNSAFE = {"post"}
# POSTs that change nothing: a computation answered from its body alone, so a retry is as good as a replay
IDEMPOTENCY_EXEMPT = {"POST /v1/deadlines/preview", "POST /v1/what-if"}
# Fields that hold a duration (docs/api-guide.md, Names: "durations in what they measure")
DURATION_FIELDS = frozenset(
    {
        "commitment_limit",
        "tolerance_limit",
        "suggested_commitment_limit",
        "suggested_tolerance_limit",
        "commitment_counted_limit",
        "tolerance_counted_limit",
        "counted",
        "grace_period",
        "mean",
        "median",
        "p90",
    }
)
# RFC 3339 appendix A: dur-date / dur-time / dur-week (so `PT2H0M50S`, never `PT2H50S`)
_TIME = r"T(?:\d+H(?:\d+M(?:\d+S)?)?|\d+M(?:\d+S)?|\d+S)"
_DATE = r"(?:\d+D|\d+M(?:\d+D)?|\d+Y(?:\d+M(?:\d+D)?)?)"
RFC3339_DURATION = re.compile(rf"^P(?:{_DATE}(?:{_TIME})?|{_TIME}|\d+W)$")
FRAMEWORK_DEFAULT_ID = re.compile(r"_v1_|_(get|post|put|patch|delete)$")


@pytest.fixture(scope="module")
async def document(suite: Suite) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def each_operation(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in path_operations(item):
            yield method, path, operation


def resolve(document: dict[str, Any], schema: Any) -> dict[str, Any]:
    while isinstance(schema, dict) and "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"][len(SCHEMA_REF) :]]
    return schema if isinstance(schema, dict) else {}


def json_schema_of(document: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    return resolve(document, response.get("content", {}).get("application/json", {}).get("schema"))


def query_parameters(operation: dict[str, Any]) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}


def header_parameters(operation: dict[str, Any]) -> set[str]:
    return {p["name"].lower() for p in operation.get("parameters", []) if p.get("in") == "header"}


# -- the document -------------------------------------------------------------------------------------------


def test_every_list_is_a_page_with_cursor_and_limit(document: dict[str, Any]) -> None:
    wrong = []
    for method, path, operation in each_operation(document):
        ok = operation["responses"].get("200")
        if method != "get" or ok is None or path.endswith("}"):
            continue  # a path ending in a parameter names one resource (a survey's `items` are its questions)
        schema = json_schema_of(document, ok)
        properties = schema.get("properties", {})
        is_list = schema.get("type") == "array" or resolve(document, properties.get("items")).get("type") == "array"
        if not is_list:
            continue
        shape = schema.get("type") == "object" and {"items", "next_cursor"} <= set(properties)
        params = {"cursor", "limit"} <= query_parameters(operation)
        if not (shape and params):
            wrong.append(f"GET {path}: page shape {shape}, cursor+limit {params}")
    assert wrong == []


def test_every_unsafe_post_declares_idempotency_key(document: dict[str, Any]) -> None:
    missing = [
        f"{method.upper()} {path}"
        for method, path, operation in each_operation(document)
        if method in UNSAFE
        and f"{method.upper()} {path}" not in IDEMPOTENCY_EXEMPT
        and "idempotency-key" not in header_parameters(operation)
    ]
    assert missing == []


def test_operation_ids_are_camel_case_names_not_framework_defaults(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in each_operation(document)]
    assert [i for i in ids if FRAMEWORK_DEFAULT_ID.search(i) or not re.fullmatch(r"[a-z][a-zA-Z0-9]*", i)] == []
    assert len(ids) == len(set(ids))


def test_schema_titles_are_unique_and_are_their_names(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    titles = [s.get("title") for s in schemas.values()]
    assert len(titles) == len(set(titles))
    assert {n: s.get("title") for n, s in schemas.items() if s.get("title") != n} == {}


def test_every_duration_field_has_format_duration(document: dict[str, Any]) -> None:
    wrong = []
    for name, schema in document["components"]["schemas"].items():
        for field, spec in schema.get("properties", {}).items():
            if field not in DURATION_FIELDS:
                continue
            branches = [b for b in spec.get("anyOf", [spec]) if b.get("type") != "null"]
            if not all(b.get("type") == "string" and b.get("format") == "duration" for b in branches):
                wrong.append(f"{name}.{field}: {spec}")
    assert wrong == []


def test_every_request_body_has_an_example_that_fits_its_schema(document: dict[str, Any]) -> None:
    missing, unfit = [], []
    registry = {"components": document["components"]}
    for method, path, operation in each_operation(document):
        content = operation.get("requestBody", {}).get("content", {})
        if not content:
            continue
        with_example = {t: m for t, m in content.items() if "example" in m or "examples" in m}
        if not with_example:
            missing.append(f"{method.upper()} {path}")
        for media in with_example.values():
            if "example" in media and "schema" in media:
                schema = {**registry, **media["schema"]}
                try:
                    jsonschema.validate(media["example"], schema)
                except jsonschema.ValidationError as err:
                    unfit.append(f"{method.upper()} {path}: {err.message}")
    assert missing == []
    assert unfit == []


def test_declared_headers_where_they_are_sent(document: dict[str, Any]) -> None:
    for method, path, operation in each_operation(document):
        successes = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
        if "idempotency-key" in header_parameters(operation):
            for status, response in successes.items():
                assert "Idempotent-Replayed" in response.get("headers", {}), (method, path, status)
        ok = successes.get("200")
        if method == "get" and ok is not None and "next_cursor" in json_schema_of(document, ok).get("properties", {}):
            assert "Link" in ok.get("headers", {}), path
        assert "Retry-After" in operation["responses"]["429"].get("headers", {}), (method, path)
        assert "RateLimit-Remaining" in operation["responses"]["429"].get("headers", {}), (method, path)
    create = document["paths"]["/v1/commitments"]["post"]["responses"]["201"]["headers"]
    assert {"Location", "ETag", "Idempotent-Replayed"} <= set(create)


def test_the_problem_schema_enumerates_the_registry(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert problem["properties"]["type"]["enum"] == [k.uri for k in PROBLEM_TYPES.values()]
    assert {"errors", "request_id", "retry_after", "runs_changing"} <= set(problem["properties"])


def test_the_webhooks_section_declares_each_alert_delivery_signed(document: dict[str, Any]) -> None:
    hooks = document["webhooks"]
    assert {"alert.raised", "alert.acknowledged"} <= set(hooks)
    for hook in hooks.values():
        post = hook["post"]
        assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= header_parameters(post)
        assert "application/json" in post["requestBody"]["content"]


# -- the answers --------------------------------------------------------------------------------------------


def durations_in(node: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in DURATION_FIELDS and not isinstance(value, dict | list):
                yield f"{where}.{key}", value
            else:
                yield from durations_in(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from durations_in(value, f"{where}[{i}]")


async def test_durations_in_answers_are_rfc3339(gateway: httpx.AsyncClient) -> None:
    await load_demo_org(gateway)
    answers = {
        "commitments": (await gateway.get("/v1/commitments", params={"limit": 200})).json(),
        "preview": (
            await gateway.post(
                "/v1/deadlines/preview",
                json={
                    "start": "2026-11-03T08:15:00Z",
                    "commitment": {"commitment_limit": "PT4H", "tolerance_limit": "PT8H", "calendar_key": "24x7"},
                    "at": "2026-11-03T11:00:00Z",
                },
            )
        ).json(),
    }
    seen = [(f"{name}{where}", value) for name, body in answers.items() for where, value in durations_in(body)]
    assert len([v for _, v in seen if v is not None]) >= 10, answers  # the sample holds durations at all
    wrong = [(where, v) for where, v in seen if v is not None and not RFC3339_DURATION.match(str(v))]
    assert wrong == []


def idempotent_samples(tag: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(path, body, another body) of one unsafe POST per service."""
    event = {
        "event_id": f"contract-{tag}-opened",
        "type": "ticket.opened",
        "occurred_at": "2026-11-03T08:15:00Z",
        "source": "field-app",
        "ticket": {"external_id": f"FR-{tag}", "process": "fault-repair", "segment": "enterprise"},
    }
    return [
        (
            "/v1/agreements",
            {"key": f"ola-{tag}", "kind": "ola", "title": "Repair OLA", "provider": "operations-maintenance",
             "customer": "customer-service"},
            {"key": f"ola-{tag}", "kind": "ola", "title": "Another OLA", "provider": "operations-maintenance",
             "customer": "customer-service"},
        ),
        ("/v1/events/bulk", [event], [{**event, "occurred_at": "2026-11-03T08:16:00Z"}]),  # type: ignore[list-item]
        (
            "/v1/webhooks",
            {"url": "http://127.0.0.1:9/hooks", "events": ["alert.raised"], "levels": ["warning"]},
            {"url": "http://127.0.0.1:9/other", "events": ["alert.raised"], "levels": ["warning"]},
        ),
        (
            "/v1/feedback",
            {"channel": "app", "process": "fault-repair", "csat": 4},
            {"channel": "app", "process": "fault-repair", "csat": 2},
        ),
        (
            "/v1/api-keys",
            {"name": f"contract {tag}", "scopes": ["reports:read"]},
            {"name": f"contract {tag}", "scopes": ["tickets:read"]},
        ),
    ]  # fmt: skip


@pytest.mark.parametrize("index", range(5), ids=["commitment", "tracking", "evaluation", "feedback", "gateway"])
async def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(
    gateway: httpx.AsyncClient, index: int
) -> None:
    await load_demo_org(gateway)
    tag = uuid.uuid4().hex[:10]
    path, body, other = idempotent_samples(tag)[index]
    key = {"Idempotency-Key": f"contract-{tag}"}
    first = await gateway.post(path, json=body, headers=key)
    again = await gateway.post(path, json=body, headers=key)
    refused = await gateway.post(path, json=other, headers=key)
    assert first.status_code in (200, 201), first.text
    assert "idempotent-replayed" not in first.headers
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again.headers.get("idempotent-replayed") == "true"
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"] == "/problems/idempotency-key-reused"
    assert [e["field"] for e in problem["errors"]] == ["header.Idempotency-Key"]
