"""RFC 9457 problem details: one error hierarchy and one set of handlers for every app."""

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pledge_common.db import database_unavailable
from pledge_common.observability import current_request_id

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("pledge.problems")


class Problem(Exception):
    """An error that carries its HTTP status and becomes a problem+json answer."""

    status: int = 500
    title: str = "Internal Server Error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        title: str | None = None,
        errors: Sequence[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
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
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
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
            **exc.extra,
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = validation_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem_response(422, "Unprocessable Content", detail, instance=request.url.path, errors=errors)

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
