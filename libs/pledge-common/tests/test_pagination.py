"""The shared cursor codec: what it encodes comes back as the same values; anything else is a 422 naming the field."""

import base64
import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Query, Request, Response
from pledge_common.pagination import (
    NOT_A_CURSOR,
    Page,
    PageParams,
    PageRequest,
    decode_cursor,
    encode_cursor,
    int32,
    page_params,
    paged,
)
from pledge_common.problems import Unprocessable, install_problem_handlers
from pydantic import BaseModel


def forge(payload: Any) -> str:
    """A cursor-looking string carrying any JSON, as a caller could hand-craft it."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def rejected(raw: str, *kinds: Any, field: str = "query.cursor") -> Unprocessable:
    with pytest.raises(Unprocessable) as caught:
        decode_cursor(raw, *kinds, field=field)
    return caught.value


class TestRoundTrip:
    def test_aware_datetime_comes_back_equal_with_its_offset(self) -> None:
        at = datetime(2026, 3, 3, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
        assert decode_cursor(encode_cursor(at), datetime.fromisoformat) == (at,)
        assert decode_cursor(encode_cursor(at), datetime.fromisoformat)[0].utcoffset() == timedelta(hours=8)  # type: ignore[index]

    def test_uuid_comes_back_as_a_uuid(self) -> None:
        ident = uuid.uuid4()
        assert decode_cursor(encode_cursor(ident), uuid.UUID) == (ident,)

    def test_int_comes_back_as_an_int(self) -> None:
        assert decode_cursor(encode_cursor(42), int) == (42,)
        assert decode_cursor(encode_cursor(-(2**63)), int) == (-(2**63),)

    def test_str_comes_back_unchanged_even_with_unicode_and_separators(self) -> None:
        key = 'dept/ü|"x",]'
        assert decode_cursor(encode_cursor(key), str) == (key,)

    def test_date_comes_back_as_a_date(self) -> None:
        assert decode_cursor(encode_cursor(date(2026, 2, 28)), date.fromisoformat) == (date(2026, 2, 28),)

    def test_several_values_keep_their_order_and_kinds(self) -> None:
        at, ident = datetime(2026, 1, 1, tzinfo=UTC), uuid.uuid4()
        raw = encode_cursor("repair", 3, at, ident)
        assert decode_cursor(raw, str, int, datetime.fromisoformat, uuid.UUID) == ("repair", 3, at, ident)

    def test_cursor_is_url_safe_without_padding(self) -> None:
        raw = encode_cursor("a?b&c=d", uuid.uuid4(), datetime.now(UTC))
        assert set(raw) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    def test_no_cursor_means_first_page(self) -> None:
        assert decode_cursor(None, int) is None
        assert decode_cursor("", int) is None

    def test_values_that_are_no_sort_key_cannot_be_encoded(self) -> None:
        with pytest.raises(TypeError):
            encode_cursor(object())


class TestGarbageIs422NamingTheField:
    @pytest.mark.parametrize(
        ("raw", "why"),
        [
            ("@@", "not base64 at all"),
            ("%%%", "not base64 at all"),
            ("QQ", "base64 of a lone 'A', not JSON"),
            (base64.urlsafe_b64encode(b"\xff\xfe\xfa").decode(), "not UTF-8"),
            (forge({"at": 1}), "JSON but not a list"),
            (forge("x"), "JSON string, not a list"),
        ],
    )
    def test_undecodable_cursor(self, raw: str, why: str) -> None:
        problem = rejected(raw, int, field="query.after")
        assert problem.status == 422, why
        assert problem.errors == [{"field": "query.after", "message": NOT_A_CURSOR}]

    def test_wrong_number_of_values(self) -> None:
        assert rejected(encode_cursor(1, 2), int).errors == [{"field": "query.cursor", "message": NOT_A_CURSOR}]
        assert rejected(encode_cursor(1), int, int).status == 422
        assert rejected(forge([]), int).status == 422

    @pytest.mark.parametrize(
        ("value", "kind"),
        [
            ("yesterday", datetime.fromisoformat),
            (17, datetime.fromisoformat),
            ("not-a-uuid", uuid.UUID),
            (17, uuid.UUID),
            ([1], uuid.UUID),
            ("seven", int),
            ({"v": 1}, int),
            (None, int),
            ("2026-02-30", date.fromisoformat),
        ],
    )
    def test_value_its_kind_rejects(self, value: Any, kind: Any) -> None:
        problem = rejected(forge([value]), kind, field="query.page")
        assert problem.status == 422
        assert problem.errors == [{"field": "query.page", "message": NOT_A_CURSOR}]

    @pytest.mark.parametrize("value", [2**63, -(2**63) - 1, "9" * 40])
    def test_int_no_bigint_column_can_hold(self, value: Any) -> None:
        assert rejected(forge([value]), int).status == 422

    def test_text_with_nul_postgres_cannot_hold(self) -> None:
        assert rejected(forge(["a\x00b"]), str).status == 422


async def test_over_http_a_bad_cursor_is_problem_json_naming_the_parameter() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/things")
    async def things(after: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        key = decode_cursor(after, str, int, field="query.after")
        return {"after": list(key) if key else None, "next": encode_cursor("b", 2)}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        first = (await client.get("/things")).json()
        second = (await client.get("/things", params={"after": first["next"]})).json()
        bad = await client.get("/things", params={"after": "%%%"})
    assert first["after"] is None
    assert second["after"] == ["b", 2]
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["errors"] == [{"field": "query.after", "message": NOT_A_CURSOR}]


class TestInt32:
    def test_postgres_integer_round_trips(self) -> None:
        assert decode_cursor(encode_cursor(2**31 - 1, -(2**31)), int32, int32) == (2**31 - 1, -(2**31))

    @pytest.mark.parametrize("value", [2**31, -(2**31) - 1, 2**40])
    def test_value_beyond_postgres_integer_is_422(self, value: int) -> None:
        assert rejected(forge(["k", value]), str, int32, field="query.after").errors == [
            {"field": "query.after", "message": NOT_A_CURSOR}
        ]


class ItemPublic(BaseModel):
    name: str


def paged_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    names = [f"n{i}" for i in range(5)]

    @app.get("/v1/items", response_model=Page[ItemPublic])
    async def items(request: Request, response: Response, page: PageParams, colour: str = "red") -> Page[ItemPublic]:
        after = decode_cursor(page.cursor, int)
        start = after[0] if after else 0
        chosen = names[start : start + page.limit]
        more = start + page.limit < len(names)
        next_cursor = encode_cursor(start + page.limit) if more else None
        return paged(
            request, response, Page[ItemPublic](items=[ItemPublic(name=n) for n in chosen], next_cursor=next_cursor)
        )

    @app.get("/v1/small", response_model=Page[ItemPublic])
    async def small(page: Annotated[PageRequest, Depends(page_params(maximum=10, default=3))]) -> Page[ItemPublic]:
        return Page[ItemPublic](items=[ItemPublic(name="x")] * page.limit, next_cursor=None)

    return app


async def get(path: str, **params: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=paged_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return await client.get(path, params=params)


class TestPageEnvelope:
    def test_the_schema_of_a_page_is_named_after_its_items(self) -> None:
        spec = paged_app().openapi()
        assert "ItemPage" in spec["components"]["schemas"]
        assert set(spec["components"]["schemas"]["ItemPage"]["properties"]) == {"items", "next_cursor"}
        assert not any(name.startswith("Page") for name in spec["components"]["schemas"])

    async def test_link_names_the_next_page_and_keeps_the_other_parameters(self) -> None:
        first = await get("/v1/items", limit=2, colour="blue")
        cursor = first.json()["next_cursor"]
        assert first.headers["link"] == f'</v1/items?limit=2&colour=blue&cursor={cursor}>; rel="next"'
        second = await get("/v1/items", limit=2, colour="blue", cursor=cursor)
        assert [i["name"] for i in second.json()["items"]] == ["n2", "n3"]

    async def test_the_last_page_has_no_link_and_a_null_cursor(self) -> None:
        last = await get("/v1/items", limit=5)
        assert last.json()["next_cursor"] is None
        assert "link" not in last.headers

    async def test_limit_defaults_to_100_and_out_of_range_is_422_naming_query_limit(self) -> None:
        assert len((await get("/v1/items")).json()["items"]) == 5
        for limit in (0, 501, "many"):
            refused = await get("/v1/items", limit=limit)
            assert refused.status_code == 422
            assert [e["field"] for e in refused.json()["errors"]] == ["query.limit"]

    async def test_a_list_may_lower_its_maximum_and_default(self) -> None:
        assert len((await get("/v1/small")).json()["items"]) == 3
        refused = await get("/v1/small", limit=11)
        assert [e["field"] for e in refused.json()["errors"]] == ["query.limit"]

    async def test_a_forged_cursor_is_422_naming_query_cursor(self) -> None:
        refused = await get("/v1/items", cursor="bm90")
        assert [e["field"] for e in refused.json()["errors"]] == ["query.cursor"]
