"""An API key's own rate limits: set at creation, changed by PATCH, applied by the edge in place of the settings'
limit of the same bucket (cached with the key, no query per request)."""

import asyncio
from typing import Any

import httpx
import pytest
from conftest import GatewayFactory
from pledge_gateway.config import MIN_RATE
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

PROBLEM = "application/problem+json"
SEGMENT = "/v1/segments/a/b"  # definitions:read
LIMITS = {"default": {"rate": 100, "burst": 100}, "definitions:read": {"rate": 100, "burst": 100}}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def post_key(gw: httpx.AsyncClient, admin_key: str, name: str, **extra: Any) -> httpx.Response:
    """Ask the gateway for a key reading definitions (with `extra` fields, e.g. rate_limits)."""
    body = {"name": name, "scopes": ["definitions:read"], **extra}
    return await gw.post("/v1/api-keys", json=body, headers=auth(admin_key))


async def test_a_key_with_a_low_override_is_limited_after_its_burst_and_a_key_without_is_not(
    make_gateway: GatewayFactory, admin_key: str
) -> None:
    own = {"definitions:read": {"rate": 0.01, "burst": 2}}
    async with make_gateway(rate_limits=LIMITS) as gw:
        low = await post_key(gw, admin_key, "low", rate_limits=own)
        plain = await post_key(gw, admin_key, "plain")
        shown = await gw.get(f"/v1/api-keys/{low.json()['id']}", headers=auth(admin_key))
        low_answers = [await gw.get(SEGMENT, headers=auth(low.json()["key"])) for _ in range(3)]
        plain_answers = [await gw.get(SEGMENT, headers=auth(plain.json()["key"])) for _ in range(3)]
    assert low.status_code == 201
    assert low.json()["rate_limits"] == {"definitions:read": {"rate": 0.01, "burst": 2}}
    assert shown.json()["rate_limits"] == {"definitions:read": {"rate": 0.01, "burst": 2}}
    assert plain.json()["rate_limits"] == {}
    assert [a.status_code for a in low_answers] == [200, 200, 429]
    assert low_answers[0].headers["ratelimit-limit"] == "2"
    assert low_answers[2].headers["content-type"] == PROBLEM
    assert [a.status_code for a in plain_answers] == [200, 200, 200]
    assert plain_answers[0].headers["ratelimit-limit"] == "100"


async def test_an_override_of_another_bucket_leaves_this_one_to_the_settings(
    make_gateway: GatewayFactory, admin_key: str
) -> None:
    async with make_gateway(rate_limits=LIMITS) as gw:
        created = await post_key(gw, admin_key, "k", rate_limits={"default": {"rate": 0.01, "burst": 1}})
        answers = [await gw.get(SEGMENT, headers=auth(created.json()["key"])) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]


async def test_a_patched_override_applies_at_once_despite_the_key_cache(
    make_gateway: GatewayFactory, admin_key: str
) -> None:
    # a long key cache: without the cache being dropped on change, the old limits would stay for 5 minutes
    async with make_gateway(rate_limits=LIMITS, key_cache_seconds=300) as gw:
        created = await post_key(gw, admin_key, "k")
        key, key_id = created.json()["key"], created.json()["id"]
        before = await gw.get(SEGMENT, headers=auth(key))  # the key is cached from here on
        lowered = await gw.patch(
            f"/v1/api-keys/{key_id}",
            json={"rate_limits": {"definitions:read": {"rate": 0.01, "burst": 1}}},
            headers=auth(admin_key),
        )
        limited = [await gw.get(SEGMENT, headers=auth(key)) for _ in range(2)]
        untouched = await gw.patch(f"/v1/api-keys/{key_id}", json={}, headers=auth(admin_key))
        cleared = await gw.patch(f"/v1/api-keys/{key_id}", json={"rate_limits": None}, headers=auth(admin_key))
        await asyncio.sleep(0.1)  # 10 tokens back at the settings' 100/s
        after = [await gw.get(SEGMENT, headers=auth(key)) for _ in range(3)]
    assert before.status_code == 200
    assert before.headers["ratelimit-limit"] == "100"
    assert lowered.status_code == 200
    assert lowered.json()["rate_limits"] == {"definitions:read": {"rate": 0.01, "burst": 1}}
    assert [a.status_code for a in limited] == [200, 429]
    assert limited[0].headers["ratelimit-limit"] == "1"
    assert untouched.json()["rate_limits"] == {"definitions:read": {"rate": 0.01, "burst": 1}}
    assert cleared.status_code == 200
    assert cleared.json()["rate_limits"] == {}
    assert [a.status_code for a in after] == [200, 200, 200]
    assert after[0].headers["ratelimit-limit"] == "100"


async def test_a_rotated_key_keeps_the_overrides(make_gateway: GatewayFactory, admin_key: str) -> None:
    own = {"definitions:read": {"rate": 0.01, "burst": 1}}
    async with make_gateway(rate_limits=LIMITS) as gw:
        created = await post_key(gw, admin_key, "k", rate_limits=own)
        rotated = await gw.post(f"/v1/api-keys/{created.json()['id']}/rotate", headers=auth(admin_key))
        answers = [await gw.get(SEGMENT, headers=auth(rotated.json()["key"])) for _ in range(2)]
    assert rotated.json()["rate_limits"] == own
    assert [a.status_code for a in answers] == [200, 429]


BAD_OVERRIDES = [
    ({"nope": {"rate": 1, "burst": 1}}, "rate_limits.nope"),
    ({"GET /v1/reports": {"rate": 1, "burst": 1}}, "rate_limits.GET /v1/reports"),
    ({"default": {"rate": 0, "burst": 1}}, "rate_limits.default.rate"),
    ({"default": {"rate": -1, "burst": 1}}, "rate_limits.default.rate"),
    ({"default": {"rate": 1e-320, "burst": 1}}, "rate_limits.default.rate"),
    ({"default": {"rate": 0.0009, "burst": 1}}, "rate_limits.default.rate"),
    ({"default": {"rate": 1e7, "burst": 1}}, "rate_limits.default.rate"),
    ({"default": {"rate": 1, "burst": 10**10}}, "rate_limits.default.burst"),
    ({"default": {"rate": "fast", "burst": 1}}, "rate_limits.default.rate"),
    ({"default": {"rate": 1, "burst": 0}}, "rate_limits.default.burst"),
    ({"default": {"rate": 1, "burst": 1.5}}, "rate_limits.default.burst"),
    ({"default": {"rate": 1}}, "rate_limits.default.burst"),
    ({"default": {"rate": 1, "burst": 1, "window": 2}}, "rate_limits.default.window"),
    ({"default": 5}, "rate_limits.default"),
]


def _fields(body: dict[str, Any]) -> list[str]:
    return [e["field"] for e in body.get("errors", [])]


@pytest.mark.parametrize(("overrides", "field"), BAD_OVERRIDES)
async def test_invalid_overrides_are_422_naming_the_field(
    make_gateway: GatewayFactory, admin_key: str, overrides: dict[str, Any], field: str
) -> None:
    async with make_gateway(rate_limits=LIMITS) as gw:
        created = await post_key(gw, admin_key, "k", rate_limits=overrides)
        existing = await post_key(gw, admin_key, "k")
        patched = await gw.patch(
            f"/v1/api-keys/{existing.json()['id']}", json={"rate_limits": overrides}, headers=auth(admin_key)
        )
        kept = await gw.get(f"/v1/api-keys/{existing.json()['id']}", headers=auth(admin_key))
        listed = await gw.get("/v1/api-keys", headers=auth(admin_key))
    for answer in (created, patched):
        assert answer.status_code == 422
        assert answer.headers["content-type"] == PROBLEM
        assert field in _fields(answer.json())
    assert kept.json()["rate_limits"] == {}
    assert len(listed.json()["items"]) == 2  # the admin key and `existing`: the refused one was not created


async def test_an_infinite_rate_is_422_never_stored(make_gateway: GatewayFactory, admin_key: str) -> None:
    body = '{"name": "k", "scopes": ["definitions:read"], "rate_limits": {"default": {"rate": Infinity, "burst": 1}}}'
    headers = {**auth(admin_key), "Content-Type": "application/json"}
    async with make_gateway(rate_limits=LIMITS) as gw:
        created = await gw.post("/v1/api-keys", content=body, headers=headers)
    assert created.status_code == 422
    assert "rate_limits.default.rate" in _fields(created.json())


async def test_patching_an_unknown_key_is_404(make_gateway: GatewayFactory, admin_key: str) -> None:
    async with make_gateway() as gw:
        answer = await gw.patch(
            "/v1/api-keys/00000000-0000-0000-0000-000000000001", json={"rate_limits": {}}, headers=auth(admin_key)
        )
    assert answer.status_code == 404
    assert answer.headers["content-type"] == PROBLEM


async def test_a_stored_override_below_the_bounds_never_turns_requests_into_500s(
    make_gateway: GatewayFactory, admin_key: str, engine: AsyncEngine
) -> None:
    # a value written before the bounds existed: the edge applies it within them, and shows it so
    async with make_gateway(rate_limits=LIMITS) as gw:
        created = await post_key(gw, admin_key, "tiny", rate_limits={"definitions:read": {"rate": 1, "burst": 2}})
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE api_keys SET rate_limits = CAST(:limits AS jsonb) WHERE id = CAST(:id AS uuid)"),
                {"limits": '{"definitions:read": {"rate": 1e-320, "burst": 2}}', "id": created.json()["id"]},
            )
        answers = [await gw.get(SEGMENT, headers=auth(created.json()["key"])) for _ in range(3)]
        shown = await gw.get(f"/v1/api-keys/{created.json()['id']}", headers=auth(admin_key))
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2].headers["retry-after"]) == 1000  # one token at the lowest rate, 0.001/s
    assert shown.status_code == 200
    assert shown.json()["rate_limits"] == {"definitions:read": {"rate": MIN_RATE, "burst": 2}}
