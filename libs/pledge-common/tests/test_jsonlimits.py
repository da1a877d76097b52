"""JSON nesting: counted without decoding, refused at the edge, and read back whatever was stored."""

import asyncio
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pledge_common.consumer import decode_page
from pledge_common.db import create_engine
from pledge_common.jsonlimits import (
    bounded_loads,
    deep_path,
    nesting_depth,
    nesting_exceeds,
    split_array,
    value_depth_exceeds,
)
from pledge_common.problems import install_problem_handlers
from pledge_common.textguard import TextGuardMiddleware, nul_field
from pydantic import BaseModel
from sqlalchemy import text


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for i in range(depth):
        value = {"k": value} if i % 2 else [value]
    return value


def nested_text(depth: int) -> bytes:
    return ('{"k": [' * (depth // 2) + "[" * (depth % 2) + "1" + "]" * (depth % 2) + "]}" * (depth // 2)).encode()


class TestDepth:
    @pytest.mark.parametrize("depth", [0, 1, 2, 31, 32, 33, 1000, 20_000])
    def test_the_depth_of_a_text_is_counted_without_decoding(self, depth: int) -> None:
        assert nesting_depth(nested_text(depth)) == depth

    def test_brackets_inside_strings_do_not_count(self) -> None:
        text = json.dumps({"a": "[[[[{{{{", 'b\\"[[': ["]]]]"]}).encode()
        assert nesting_depth(text) == 2
        assert not nesting_exceeds(text, 2)
        assert nesting_exceeds(text, 1)

    def test_a_decoded_value_is_measured_iteratively(self) -> None:
        deep: Any = 1
        for _ in range(50_000):  # far past any recursion limit
            deep = [deep]
        assert value_depth_exceeds(deep, 16)
        assert not value_depth_exceeds(nested(16), 16)
        assert value_depth_exceeds(nested(17), 16)
        assert not value_depth_exceeds("text", 0)

    def test_the_path_names_the_first_value_too_deep(self) -> None:
        text = json.dumps({"a": 1, "ticket": {"x": [0, {"y": [[[]]]}]}}).encode()
        assert deep_path(text, 4) == ("ticket", "x", "1", "y")
        assert deep_path(text, 6) == ("ticket", "x", "1", "y", "0", "0")
        assert deep_path(text, 7) is None
        assert deep_path(b"[[]]", 0) == ()
        assert deep_path(("[" * 5000 + "]" * 5000).encode(), 3) == ("0", "0", "0")


class TestSplitArray:
    def test_items_are_cut_at_the_arrays_own_commas(self) -> None:
        text = b' [ {"a": "x,]"}, [1, [2]] ,3, "s"] '
        assert [json.loads(i) for i in split_array(text) or []] == [{"a": "x,]"}, [1, [2]], 3, "s"]

    def test_an_item_too_deep_to_decode_is_cut_out_whole(self) -> None:
        deep = b"[" * 5000 + b"]" * 5000
        items = split_array(b'[{"a":1},' + deep + b',{"b":2}]')
        assert items is not None
        assert json.loads(items[0]) == {"a": 1}
        assert items[1] == deep
        assert json.loads(items[2]) == {"b": 2}

    @pytest.mark.parametrize("text", [b"{}", b"[1,2", b"[1]]", b"[1] x", b""])
    def test_a_text_that_is_not_one_array_is_none(self, text: bytes) -> None:
        assert split_array(text) is None

    def test_an_empty_array_has_no_items(self) -> None:
        assert split_array(b"[ ]") == []


class TestBoundedLoads:
    def test_a_value_within_the_limit_is_decoded_as_it_is(self) -> None:
        value = {"a": [1, 2.5, None, True, "s"], "b": nested(127), "c": "[[[["}
        assert bounded_loads(json.dumps(value)) == value
        assert bounded_loads(json.dumps(value).encode()) == value

    def test_parts_below_the_limit_are_given_as_their_json_text(self) -> None:
        stored = '{"keep": [1, {"x": "y"}], "deep": ' + "[" * 5000 + "1" + "]" * 5000 + "}"
        loaded = bounded_loads(stored, limit=3)
        assert loaded["keep"] == [1, {"x": "y"}]
        assert loaded["deep"] == [["[" * 4998 + "1" + "]" * 4998]]
        assert not value_depth_exceeds(loaded, 3)


class Note(BaseModel):
    title: str
    attributes: dict[str, Any] = {}


@pytest.fixture
async def client() -> Any:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(TextGuardMiddleware)

    @app.post("/notes")
    async def create(note: Note) -> dict[str, str]:
        return {"title": note.title}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as c:
        yield c


class TestMiddleware:
    @pytest.mark.parametrize("depth", [33, 300, 999, 1000, 100_000])
    async def test_a_body_nested_too_deep_is_a_422_naming_the_field(
        self, client: httpx.AsyncClient, depth: int
    ) -> None:
        body = '{"title": "t", "attributes": {"a": ' + "[" * depth + "]" * depth + "}}"
        response = await client.post("/notes", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        (error,) = response.json()["errors"]
        assert error["field"] == "attributes.a" + ".0" * 30
        assert error["message"] == "nested deeper than 32 levels of JSON arrays and objects"

    async def test_a_deep_body_with_a_nul_escape_is_refused_for_its_depth(self, client: httpx.AsyncClient) -> None:
        body = b'{"title": "\\u0000", "attributes": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
        assert nul_field(body) is None
        response = await client.post("/notes", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"].startswith("attributes.a.0")

    async def test_a_body_at_the_limit_passes(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/notes", json={"title": "t", "attributes": {"a": nested(30)}})
        assert response.status_code == 200, response.text


async def test_the_engine_reads_back_a_value_stored_deeper_than_any_decoder_goes(database_url: str) -> None:
    engine = create_engine(database_url, "jsonlimits")
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text("SELECT CAST(:deep AS jsonb), CAST(:deep AS json), CAST('{\"a\": [1]}' AS jsonb)"),
                    {"deep": "[" * 3000 + "]" * 3000},
                )
            ).one()
    finally:
        await engine.dispose()
    assert not value_depth_exceeds(row[0], 128)
    assert value_depth_exceeds(row[0], 127)
    assert row[1] == row[0]
    assert row[2] == {"a": [1]}


def test_a_feed_page_with_a_payload_too_deep_to_decode_is_still_read() -> None:
    deep = b"[" * 5000 + b"]" * 5000
    page = (
        b'{"events": [{"cursor": "1:1", "seq": 1, "type": "ticket.upserted", "key": "t", "occurred_at": "x",'
        b' "payload": {"id": "t", "attributes": {"a": ' + deep + b'}}}], "next": "1:1"}'
    )
    (event,) = decode_page(page)
    assert event.payload["id"] == "t"
    assert value_depth_exceeds(event.payload, 127)
    assert not value_depth_exceeds(event.payload, 128)


async def test_a_json_body_trickled_past_the_time_allowed_is_a_408() -> None:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(TextGuardMiddleware, max_read_seconds=0.3)

    @app.post("/notes")
    async def create(note: Note) -> dict[str, str]:
        return {"title": note.title}

    async def trickle() -> Any:
        yield b'{"title": '
        await asyncio.sleep(30)
        yield b'"t"}'

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client:
        response = await client.post("/notes", content=trickle(), headers={"content-type": "application/json"})
        assert response.status_code == 408
        assert response.headers["content-type"].startswith("application/problem+json")
        assert (await client.post("/notes", json={"title": "t"})).status_code == 200
