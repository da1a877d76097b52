"""What the sync and async clients share: each operation as a `Call` (pure), the retry policy, decoding.

A call is built once per logical operation; its `Idempotency-Key` (unsafe POSTs) is drawn then, so every
retry of it sends the same key and the server answers a replay, never a second write.
"""

import email.utils
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from pledge_client._problem import PledgeProblem
from pledge_client.models import (
    AchievementReport,
    AgreementReview,
    Alert,
    ApiKey,
    ApiKeyCreated,
    BulkResult,
    Event,
    EventResult,
    Page,
    Rankings,
    StatusReport,
    StatusRun,
    Ticket,
    TicketDetail,
)

R = TypeVar("R")
Params = Mapping[str, Any]
RETRY_STATUSES = frozenset({429, 503})
NDJSON = "application/x-ndjson"


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of 429 and 503 answers: `Retry-After` when the server sends one (capped at `max_wait`),
    else `backoff` seconds doubling each time; at most `attempts` tries in all."""

    attempts: int = 4
    backoff: float = 0.5
    max_wait: float = 60.0

    def wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before trying again after `response` (attempt counts from 1), or None: give up."""
        if response.status_code not in RETRY_STATUSES or attempt >= self.attempts:
            return None
        after = retry_after_seconds(response.headers.get("retry-after"))
        return min(self.max_wait, after if after is not None else self.backoff * 2 ** (attempt - 1))


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class Call(Generic[R]):
    """One logical operation: the request to send (again, on a retry) and how to read its answer."""

    method: str
    path: str
    parse: Callable[[Any], R]
    params: list[tuple[str, str]] = field(default_factory=list)
    json_body: Any = None
    content: bytes | None = None
    content_type: str | None = None
    idempotency_key: str | None = None
    expect_body: bool = True

    def build(self, client: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        headers: dict[str, str] = {}
        if self.idempotency_key:
            headers["Idempotency-Key"] = self.idempotency_key
        content = self.content
        if self.json_body is not None:
            content = json.dumps(self.json_body, separators=(",", ":"), ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        elif self.content_type:
            headers["Content-Type"] = self.content_type
        return client.build_request(self.method, self.path, params=tuple(self.params), content=content, headers=headers)

    def read(self, response: httpx.Response) -> R:
        if response.status_code >= 400:
            raise PledgeProblem.from_response(response)
        try:
            body = response.json() if response.content else None
        except ValueError:
            raise PledgeProblem(response.status_code, "an answer that is not JSON", response.text[:200]) from None
        return self.parse(body)


def query(**values: Any) -> list[tuple[str, str]]:
    """Query parameters without the unset ones; a list or tuple is the parameter repeated (`group_by`)."""
    pairs: list[tuple[str, str]] = []
    for name, value in values.items():
        name = name.rstrip("_")  # from_ → from
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if item is None:
                continue
            if isinstance(item, bool):
                item = "true" if item else "false"
            elif isinstance(item, datetime):
                item = item.isoformat()
            pairs.append((name, str(item)))
    return pairs


def model(cls: type[BaseModel]) -> Callable[[Any], Any]:
    return cls.model_validate


def page_of(item: type[R]) -> Callable[[Any], Page[R]]:
    adapter: TypeAdapter[Page[R]] = TypeAdapter(Page[item])  # type: ignore[valid-type]
    return adapter.validate_python


def new_key() -> str:
    return str(uuid.uuid4())


def segment(value: str) -> str:
    """One path segment: `/` and other reserved characters escaped, so a value cannot reach another route."""
    return quote(value, safe=":@")


def ndjson(events: Iterable[Event]) -> bytes:
    return b"".join(json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" for e in events)


# --- the operations, one function each; the clients give them their typed signatures -----------------


def push_event(event: Event, idempotency_key: str | None) -> Call[EventResult]:
    def parse(body: Any) -> EventResult:
        return EventResult.model_validate(body)

    return Call("POST", "/v1/events", parse, json_body=event, idempotency_key=idempotency_key or new_key())


def push_events(
    events: Sequence[Event] | bytes, *, atomic: bool, idempotency_key: str | None, as_ndjson: bool
) -> Call[BulkResult]:
    params = query(atomic=True if atomic else None)
    key = idempotency_key or new_key()
    if isinstance(events, bytes):
        return Call("POST", "/v1/events/bulk", model(BulkResult), params, content=events, content_type=NDJSON,
                    idempotency_key=key)  # fmt: skip
    if as_ndjson:
        return Call("POST", "/v1/events/bulk", model(BulkResult), params, content=ndjson(events),
                    content_type=NDJSON, idempotency_key=key)  # fmt: skip
    return Call("POST", "/v1/events/bulk", model(BulkResult), params, json_body=list(events), idempotency_key=key)


def get_ticket(ref: str) -> Call[TicketDetail]:
    return Call("GET", f"/v1/tickets/{segment(ref)}", model(TicketDetail))


def list_tickets(filters: dict[str, Any]) -> Call[Page[Ticket]]:
    return Call("GET", "/v1/tickets", page_of(Ticket), query(**filters))


def status_report(filters: dict[str, Any]) -> Call[StatusReport]:
    return Call("GET", "/v1/reports/status", model(StatusReport), query(**filters))


def status_runs(filters: dict[str, Any]) -> Call[Page[StatusRun]]:
    return Call("GET", "/v1/reports/status/runs", page_of(StatusRun), query(**filters))


def achievement(filters: dict[str, Any]) -> Call[AchievementReport]:
    return Call("GET", "/v1/reports/achievement", model(AchievementReport), query(**filters))


def rankings(filters: dict[str, Any]) -> Call[Rankings]:
    return Call("GET", "/v1/reports/rankings", model(Rankings), query(**filters))


def agreement_review(agreement: str, filters: dict[str, Any]) -> Call[AgreementReview]:
    return Call("GET", f"/v1/reports/agreements/{segment(agreement)}", model(AgreementReview), query(**filters))


def list_alerts(filters: dict[str, Any]) -> Call[Page[Alert]]:
    return Call("GET", "/v1/alerts", page_of(Alert), query(**filters))


def acknowledge_alert(alert_id: str, note: str | None, idempotency_key: str | None) -> Call[Alert]:
    return Call("POST", f"/v1/alerts/{segment(alert_id)}/acknowledge", model(Alert),
                json_body={"note": note} if note else {}, idempotency_key=idempotency_key or new_key())  # fmt: skip


def create_key(body: dict[str, Any], idempotency_key: str | None) -> Call[ApiKeyCreated]:
    return Call("POST", "/v1/api-keys", model(ApiKeyCreated), json_body=body,
                idempotency_key=idempotency_key or new_key())  # fmt: skip


def list_keys(filters: dict[str, Any]) -> Call[Page[ApiKey]]:
    return Call("GET", "/v1/api-keys", page_of(ApiKey), query(**filters))


def revoke_key(key_id: str, idempotency_key: str | None) -> Call[ApiKey]:
    return Call("POST", f"/v1/api-keys/{segment(key_id)}/revoke", model(ApiKey),
                idempotency_key=idempotency_key or new_key())  # fmt: skip


def rotate_key(key_id: str, grace_period: str | None, idempotency_key: str | None) -> Call[ApiKeyCreated]:
    body = {"grace_period": grace_period} if grace_period else {}
    return Call("POST", f"/v1/api-keys/{segment(key_id)}/rotate", model(ApiKeyCreated), json_body=body,
                idempotency_key=idempotency_key or new_key())  # fmt: skip


def with_cursor(call: Call[Page[R]], cursor: str) -> Call[Page[R]]:
    params = [(k, v) for k, v in call.params if k != "cursor"] + [("cursor", cursor)]
    return Call(call.method, call.path, call.parse, params)
