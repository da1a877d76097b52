"""Opaque cursors for keyset pagination: one codec for every list endpoint.

A cursor is the sort key of the last row of a page, as a JSON list, in base64url without padding. It means
nothing to callers; they pass back what `next`/`next_cursor` gave them. Decoding checks the shape and converts
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
from datetime import date, datetime, time
from typing import Any

from pledge_common.problems import invalid

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
