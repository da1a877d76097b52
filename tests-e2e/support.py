"""What every end-to-end test needs: status checks, polling with one generous ceiling, event posting.

Services learn of each other's changes over their feeds, so a test polls until the effect is visible. The
ceiling is not a timing assertion: it only stops a test that would otherwise wait forever on a shared, busy
machine, so it is generous and the same everywhere."""

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
from aiosmtpd.controller import Controller

FEED_WAIT = 180.0  # seconds: the ceiling for anything that travels over a feed


def ok(response: httpx.Response, *expected: int) -> Any:
    """The decoded body, when the status is one of `expected` (200 by default); otherwise fail with the body."""
    assert response.status_code in (expected or (200,)), f"{response.request.url}: {response.text}"
    return response.json() if response.content else None


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def eventually(
    check: Callable[[], Awaitable[Any]], what: str, seen: Callable[[], Any] = lambda: None, within: float = FEED_WAIT
) -> Any:
    """Poll `check` until it returns something truthy, and return that."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}; last seen: {seen()}")
        await asyncio.sleep(0.25)


async def post_event(gateway: httpx.AsyncClient, event: dict[str, Any]) -> httpx.Response:
    """POST one event; tracking-svc learns new processes from commitment-svc's feed, so retry while it has not."""
    deadline = time.monotonic() + FEED_WAIT
    while True:
        response = await gateway.post("/v1/events", json=event)
        if response.status_code != 422 or "unknown process" not in response.text or time.monotonic() > deadline:
            ok(response, 201)
            return response
        await asyncio.sleep(0.3)


# the suite's gateway accepts user tokens signed by the session's own key pair (conftest's `user_token_key`)
USER_TOKEN_ISSUER = "https://idp.suite.e2e"
USER_TOKEN_AUDIENCE = "pledge-suite-e2e"


class MailSink:
    """What a local SMTP server received (aiosmtpd calls `handle_DATA` from its own thread)."""

    def __init__(self) -> None:
        self.port = 0
        self._lock = threading.Lock()
        self._messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self._messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self._messages if m["To"] == address]


@contextlib.contextmanager
def running_mail_sink() -> Iterator[MailSink]:
    sink = MailSink()
    with socket.socket() as probe:  # aiosmtpd checks readiness by connecting to the port it was given
        probe.bind(("127.0.0.1", 0))
        sink.port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
