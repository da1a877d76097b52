"""The suite's HTTP client never reuses a pooled connection the server may be closing."""

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn
from pledge_common.internal import KEEPALIVE_EXPIRY_SECONDS, make_http_client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def peer(request: Request) -> PlainTextResponse:
    assert request.client is not None
    return PlainTextResponse(str(request.client.port))


@pytest.fixture
async def server_url() -> AsyncIterator[str]:
    """A real uvicorn server with its default keep-alive timeout (the services run with it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=[Route("/", peer)]), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def test_pooled_connections_expire_before_the_servers_keep_alive_timeout() -> None:
    assert uvicorn.Config(app=None).timeout_keep_alive > KEEPALIVE_EXPIRY_SECONDS


async def test_a_connection_idle_past_the_expiry_is_replaced_not_reused(server_url: str) -> None:
    async with make_http_client(server_url) as client:
        first = (await client.get("/")).text
        assert (await client.get("/")).text == first  # kept alive while fresh
        await asyncio.sleep(KEEPALIVE_EXPIRY_SECONDS + 0.5)
        assert (await client.get("/")).text != first  # a new connection, not one the server may be closing
