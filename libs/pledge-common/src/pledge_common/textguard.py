"""Text Postgres cannot store (the NUL character, U+0000), and JSON bodies nested too deep to be answered,
are refused as a 422 naming their field.

Postgres keeps no NUL in `text` (nor the escape `\\u0000` in `jsonb`), so such a value would otherwise fail
the request at the database. `TextGuardMiddleware` looks at the query string, the path and JSON bodies
before any route runs; routes that answer per item (bulk ingest) check their items themselves with
`nul_field`. A JSON body can carry NUL only as the escape `\\u0000`, so bodies without those bytes cost one
scan; only a body that has them is decoded to find the field. A JSON body may nest at most
`pledge_common.jsonlimits.MAX_BODY_DEPTH` levels (any deeper would fail the decoders, and every answer
carrying it): counted without decoding, the field found only when the body is refused.

The same pass refuses date-times outside the instants Pledge accepts (instants.py), in JSON bodies and query
parameters, as a 422 naming the field.
"""

import asyncio
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pledge_common.instants import INSTANT_MESSAGE, instant_field, unreasonable
from pledge_common.jsonlimits import DEPTH_MESSAGE, MAX_BODY_DEPTH, deep_path, nesting_exceeds
from pledge_common.problems import field_error, problem_response

NUL_MESSAGE = "contains the NUL character (U+0000), which cannot be stored"
NUL_ESCAPE = b"\\u0000"
JSON_TYPES = ("application/json", "application/merge-patch+json")


def nul_path(value: Any, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """Where in decoded JSON the first NUL is: the path of the string (or of the object whose key has it)."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                return path
            found = nul_path(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = nul_path(item, (*path, str(i)))
            if found is not None:
                return found
    return None


def nul_field(body: bytes) -> str | None:
    """The field of a JSON text that holds a NUL ("body" for the text itself), or None. A text that is not
    valid JSON is left to its parser, which names the fault, and one nested too deep to decode is refused
    for that (`too_deep_field`)."""
    if NUL_ESCAPE not in body or nesting_exceeds(body, MAX_BODY_DEPTH):
        return None
    try:
        found = nul_path(json.loads(body))
    except ValueError:
        return None
    if found is None:
        return None
    return ".".join(found) or "body"


def _query_field(query_string: bytes) -> str | None:
    if b"%00" not in query_string:
        return None
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return "query." + name.replace("\x00", "")
    return None


def _query_instant(query_string: bytes) -> str | None:
    if b"-" not in query_string:
        return None
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if unreasonable(value):
            return "query." + name
    return None


def _refuse(field: str, message: str = NUL_MESSAGE) -> Any:
    detail = f"{field}: {message}"
    return problem_response(422, "Unprocessable Content", detail, errors=[field_error(field, message)])


def too_deep_field(body: bytes, limit: int) -> str | None:
    """The field of a JSON text nested deeper than `limit` ("body" for the text itself), or None."""
    if not nesting_exceeds(body, limit):
        return None
    path = deep_path(body, limit)
    return None if path is None else ".".join(path) or "body"


class TextGuardMiddleware:
    """Refuses NUL in the query string, the path and JSON bodies, and JSON bodies nested deeper than
    `max_depth` (bodies up to `max_inspected` bytes; a larger body passes unread and meets the database's
    refusal or its parser's); a JSON body that takes longer than `max_read_seconds` to arrive is a 408.
    Paths under `raw_bodies` have their bodies checked by their routes (which answer per item); an entry
    ending in `$` names one path exactly (not the paths below it)."""

    def __init__(
        self,
        app: ASGIApp,
        raw_bodies: Sequence[str] = (),
        max_inspected: int = 8 * 2**20,
        max_depth: int = MAX_BODY_DEPTH,
        max_read_seconds: float = 60.0,
    ) -> None:
        self.app = app
        self.raw_bodies = tuple(raw_bodies)
        self.max_inspected = max_inspected
        self.max_depth = max_depth
        self.max_read_seconds = max_read_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = _query_field(scope.get("query_string", b""))
        if field is None and "\x00" in scope["path"]:
            field = "path"
        if field is not None:
            await _refuse(field)(scope, receive, send)
            return
        field = _query_instant(scope.get("query_string", b""))
        if field is not None:
            await _refuse(field, INSTANT_MESSAGE)(scope, receive, send)
            return
        if not self._inspects(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        first_other: Message | None = None  # a disconnect while reading
        try:
            async with asyncio.timeout(self.max_read_seconds):  # no client holds a request open at its own pace
                while more and size <= self.max_inspected:
                    message = await receive()
                    if message["type"] != "http.request":
                        first_other = message
                        break
                    chunk = message.get("body", b"")
                    chunks.append(chunk)
                    size += len(chunk)
                    more = message.get("more_body", False)
        except TimeoutError:
            detail = f"the request body did not arrive within {self.max_read_seconds:g} s"
            await problem_response(408, "Request Timeout", detail)(scope, receive, send)
            return
        body = b"".join(chunks)
        if first_other is None and not more:
            field = too_deep_field(body, self.max_depth)
            if field is not None:
                await _refuse(field, DEPTH_MESSAGE.format(limit=self.max_depth))(scope, receive, send)
                return
            field = nul_field(body)
            if field is not None:
                await _refuse(field)(scope, receive, send)
                return
            field = instant_field(body)
            if field is not None:
                await _refuse(field, INSTANT_MESSAGE)(scope, receive, send)
                return
        replay: list[Message] = [{"type": "http.request", "body": body, "more_body": more or first_other is not None}]
        if first_other is not None:
            replay.append(first_other)

        async def replaying() -> Message:
            return replay.pop(0) if replay else await receive()

        await self.app(scope, replaying, send)

    def _inspects(self, scope: Scope) -> bool:
        if scope["method"] not in ("POST", "PUT", "PATCH", "DELETE"):
            return False
        path = scope["path"]
        if any(path == raw[:-1] if raw.endswith("$") else path.startswith(raw) for raw in self.raw_bodies):
            return False
        content_type = b""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
                break
        kind = content_type.split(b";", 1)[0].strip().lower().decode("latin-1")
        return kind == "" or kind in JSON_TYPES or kind.endswith("+json")
