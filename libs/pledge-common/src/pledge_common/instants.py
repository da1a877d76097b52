"""The instants Pledge accepts: from 1970-01-01T00:00:00Z up to, not including, 2200-01-01T00:00:00Z.

Pledge measures service work as it happens, so an instant before the Unix epoch or two centuries ahead is a
typo or a probe (`0001-01-01T00:00:00Z`); near the ends of Python's range, deadline arithmetic would also
overflow. `TextGuardMiddleware` (textguard.py) refuses such a date-time with a 422 naming its field, in any
JSON body field and any query parameter of every service and of the gateway, before a route runs; a route
whose body is read raw (bulk ingest) checks its items with `instant_path`. Only date-times (a date with a
time of day) are checked: calendar dates (`due_date`) are not instants.

`Instant` is the type of every public instant field: an offset is required, and answers are in UTC with `Z`.
"""

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, PlainSerializer, WithJsonSchema

EARLIEST_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
END_OF_INSTANTS = datetime(2200, 1, 1, tzinfo=UTC)  # excluded
INSTANT_MESSAGE = "is outside the instants accepted (1970-01-01T00:00:00Z up to 2200-01-01T00:00:00Z, excluded)"

# a whole string that starts as an RFC 3339 / ISO 8601 date-time
DATE_TIME = re.compile(r"^(\d{4})-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
# the same inside raw JSON: a string value that starts with a year outside 1971..2198 (those need a closer look)
_SUSPECT = re.compile(rb'"(?!19[7-9]\d|2[01]\d\d)\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d|"(?:1970|2199)-')


def within_bounds(value: datetime) -> bool:
    """An instant Pledge accepts (a naive one is read as UTC)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return EARLIEST_INSTANT <= aware < END_OF_INSTANTS


def unreasonable(text: str) -> bool:
    """True when `text` is a date-time outside the accepted instants (False for anything else, including
    text that only looks like one and that the field's own parser will refuse)."""
    if DATE_TIME.match(text) is None:
        return False
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return False
    return not within_bounds(parsed)


def instant_path(value: Any, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """Where in decoded JSON the first unreasonable instant is (None: nowhere)."""
    if isinstance(value, str):
        return path if unreasonable(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = instant_path(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = instant_path(item, (*path, str(i)))
            if found is not None:
                return found
    return None


def instant_field(body: bytes) -> str | None:
    """The field of a JSON text that holds an unreasonable instant ("body" for the text itself), or None.
    Bodies without a suspect year (and without escapes, which could spell one) cost one scan."""
    if _SUSPECT.search(body) is None and b"\\u" not in body:
        return None
    try:
        found = instant_path(json.loads(body))
    except ValueError:
        return None  # not JSON: left to the parser, which names the fault
    if found is None:
        return None
    return ".".join(found) or "body"


def utc_text(value: datetime) -> str:
    """An instant in UTC with `Z`: `2026-11-03T08:15:00Z` (a fraction of a second only when there is one)."""
    if value.tzinfo is None:
        raise ValueError("an instant needs an offset (`Z` or `+08:00`)")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Instant = Annotated[
    AwareDatetime,
    AfterValidator(_to_utc),
    PlainSerializer(utc_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""An instant field: any RFC 3339 offset in, a naive date-time refused (422 naming the field), kept and
answered in UTC with `Z`."""
