"""RFC 9457 problem details: one error hierarchy, one registry of problem types and one set of handlers.

Every problem the suite answers has a stable `type`, `/problems/<slug>`, from `PROBLEM_TYPES`: a client
branches on it (and shows its own text); `title` is the registry's English title for that type, `detail` the
English help for this one request. A problem raised without a slug gets its status's general type
(`not-found`, `conflict`, `invalid-value`...); `problem_slug` derives the more precise ones it can tell from
the problem itself (an unknown field, a missing scope, a reused Idempotency-Key).
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pledge_common.db import database_unavailable
from pledge_common.observability import current_request_id

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_PREFIX = "/problems/"
log = logging.getLogger("pledge.problems")


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem: what a client branches on."""

    slug: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        return PROBLEM_TYPE_PREFIX + self.slug

    def as_json(self) -> dict[str, Any]:
        return {
            "type": self.uri,
            "slug": self.slug,
            "status": self.status,
            "title": self.title,
            "description": self.description,
        }


PROBLEM_TYPES: dict[str, ProblemType] = {
    t.slug: t
    for t in (
        ProblemType(
            "bad-request", 400, "Bad Request",
            "The request cannot be read as it is: a path not in its one plain form (a dot segment, an encoded "
            "slash, a backslash, an empty segment) or a malformed header.",
        ),
        ProblemType(
            "unauthorized", 401, "Unauthorized",
            "No credentials, or credentials that are not valid (unknown, revoked or expired API key; a token "
            "with a bad signature or past its expiry).",
        ),
        ProblemType(
            "scope-required", 403, "Scope Required",
            "The credentials are valid but lack the scope this operation needs; `required_scope` names it.",
        ),
        ProblemType(
            "forbidden", 403, "Forbidden",
            "The caller may not do this to this resource (for example another source's ticket or another "
            "caller's key), whatever its scopes.",
        ),
        ProblemType("not-found", 404, "Not Found", "No resource at this path, or no route for it."),
        ProblemType("method-not-allowed", 405, "Method Not Allowed", "The path exists; the method does not."),
        ProblemType(
            "request-timeout", 408, "Request Timeout", "The request body did not arrive in time; send it again."
        ),
        ProblemType(
            "conflict", 409, "Conflict",
            "The request conflicts with the resource's current state (a key that exists, a transition that "
            "is not allowed from this state, a concurrent write: send it again).",
        ),
        ProblemType(
            "idempotency-key-in-use", 409, "Idempotency Key In Use",
            "A request with the same Idempotency-Key is still running; retry once it has answered.",
        ),
        ProblemType(
            "stale-etag", 412, "Stale ETag",
            "If-Match names a version that is no longer current; `current_etag` is the current one. Read the "
            "resource again, reapply the change, send it with the new ETag.",
        ),
        ProblemType(
            "payload-too-large", 413, "Content Too Large",
            "The request body (or one of its items) is larger than this route takes.",
        ),
        ProblemType(
            "unsupported-media-type", 415, "Unsupported Media Type",
            "The body's Content-Type is not one this route reads.",
        ),
        ProblemType(
            "invalid-value", 422, "Invalid Value",
            "A field, query parameter or header holds a value this operation does not take; `errors` names "
            "each one (`covers[0].commitment`, `query.limit`, `header.If-Match`).",
        ),
        ProblemType(
            "unknown-field", 422, "Unknown Field",
            "The body holds a field, or the query a parameter, that this operation does not know; `errors` "
            "names each one. Nothing is ignored silently.",
        ),
        ProblemType(
            "idempotency-key-reused", 422, "Idempotency Key Reused",
            "The Idempotency-Key was already used with another request (method, path or body); use a new key "
            "for a new request.",
        ),
        ProblemType(
            "precondition-required", 428, "Precondition Required",
            "This update needs an If-Match header holding the ETag you last read.",
        ),
        ProblemType(
            "rate-limited", 429, "Too Many Requests",
            "A rate limit was reached; wait the seconds in Retry-After (the RateLimit-* headers tell the "
            "allowance).",
        ),
        ProblemType(
            "internal-error", 500, "Internal Server Error",
            "An unexpected error; quote the `request_id` when reporting it.",
        ),
        ProblemType(
            "upstream-failed", 502, "Bad Gateway", "The service behind this route failed to answer properly."
        ),
        ProblemType(
            "service-unavailable", 503, "Service Unavailable",
            "The service (or a service it needs) is not ready; `services` or `service` says which. Retry later.",
        ),
        ProblemType(
            "database-unavailable", 503, "Database Unavailable",
            "The database cannot serve right now (restart, failover); retry after the seconds in Retry-After.",
        ),
        ProblemType(
            "upstream-timeout", 504, "Gateway Timeout", "The service behind this route did not answer in time."
        ),
    )
}  # fmt: skip
# The general type of each status, for a problem raised without a slug of its own
STATUS_SLUGS: dict[int, str] = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    408: "request-timeout",
    409: "conflict",
    412: "stale-etag",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "invalid-value",
    428: "precondition-required",
    429: "rate-limited",
    500: "internal-error",
    502: "upstream-failed",
    503: "service-unavailable",
    504: "upstream-timeout",
}
# Members a problem may carry beyond RFC 9457's own, each with what it says
PROBLEM_EXTENSIONS: dict[str, dict[str, Any]] = {
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
    "required_scope": {"type": "string", "description": "`scope-required`: the scope the operation needs"},
    "current_etag": {"type": "string", "description": "`stale-etag`: the resource's current ETag"},
    "retry_after": {"type": "integer", "description": "seconds to wait before retrying (as in Retry-After)"},
    "services": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "`service-unavailable` at the gateway: each service's readiness",
    },
    "service": {"type": "string", "description": "the service that failed or is unavailable"},
    "runs_changing": {"type": "integer", "description": "runs whose state a pending rejudgement is changing"},
    "items_checked": {"type": "integer", "description": "bulk: items checked before the one at fault"},
}


def problem_schema() -> dict[str, Any]:
    """The `Problem` component: RFC 9457 members, `type` as the registry's enum, the extension members."""
    return {
        "title": "Problem",
        "type": "object",
        "description": "RFC 9457 problem details: how every error is answered (`application/problem+json`). "
        "Branch on `type` (see GET /problems); `title` and `detail` are English help.",
        "properties": {
            "type": {
                "type": "string",
                "enum": [t.uri for t in PROBLEM_TYPES.values()],
                "description": "the kind of problem, a URI reference `/problems/<slug>` (GET it for its page)",
            },
            "title": {"type": "string", "description": "the type's short English summary"},
            "status": {"type": "integer", "description": "the HTTP status code"},
            "detail": {"type": "string", "description": "what went wrong with this request"},
            "instance": {"type": "string", "description": "the path of the request"},
            **PROBLEM_EXTENSIONS,
        },
        "required": ["type", "title", "status"],
        "additionalProperties": True,
    }


def problem_slug(
    status: int, errors: Sequence[Mapping[str, Any]] | None = None, extra: Mapping[str, Any] | None = None
) -> str:
    """The type of a problem raised without a slug: what its status, fields and members tell."""
    fields = [str(e.get("field", "")) for e in errors or ()]
    if status == 403 and extra and extra.get("required_scope"):
        return "scope-required"
    if status == 422 and any(f.lower() in {"header.idempotency-key", "idempotency-key"} for f in fields):
        return "idempotency-key-reused"
    if status == 409 and any(f.lower() == "header.idempotency-key" for f in fields):
        return "idempotency-key-in-use"
    return STATUS_SLUGS.get(status, "internal-error" if status >= 500 else "bad-request")


class Problem(Exception):
    """An error that carries its HTTP status and becomes a problem+json answer."""

    status: int = 500
    title: str = "Internal Server Error"
    slug: str | None = None  # a key of PROBLEM_TYPES; None: what `problem_slug` derives

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        title: str | None = None,
        errors: Sequence[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        slug: str | None = None,
        **extra: Any,
    ) -> None:
        if slug is not None:
            self.slug = slug
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.headers = headers
        self.extra = extra
        super().__init__(detail or self.title)


class BadRequest(Problem):
    status, title = 400, "Bad Request"


class Unauthorized(Problem):
    status, title = 401, "Unauthorized"


class Forbidden(Problem):
    status, title = 403, "Forbidden"


class NotFound(Problem):
    status, title = 404, "Not Found"


class Conflict(Problem):
    status, title = 409, "Conflict"


class PreconditionFailed(Problem):
    status, title = 412, "Precondition Failed"


class PayloadTooLarge(Problem):
    status, title = 413, "Content Too Large"


class Unprocessable(Problem):
    status, title = 422, "Unprocessable Content"


class PreconditionRequired(Problem):
    status, title = 428, "Precondition Required"


class TooManyRequests(Problem):
    status, title = 429, "Too Many Requests"


class ServiceUnavailable(Problem):
    status, title = 503, "Service Unavailable"


class GatewayTimeout(Problem):
    status, title = 504, "Gateway Timeout"


def field_error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def invalid(field: str, message: str) -> Unprocessable:
    """A 422 naming one field; the most common problem in this code base."""
    return Unprocessable(f"{field}: {message}", errors=[field_error(field, message)])


def problem_body(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    errors: Sequence[dict[str, Any]] | None = None,
    slug: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The body of a problem: its type from the registry (`slug`, or the one `problem_slug` derives), the
    type's title (`title` only for a type the registry does not hold)."""
    kind = PROBLEM_TYPES.get(slug or problem_slug(status, errors, extra))
    if kind is None:
        raise ValueError(f"problem type {slug!r} is not in the registry")
    body: dict[str, Any] = {"type": kind.uri, "title": kind.title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = list(errors)
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, title, detail, **kwargs),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


# What a client is told to wait when the database cannot serve: a restart or failover takes seconds.
DATABASE_RETRY_AFTER_SECONDS = 3


def unexpected_response(exc: BaseException, instance: str | None) -> JSONResponse:
    """The answer to an exception no handler took: a 503 with Retry-After when the database is unavailable
    (a retry will do), else a 500 that the request id lets an operator find in the logs."""
    if database_unavailable(exc):
        log.warning("database unavailable (%s) on %s", type(exc).__name__, instance)
        return problem_response(
            503,
            "Service Unavailable",
            "the database is unavailable; retry after the time in Retry-After",
            instance=instance,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
            slug="database-unavailable",
        )
    log.error("unhandled error on %s", instance, exc_info=exc)
    return problem_response(
        500,
        "Internal Server Error",
        "an unexpected error occurred; quote the request id when reporting it",
        instance=instance,
    )


def _loc_to_field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        where, rest = parts[0], parts[1:]
        return ".".join(rest) if where == "body" and rest else ".".join([where, *rest]) if rest else where
    return ".".join(parts)


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    return [{"field": _loc_to_field(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in exc.errors()]


_STATUS_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    503: "Service Unavailable",
}


# character_not_in_repertoire (NUL in text), untranslatable_character (the escape \u0000 in jsonb)
UNSTORABLE_TEXT = frozenset({"22021", "22P05"})


def install_problem_handlers(app: FastAPI) -> None:
    """Every error an app can produce leaves as application/problem+json."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(
            exc.status,
            exc.title,
            exc.detail,
            instance=request.url.path,
            errors=exc.errors,
            headers=exc.headers,
            slug=exc.slug,
            **exc.extra,
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = validation_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        unknown = any(e.get("type") == "extra_forbidden" for e in exc.errors())
        return problem_response(
            422,
            "Unprocessable Content",
            detail,
            instance=request.url.path,
            errors=errors,
            slug="unknown-field" if unknown else "invalid-value",
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        title = _STATUS_TITLES.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        if exc.status_code == 404 and detail is None:
            detail = f"no route for {request.url.path}"
        if exc.status_code == 405:
            detail = f"method {request.method} is not allowed on {request.url.path}"
        return problem_response(
            exc.status_code,
            title,
            detail,
            instance=request.url.path,
            headers=dict(exc.headers) if exc.headers else None,
        )

    async def on_database(request: Request, exc: Exception) -> JSONResponse:
        """Text the database cannot store that no check caught before (a body too large to inspect): a 422,
        not a 500. A database that cannot serve: a 503 with Retry-After. Any other database error stays
        unexpected."""
        assert isinstance(exc, DBAPIError)
        if database_unavailable(exc):
            return unexpected_response(exc, request.url.path)
        if getattr(exc.orig, "sqlstate", None) not in UNSTORABLE_TEXT:
            raise exc
        message = "holds a character the database cannot store (such as U+0000)"
        return problem_response(
            422,
            "Unprocessable Content",
            f"body: {message}",
            instance=request.url.path,
            errors=[field_error("body", message)],
        )

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(DBAPIError, on_database)
    # Unexpected exceptions are answered by RequestContextMiddleware (observability.py), which sits
    # inside Starlette's ServerErrorMiddleware and can still add the request id header.


def problems_markdown() -> str:
    """docs/problems.md, generated from the registry (`python -m pledge_common.problems > docs/problems.md`)."""
    lines = [
        "# Problem types",
        "",
        "<!-- generated from `PROBLEM_TYPES` in libs/pledge-common/src/pledge_common/problems.py:",
        "     python3 -m uv run --frozen python -m pledge_common.problems > docs/problems.md -->",
        "",
        "Every error Pledge answers is an RFC 9457 problem (`application/problem+json`) whose `type` is one of",
        "these, a URI reference `/problems/<slug>`. Branch on `type`; `title` is the type's English title and",
        "`detail` English help for the one request. The gateway serves the registry as JSON, without credentials:",
        "`GET /problems` (all of them) and `GET /problems/<slug>` (one).",
        "",
        "| type | status | title | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for kind in PROBLEM_TYPES.values():
        lines.append(f"| `{kind.uri}` | {kind.status} | {kind.title} | {kind.description} |")
    lines += [
        "",
        "## Members beyond RFC 9457's own",
        "",
        "| member | meaning |",
        "| --- | --- |",
    ]
    for name, schema in PROBLEM_EXTENSIONS.items():
        lines.append(f"| `{name}` | {schema['description']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(problems_markdown(), end="")
