"""Instants outside 1970-01-01T00:00:00Z .. 2200-01-01T00:00:00Z (excluded) are refused as a 422 naming the
field, in JSON bodies and query parameters, before any route runs."""

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from fastapi import FastAPI
from pledge_common.instants import Instant, instant_field, unreasonable, utc_text
from pledge_common.problems import install_problem_handlers
from pledge_common.textguard import TextGuardMiddleware
from pydantic import BaseModel, ValidationError


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:30:00+01:00",  # 1969-12-31T23:30:00Z
        "2200-01-01T00:00:00Z",
        "2199-12-31T23:00:00-02:00",  # 2200-01-01T01:00:00Z
        "9999-12-31T23:59:59.999999+00:00",
        "1900-06-01 12:00",
    ],
)
def test_date_times_outside_the_bounds_are_unreasonable(text: str) -> None:
    assert unreasonable(text)


@pytest.mark.parametrize(
    "text",
    [
        "1970-01-01T00:00:00Z",
        "2026-03-03T10:00:00+08:00",
        "2199-12-31T23:59:59Z",
        "0001-01-01",  # a calendar date, not an instant
        "2999-01-01",
        "a note written 0001-01-01T00:00:00Z",  # text that merely contains one
        "0001-13-45T99:99",  # not a date-time: the field's own parser refuses it
    ],
)
def test_other_text_is_not(text: str) -> None:
    assert not unreasonable(text)


def test_the_field_is_named_by_its_path() -> None:
    assert instant_field(b'{"at": "0001-01-01T00:00:00Z"}') == "at"
    assert instant_field(b'{"a": {"b": ["2026-01-01T00:00:00Z", "9999-01-01T00:00:00Z"]}}') == "a.b.1"
    assert instant_field(b'"0001-01-01T00:00:00Z"') == "body"
    # spelled with escapes, which a scan of the raw bytes alone would miss
    assert instant_field(b'{"at": "\\u0030001-01-01T00:00:00Z"}') == "at"
    assert instant_field(b'{"at": "2026-03-03T10:00:00Z", "due": "0001-01-01"}') is None


class Visit(BaseModel):
    at: datetime
    notes: list[str] = []


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(TextGuardMiddleware)

    @app.post("/visits")
    async def visit(body: Visit) -> dict[str, str]:
        return {"at": body.at.isoformat()}

    @app.get("/visits")
    async def visits(start: datetime | None = None) -> dict[str, str | None]:
        return {"from": start.isoformat() if start else None}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as http:
        yield http


async def test_a_body_field_in_year_1_is_422_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.post("/visits", json={"at": "0001-01-01T00:00:00Z"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "at"
    assert (await client.post("/visits", json={"at": "2026-03-03T10:00:00Z"})).status_code == 200


async def test_a_query_parameter_in_year_1_is_422_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/visits", params={"start": "0001-01-01T00:00:00+00:00"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.start"
    assert (await client.get("/visits", params={"start": "2026-03-03T10:00:00+00:00"})).status_code == 200


class _Stamped(BaseModel):
    at: Instant
    until: Instant | None = None


@pytest.mark.parametrize(
    ("given", "answered"),
    [
        ("2026-11-03T16:15:00+08:00", "2026-11-03T08:15:00Z"),
        ("2026-11-03T08:15:00Z", "2026-11-03T08:15:00Z"),
        ("2026-11-03T08:15:00.250-01:00", "2026-11-03T09:15:00.250000Z"),
    ],
)
def test_an_instant_field_takes_any_offset_and_answers_in_utc_with_z(given: str, answered: str) -> None:
    stamped = _Stamped.model_validate({"at": given})
    assert stamped.at.utcoffset() == timedelta(0)
    assert stamped.model_dump_json() == f'{{"at":"{answered}","until":null}}'


def test_an_instant_in_another_zone_is_answered_in_utc() -> None:
    shanghai = timezone(timedelta(hours=8))
    assert _Stamped(at=datetime(2026, 3, 1, 8, tzinfo=shanghai)).model_dump(mode="json")["at"] == "2026-03-01T00:00:00Z"


def test_an_instant_without_an_offset_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        _Stamped.model_validate({"at": "2026-11-03T08:15:00"})
    assert caught.value.errors()[0]["loc"] == ("at",)
    with pytest.raises(ValueError, match="offset"):
        utc_text(datetime(2026, 11, 3))


def test_an_instant_field_is_published_as_a_date_time() -> None:
    schema = _Stamped.model_json_schema(mode="serialization")["properties"]["at"]
    assert schema == {"format": "date-time", "title": "At", "type": "string"}
