"""Opaque cursors for keyset pagination."""

import base64
import json
from typing import Any

from pledge_common.problems import invalid


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values), default=str).encode()).decode().rstrip("=")


def decode_cursor(raw: str | None, size: int) -> list[Any] | None:
    if raw is None or raw == "":
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, TypeError):
        raise invalid("query.after", "not a cursor returned as `next` by this list") from None
    if not isinstance(values, list) or len(values) != size:
        raise invalid("query.after", "not a cursor returned as `next` by this list")
    return values
