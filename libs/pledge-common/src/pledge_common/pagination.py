"""Pages: one envelope, one pair of query parameters, one cursor codec and one `Link` for every list endpoint.

Every list answers `Page[X]` (`{"items": [...], "next_cursor": ... | null}`), takes `cursor` and `limit` through
`PageParams` (or `page_params(maximum=...)`), and sets `Link: <...?cursor=...>; rel="next"` with `link_next`.

A cursor is the sort key of the last row of a page, as a JSON list, in base64url without padding. It means
nothing to callers; they pass back what `next_cursor` gave them. Decoding checks the shape and converts
each value with the kind the endpoint expects, so a forged or truncated cursor is a 422 naming the query
parameter, never a 500 from the database.

    next = encode_cursor(row.created_at, row.id)
    after = decode_cursor(cursor, datetime.fromisoformat, uuid.UUID, field="query.cursor")
"""

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query, Request, Response
from pydantic import BaseModel, Field

from pledge_common.problems import invalid

T = TypeVar("T")
DEFAULT_LIMIT = 100
MAX_LIMIT = 500

NOT_A_CURSOR = "not a cursor returned by this list"

# Bounds of Postgres `bigint`: a cursor value outside them cannot have come from a row.
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1


def int32(value: Any) -> int:
    """A kind for values of a Postgres `integer` column (the default bound is `bigint`): out of range is not ours."""
    number = int(value)
    if not -(2**31) <= number <= 2**31 - 1:
        raise ValueError(f"{number} is outside the range of a Postgres integer")
    return number


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"a cursor cannot hold a {type(value).__name__}")


def encode_cursor(*values: Any) -> str:
    """The cursor for a page that follows the row whose sort key is `values` (datetimes/dates as ISO 8601,
    UUIDs as strings, ints and strings as they are)."""
    raw = json.dumps([_plain(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _storable(value: Any) -> bool:
    """Whether a decoded value could have come out of a Postgres row (no NUL in text, ints within bigint)."""
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, int) and not isinstance(value, bool):
        return _BIGINT_MIN <= value <= _BIGINT_MAX
    return True


def decode_cursor(raw: str | None, *kinds: Callable[[Any], Any], field: str = "query.cursor") -> tuple[Any, ...] | None:
    """The sort key a cursor carries, each value converted by its kind (`datetime.fromisoformat`, `uuid.UUID`,
    `int`, `str`, ...); None when no cursor was given. Anything else than a cursor `encode_cursor` made with as
    many values is a 422 naming `field`."""
    if raw is None or raw == "":
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, TypeError, binascii.Error):  # bad base64, bad UTF-8, bad JSON (all ValueErrors but TypeError)
        raise invalid(field, NOT_A_CURSOR) from None
    if not isinstance(values, list) or len(values) != len(kinds) or not all(_storable(v) for v in values):
        raise invalid(field, NOT_A_CURSOR)
    try:
        converted = tuple(kind(value) for kind, value in zip(kinds, values, strict=True))
    except Exception:  # a kind is any callable; whatever it raises on a foreign value means "not a cursor"
        raise invalid(field, NOT_A_CURSOR) from None
    if not all(_storable(v) for v in converted):
        raise invalid(field, NOT_A_CURSOR)
    return converted


class Page(BaseModel, Generic[T]):
    """One page of a list: its items, and the cursor of the next page (null on the last one)."""

    items: list[T]
    next_cursor: str | None = Field(description="pass as `cursor` to get the next page; null on the last page")

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        """`Page[CommitmentPublic]` is named `CommitmentPage` (not pydantic's `Page[CommitmentPublic]`)."""
        (item,) = params
        return getattr(item, "__name__", str(item)).removesuffix("Public") + "Page"

    def __class_getitem__(cls, params: Any) -> Any:
        """`Page[X]` is one concrete class per X, named by `model_parametrized_name`: OpenAPI names a schema after
        a class, and a parametrized generic would be `Page_CommitmentPublic_` there."""
        parametrized = super().__class_getitem__(params)
        if (
            not isinstance(parametrized, type)
            or cls is not Page
            or parametrized.__pydantic_generic_metadata__["parameters"]
        ):
            return parametrized  # still generic (Page[T]) or a subclass's own parametrization
        concrete = _CONCRETE_PAGES.get(parametrized)
        if concrete is None:
            name = parametrized.__name__
            concrete = type(name, (parametrized,), {"__module__": cls.__module__, "__qualname__": name})
            _CONCRETE_PAGES[parametrized] = concrete
        return concrete


_CONCRETE_PAGES: dict[Any, Any] = {}


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What a caller asked of a list: where to start (a cursor it was given) and how many items at most."""

    cursor: str | None
    limit: int


def page_params(maximum: int = MAX_LIMIT, default: int = DEFAULT_LIMIT) -> Callable[..., PageRequest]:
    """The `cursor` and `limit` query parameters of a list whose page holds at most `maximum` items; a limit
    outside 1..maximum is a 422 naming `query.limit` (never clipped)."""

    def params(
        cursor: Annotated[
            str | None, Query(description="the `next_cursor` of the previous page (opaque; omit for the first page)")
        ] = None,
        limit: Annotated[
            int, Query(ge=1, le=maximum, description=f"page size, 1 to {maximum} (default {default})")
        ] = default,
    ) -> PageRequest:
        return PageRequest(cursor=cursor or None, limit=limit)

    return params


PageParams = Annotated[PageRequest, Depends(page_params())]


def next_link(request: Request, next_cursor: str) -> str:
    """`<...>; rel="next"`: this request's path and query with `cursor` replaced. The reference is relative
    (RFC 8288 resolves it against the request URL), so it stays right behind the gateway."""
    url = request.url.include_query_params(cursor=next_cursor)
    return f'<{url.path}?{url.query}>; rel="next"'


def link_next(request: Request, response: Response, next_cursor: str | None) -> None:
    """Set `Link: <...?cursor=...>; rel="next"` when there is a next page."""
    if next_cursor is not None:
        response.headers["Link"] = next_link(request, next_cursor)


PageT = TypeVar("PageT", bound=Page[Any])


def paged(request: Request, response: Response, page: PageT) -> PageT:
    """The page, its `Link` header set: `return paged(request, response, await service.list(...))`."""
    link_next(request, response, page.next_cursor)
    return page
