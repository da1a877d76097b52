"""NUL (U+0000), which Postgres cannot store in text, is refused as a 422 naming its field — never a 500."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import Body, FastAPI, Request
from pledge_common.db import create_sessionmaker
from pledge_common.problems import install_problem_handlers
from pledge_common.textguard import TextGuardMiddleware, nul_field
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import Message


class Inner(BaseModel):
    name: str


class Note(BaseModel):
    title: str
    tags: list[str] = []
    inner: Inner | None = None
    attributes: dict[str, Any] = {}


def test_nul_field_names_the_string_that_holds_it() -> None:
    assert nul_field(b'{"title": "a\\u0000b"}') == "title"
    assert nul_field(b'{"title": "ok", "inner": {"name": "\\u0000"}}') == "inner.name"
    assert nul_field(b'{"title": "ok", "tags": ["x", "y\\u0000"]}') == "tags.1"
    assert nul_field(b'{"attributes": {"k\\u0000": 1}}') == "attributes"  # a key: its object is named
    assert nul_field(b'[{"a": 1}, {"b": "\\u0000"}]') == "1.b"
    assert nul_field(b'"\\u0000"') == "body"


def test_nul_field_is_none_without_a_nul() -> None:
    assert nul_field(b'{"title": "plain"}') is None
    assert nul_field(b'{"title": "a backslash and u0000: \\\\u0000"}') is None  # the text \u0000, not NUL
    assert nul_field(b'{"title": "\\u0000"') is None  # not JSON: left to the parser, which names the fault


@pytest.fixture
async def notes(feed_engine: AsyncEngine) -> AsyncEngine:
    async with feed_engine.begin() as conn:
        await conn.execute(text("CREATE TABLE IF NOT EXISTS guard_notes (title text NOT NULL, attributes jsonb)"))
        await conn.execute(text("TRUNCATE guard_notes"))
    return feed_engine


@pytest.fixture
async def client(notes: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(TextGuardMiddleware, raw_bodies=["/raw", "/exact$"])
    sessionmaker = create_sessionmaker(notes)

    async def store(title: str, attributes: dict[str, Any]) -> None:
        async with sessionmaker.begin() as session:
            await session.execute(
                text("INSERT INTO guard_notes VALUES (:t, CAST(:a AS jsonb))"),
                {"t": title, "a": json.dumps(attributes)},
            )

    @app.post("/notes")
    async def create(note: Note) -> dict[str, str]:
        await store(note.title, note.attributes)
        return {"title": note.title}

    @app.get("/notes/{title}")
    async def read(title: str, q: str = "") -> dict[str, str]:
        async with sessionmaker() as session:
            await session.execute(
                text("SELECT count(*) FROM guard_notes WHERE title = :t OR title = :q"), {"t": title, "q": q}
            )
        return {"title": title}

    @app.post("/exact")
    async def exact(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}  # checks its body itself (here: not at all)

    @app.post("/exact/notes")
    async def below_exact(note: Note) -> dict[str, str]:
        await store(note.title, note.attributes)
        return {"title": note.title}

    @app.post("/raw/notes")
    async def raw(request: Request, note: Note = Body()) -> dict[str, int]:
        await store(note.title, note.attributes)  # no check of its own: the database refuses
        return {"bytes": len(await request.body())}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as c:
        yield c


async def stored(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM guard_notes"))).scalar_one())


def assert_refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"] == [
        {"field": field, "message": "contains the NUL character (U+0000), which cannot be stored"}
    ]


async def test_a_json_body_with_a_nul_is_refused_naming_the_field(
    client: httpx.AsyncClient, notes: AsyncEngine
) -> None:
    assert_refused(await client.post("/notes", json={"title": "ok", "inner": {"name": "a\x00"}}), "inner.name")
    assert_refused(await client.post("/notes", json={"title": "ok", "attributes": {"x": ["\x00"]}}), "attributes.x.0")
    merge_patch = {"content-type": "application/merge-patch+json"}
    assert_refused(await client.post("/notes", content=b'{"title": "\\u0000"}', headers=merge_patch), "title")
    assert await stored(notes) == 0
    assert (await client.post("/notes", json={"title": "fine", "attributes": {"k": "v"}})).status_code == 200
    assert await stored(notes) == 1


async def test_a_nul_in_the_query_or_the_path_is_refused(client: httpx.AsyncClient) -> None:
    assert_refused(await client.get("/notes/ok", params={"q": "a\x00b"}), "query.q")
    assert_refused(await client.get("/notes/a%00b"), "path")
    assert (await client.get("/notes/ok", params={"q": "fine"})).status_code == 200


async def test_routes_that_check_their_own_bodies_get_them_and_the_database_refusal_is_a_422(
    client: httpx.AsyncClient, notes: AsyncEngine
) -> None:
    body = b'{"title": "fine"}'
    ok = await client.post("/raw/notes", content=body, headers={"content-type": "application/json"})
    assert ok.status_code == 200
    assert ok.json()["bytes"] == len(body)
    # not checked by the guard: Postgres refuses the text, and the answer is still a 4xx naming the body
    for body in ({"title": "a\x00"}, {"title": "ok", "attributes": {"k": "\x00"}}):
        response = await client.post("/raw/notes", json=body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"][0]["field"] == "body"
    assert await stored(notes) == 1


async def run_guard(chunks: list[bytes], max_inspected: int) -> tuple[list[Message], bytes]:
    """Drive the middleware with a body sent in pieces: (what it answered, the body the app read)."""
    read = bytearray()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        more = True
        while more:
            message = await receive()
            read.extend(message.get("body", b""))
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    pieces: list[Message] = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
    ]

    async def receive() -> Message:
        return pieces.pop(0)

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/notes",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
    }
    await TextGuardMiddleware(app, max_inspected=max_inspected)(scope, receive, send)
    return sent, bytes(read)


async def test_a_body_in_pieces_is_checked_whole_and_passed_on_unchanged() -> None:
    body = json.dumps({"title": "x" * 300, "tags": ["a\x00"]}).encode()
    pieces = [body[i : i + 7] for i in range(0, len(body), 7)]  # the escape is split across pieces
    sent, read = await run_guard(pieces, max_inspected=10_000)
    assert sent[0]["status"] == 422
    assert read == b""
    clean = json.dumps({"title": "x" * 300}).encode()
    sent, read = await run_guard([clean[i : i + 7] for i in range(0, len(clean), 7)], max_inspected=10_000)
    assert sent[0]["status"] == 204
    assert read == clean
    # larger than it inspects: passed on unread (the database refuses what the guard did not see)
    sent, read = await run_guard(pieces, max_inspected=100)
    assert sent[0]["status"] == 204
    assert read == body


async def test_an_exact_raw_path_is_left_to_its_route_and_the_paths_below_it_are_still_checked(
    client: httpx.AsyncClient,
) -> None:
    body = b'{"title": "a\\u0000b", "attributes": {}}'
    left = await client.post("/exact", content=body, headers={"content-type": "application/json"})
    below = await client.post("/exact/notes", content=body, headers={"content-type": "application/json"})
    assert left.status_code == 200
    assert_refused(below, "title")
