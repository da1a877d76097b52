"""`PledgeClient` (sync) and `AsyncPledgeClient`: the same typed operations, over httpx."""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from pledge_client import _calls as calls
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
T = TypeVar("T")
Instant = datetime | str
USER_AGENT = "pledge-client/0.1"


def _headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT, "Accept": "application/json"}


def _retryable_failure(call: calls.Call[Any]) -> bool:
    """A request that failed in transit may be sent again when repeating it cannot write twice."""
    return call.method in ("GET", "HEAD") or call.idempotency_key is not None


def _report_filters(
    from_: Instant | None,
    to: Instant | None,
    as_of: Instant | None,
    group_by: Sequence[str] | None,
    more: dict[str, Any],
) -> dict[str, Any]:
    return {"from_": from_, "to": to, "as_of": as_of, "group_by": list(group_by or ()), **more}


class PledgeClient:
    """A partner's client of the Pledge gateway: `PledgeClient("https://pledge.example.com", "pledge_…")`.

    Unsafe POSTs carry an `Idempotency-Key` (a uuid4 per call, or yours), reused on the client's own
    retries; 429 and 503 answers are retried after their `Retry-After`; errors raise `PledgeProblem`.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 120.0,
        retry: calls.RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or calls.RetryPolicy()
        self._sleep = sleep
        self._http = httpx.Client(base_url=self.base_url, headers=_headers(api_key), timeout=timeout,
                                  transport=transport)  # fmt: skip

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def send(self, call: calls.Call[R]) -> R:
        """Send one operation, retrying as the policy says; its answer, or `PledgeProblem`."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.send(call.build(self._http))
            except httpx.TransportError as exc:
                if attempt >= self.retry.attempts or not _retryable_failure(call):
                    raise PledgeProblem.from_transport_error(self.base_url, exc) from exc
                self._sleep(self.retry.backoff * 2 ** (attempt - 1))
                continue
            wait = self.retry.wait(response, attempt)
            if wait is None:
                return call.read(response)
            response.close()
            self._sleep(wait)

    def _pages(self, call: calls.Call[Page[T]]) -> Iterator[T]:
        while True:
            page = self.send(call)
            yield from page.items
            if not page.next_cursor:
                return
            call = calls.with_cursor(call, page.next_cursor)

    # events
    def push_event(self, event: Event, *, idempotency_key: str | None = None) -> EventResult:
        """One event: `status` is `accepted` (new) or `duplicate` (already applied)."""
        return self.send(calls.push_event(event, idempotency_key))

    def push_events(
        self, events: Sequence[Event], *, atomic: bool = False, idempotency_key: str | None = None
    ) -> BulkResult:
        """A chunk of events as one JSON array (at most the server's bulk limit, 10 000 by default)."""
        return self.send(calls.push_events(events, atomic=atomic, idempotency_key=idempotency_key, as_ndjson=False))

    def push_ndjson(
        self, events: Sequence[Event] | bytes, *, atomic: bool = False, idempotency_key: str | None = None
    ) -> BulkResult:
        """Events as an NDJSON stream (events, or the stream's bytes); the answer lists only those not accepted."""
        return self.send(calls.push_events(events, atomic=atomic, idempotency_key=idempotency_key, as_ndjson=True))

    # tickets
    def get_ticket(self, ref: str) -> TicketDetail:
        """A ticket by its id or by `source:external_id`, with its node runs and raw events."""
        return self.send(calls.get_ticket(ref))

    def list_tickets(
        self,
        *,
        process: str | None = None,
        status: str | None = None,
        segment: str | None = None,
        source: str | None = None,
        customer: str | None = None,
        from_: Instant | None = None,
        to: Instant | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        **more: Any,
    ) -> Page[Ticket]:
        """One page of tickets, newest first; `from_`/`to` bound their `opened_at`, half-open."""
        return self.send(calls.list_tickets(dict(process=process, status=status, segment=segment, source=source,
                         customer=customer, from_=from_, to=to, limit=limit, cursor=cursor, **more)))  # fmt: skip

    def iter_tickets(self, **filters: Any) -> Iterator[Ticket]:
        """Every ticket matching the filters of `list_tickets`, page after page."""
        return self._pages(calls.list_tickets(filters))

    # reports
    def status_report(
        self,
        *,
        from_: Instant | None = None,
        to: Instant | None = None,
        as_of: Instant | None = None,
        group_by: Sequence[str] | None = None,
        **filters: Any,
    ) -> StatusReport:
        """The seven-state table as of an instant (default now) or over `[from_, to)`; filters as the API's."""
        return self.send(calls.status_report(_report_filters(from_, to, as_of, group_by, filters)))

    def status_runs(
        self,
        *,
        from_: Instant | None = None,
        to: Instant | None = None,
        as_of: Instant | None = None,
        state: str | None = None,
        **filters: Any,
    ) -> Page[StatusRun]:
        """One page of the runs behind a cell of the status table."""
        return self.send(calls.status_runs(_report_filters(from_, to, as_of, None, {"state": state, **filters})))

    def iter_status_runs(self, **filters: Any) -> Iterator[StatusRun]:
        return self._pages(calls.status_runs(filters))

    def achievement(
        self, *, from_: Instant, to: Instant, group_by: Sequence[str] | None = None, **filters: Any
    ) -> AchievementReport:
        """Shares of normal / acceptable / warning runs with their 95 % intervals, and counted durations."""
        return self.send(calls.achievement(_report_filters(from_, to, None, group_by, filters)))

    def rankings(self, *, from_: Instant, to: Instant, **filters: Any) -> Rankings:
        """Departments (`by="position"`: positions) ranked by achievement."""
        return self.send(calls.rankings(_report_filters(from_, to, None, None, filters)))

    def agreement_review(self, agreement: str, *, from_: Instant, to: Instant, **filters: Any) -> AgreementReview:
        """An SLA/OLA review over `[from_, to)`: achievement per covered commitment, penalties, credits."""
        return self.send(calls.agreement_review(agreement, _report_filters(from_, to, None, None, filters)))

    # alerts
    def list_alerts(self, **filters: Any) -> Page[Alert]:
        """One page of alerts, newest first (`state`, `level`, `department`, `process`, ... as the API's)."""
        return self.send(calls.list_alerts(filters))

    def iter_alerts(self, **filters: Any) -> Iterator[Alert]:
        return self._pages(calls.list_alerts(filters))

    def acknowledge_alert(self, alert_id: str, *, note: str | None = None) -> Alert:
        return self.send(calls.acknowledge_alert(alert_id, note, None))

    # API keys
    def create_api_key(
        self,
        name: str,
        scopes: Sequence[str],
        *,
        sources: Sequence[str] | None = None,
        expires_at: Instant | None = None,
        idempotency_key: str | None = None,
    ) -> ApiKeyCreated:
        """A new key; its secret (`key`) is in this answer only."""
        return self.send(calls.create_key(_key_body(name, scopes, sources, expires_at), idempotency_key))

    def list_api_keys(self, **filters: Any) -> Page[ApiKey]:
        return self.send(calls.list_keys(filters))

    def iter_api_keys(self, **filters: Any) -> Iterator[ApiKey]:
        return self._pages(calls.list_keys(filters))

    def revoke_api_key(self, key_id: str) -> ApiKey:
        return self.send(calls.revoke_key(key_id, None))

    def rotate_api_key(self, key_id: str, *, grace_period: str | None = None) -> ApiKeyCreated:
        """A new key replacing this one; the old one keeps working for `grace_period` (e.g. `PT24H`)."""
        return self.send(calls.rotate_key(key_id, grace_period, None))


def _key_body(
    name: str, scopes: Sequence[str], sources: Sequence[str] | None, expires_at: Instant | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "scopes": list(scopes)}
    if sources:
        body["sources"] = list(sources)
    if expires_at is not None:
        body["expires_at"] = expires_at.isoformat() if isinstance(expires_at, datetime) else expires_at
    return body


class AsyncPledgeClient:
    """`PledgeClient`'s operations for asyncio: `async with AsyncPledgeClient(url, key) as pledge: ...`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 120.0,
        retry: calls.RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or calls.RetryPolicy()
        self._sleep = sleep
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=_headers(api_key), timeout=timeout,
                                       transport=transport)  # fmt: skip

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, call: calls.Call[R]) -> R:
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.send(call.build(self._http))
            except httpx.TransportError as exc:
                if attempt >= self.retry.attempts or not _retryable_failure(call):
                    raise PledgeProblem.from_transport_error(self.base_url, exc) from exc
                await self._sleep(self.retry.backoff * 2 ** (attempt - 1))
                continue
            wait = self.retry.wait(response, attempt)
            if wait is None:
                await response.aread()
                return call.read(response)
            await response.aclose()
            await self._sleep(wait)

    async def _pages(self, call: calls.Call[Page[T]]) -> AsyncIterator[T]:
        while True:
            page = await self.send(call)
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            call = calls.with_cursor(call, page.next_cursor)

    async def push_event(self, event: Event, *, idempotency_key: str | None = None) -> EventResult:
        return await self.send(calls.push_event(event, idempotency_key))

    async def push_events(
        self, events: Sequence[Event], *, atomic: bool = False, idempotency_key: str | None = None
    ) -> BulkResult:
        call = calls.push_events(events, atomic=atomic, idempotency_key=idempotency_key, as_ndjson=False)
        return await self.send(call)

    async def push_ndjson(
        self, events: Sequence[Event] | bytes, *, atomic: bool = False, idempotency_key: str | None = None
    ) -> BulkResult:
        call = calls.push_events(events, atomic=atomic, idempotency_key=idempotency_key, as_ndjson=True)
        return await self.send(call)

    async def get_ticket(self, ref: str) -> TicketDetail:
        return await self.send(calls.get_ticket(ref))

    async def list_tickets(self, **filters: Any) -> Page[Ticket]:
        """One page of tickets; the filters of `PledgeClient.list_tickets`."""
        return await self.send(calls.list_tickets(filters))

    def iter_tickets(self, **filters: Any) -> AsyncIterator[Ticket]:
        return self._pages(calls.list_tickets(filters))

    async def status_report(
        self,
        *,
        from_: Instant | None = None,
        to: Instant | None = None,
        as_of: Instant | None = None,
        group_by: Sequence[str] | None = None,
        **filters: Any,
    ) -> StatusReport:
        return await self.send(calls.status_report(_report_filters(from_, to, as_of, group_by, filters)))

    async def status_runs(self, **filters: Any) -> Page[StatusRun]:
        return await self.send(calls.status_runs(filters))

    def iter_status_runs(self, **filters: Any) -> AsyncIterator[StatusRun]:
        return self._pages(calls.status_runs(filters))

    async def achievement(
        self, *, from_: Instant, to: Instant, group_by: Sequence[str] | None = None, **filters: Any
    ) -> AchievementReport:
        return await self.send(calls.achievement(_report_filters(from_, to, None, group_by, filters)))

    async def rankings(self, *, from_: Instant, to: Instant, **filters: Any) -> Rankings:
        return await self.send(calls.rankings(_report_filters(from_, to, None, None, filters)))

    async def agreement_review(self, agreement: str, *, from_: Instant, to: Instant, **filters: Any) -> AgreementReview:
        return await self.send(calls.agreement_review(agreement, _report_filters(from_, to, None, None, filters)))

    async def list_alerts(self, **filters: Any) -> Page[Alert]:
        return await self.send(calls.list_alerts(filters))

    def iter_alerts(self, **filters: Any) -> AsyncIterator[Alert]:
        return self._pages(calls.list_alerts(filters))

    async def acknowledge_alert(self, alert_id: str, *, note: str | None = None) -> Alert:
        return await self.send(calls.acknowledge_alert(alert_id, note, None))

    async def create_api_key(
        self,
        name: str,
        scopes: Sequence[str],
        *,
        sources: Sequence[str] | None = None,
        expires_at: Instant | None = None,
        idempotency_key: str | None = None,
    ) -> ApiKeyCreated:
        return await self.send(calls.create_key(_key_body(name, scopes, sources, expires_at), idempotency_key))

    async def list_api_keys(self, **filters: Any) -> Page[ApiKey]:
        return await self.send(calls.list_keys(filters))

    def iter_api_keys(self, **filters: Any) -> AsyncIterator[ApiKey]:
        return self._pages(calls.list_keys(filters))

    async def revoke_api_key(self, key_id: str) -> ApiKey:
        return await self.send(calls.revoke_key(key_id, None))

    async def rotate_api_key(self, key_id: str, *, grace_period: str | None = None) -> ApiKeyCreated:
        return await self.send(calls.rotate_key(key_id, grace_period, None))
