"""`Idempotency-Key` on the requests that create definitions: a retry gets the first answer, nothing twice."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from commitment_svc.config import Settings
from commitment_svc.main import create_app
from pledge_common.idempotency import IdempotencyStore
from pledge_common.identity import Caller, identity_headers
from pledge_dev.testing import table_count
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from support import W_CALENDAR, active_commitment, commitment_body, events, ok, problem

KEY = {"Idempotency-Key": "7d9c1c4e-create-once"}


def as_caller(settings: Settings, sub: str, **headers: str) -> dict[str, str]:
    caller = Caller(sub=sub, kind="key", scopes=frozenset({"admin"}), sources=None)
    return {**identity_headers(caller, settings.service_token), **headers}


class TestReplay:
    async def test_same_key_and_body_answers_the_first_answer_and_creates_one_version(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        first = await client.post("/v1/commitments", json=commitment_body(), headers=KEY)
        again = await client.post("/v1/commitments", json=commitment_body(), headers=KEY)
        assert first.status_code == again.status_code == 201
        assert again.content == first.content
        assert again.headers["etag"] == first.headers["etag"]
        assert again.headers["location"] == first.headers["location"]
        assert again.headers["idempotent-replayed"] == "true"
        assert "idempotent-replayed" not in first.headers
        assert await table_count(session, "commitment_versions") == 1
        assert len(await events(session, "commitment.upserted")) == 1

    async def test_key_order_and_whitespace_of_the_body_do_not_matter(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        body = commitment_body()
        first = await client.post("/v1/commitments", json=body, headers=KEY)
        reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
        again = await client.post(
            "/v1/commitments", content=reordered, headers={**KEY, "Content-Type": "application/json"}
        )
        assert (first.status_code, again.status_code) == (201, 201)
        assert again.content == first.content
        assert await table_count(session, "commitment_versions") == 1

    async def test_agreement_create_is_replayed(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        body = {"key": "acme-ola", "kind": "ola", "title": "Dispatch to field", "provider": "field", "customer": "ops"}
        first = await client.post("/v1/agreements", json=body, headers=KEY)
        again = await client.post("/v1/agreements", json=body, headers=KEY)
        assert (first.status_code, again.status_code) == (201, 201), again.text
        assert again.content == first.content
        assert await table_count(session, "agreements") == 1
        assert len(await events(session, "agreement.upserted")) == 1

    async def test_new_version_is_replayed(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        created = await active_commitment(client)
        url = f"/v1/commitments/{created['id']}/versions"
        first = await client.post(url, json={"commitment_limit": "PT5H"}, headers=KEY)
        again = await client.post(url, json={"commitment_limit": "PT5H"}, headers=KEY)
        assert first.status_code == 201, first.text
        assert (again.status_code, again.content) == (201, first.content)
        versions = await ok(await client.get(f"/v1/commitments/{created['id']}/versions"))
        assert [v["version"] for v in versions["items"]] == [1, 2]

    async def test_create_by_put_is_replayed_instead_of_asking_for_if_match(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        first = await client.put("/v1/calendars/w", json=W_CALENDAR, headers=KEY)
        again = await client.put("/v1/calendars/w", json=W_CALENDAR, headers=KEY)
        assert (first.status_code, again.status_code) == (201, 201)
        assert (again.content, again.headers["etag"]) == (first.content, first.headers["etag"])
        assert len(await events(session, "calendar.upserted")) == 1
        problem(await client.put("/v1/calendars/w", json=W_CALENDAR), 428, "header.If-Match")  # without the key

    async def test_without_a_key_every_request_is_processed(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        await ok(await client.post("/v1/commitments", json=commitment_body()), 201)
        problem(await client.post("/v1/commitments", json=commitment_body()), 409)


class TestMisuse:
    async def test_same_key_with_another_body_is_422_naming_the_header_and_writes_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        await ok(await client.post("/v1/commitments", json=commitment_body(), headers=KEY), 201)
        other = commitment_body(key="repair-arrive-vip", node="arrive")
        problem(await client.post("/v1/commitments", json=other, headers=KEY), 422, "header.Idempotency-Key")
        assert await table_count(session, "commitment_versions") == 1

    async def test_same_key_on_another_resource_is_422(self, client: httpx.AsyncClient) -> None:
        await ok(await client.put("/v1/segments/vip", json={"name": "VIP"}, headers=KEY), 201)
        problem(await client.put("/v1/segments/sme", json={"name": "VIP"}, headers=KEY), 422, "header.Idempotency-Key")
        problem(await client.get("/v1/segments/sme"), 404)

    async def test_empty_key_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.put("/v1/segments/vip", json={"name": "VIP"}, headers={"Idempotency-Key": ""})
        problem(response, 422, "header.Idempotency-Key")

    async def test_a_refused_request_stores_nothing_so_its_retry_is_processed(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        body = commitment_body(calendar="later")
        problem(await client.post("/v1/commitments", json=body, headers=KEY), 422, "calendar")
        await ok(await client.put("/v1/calendars/later", json=W_CALENDAR), 201)
        await ok(await client.post("/v1/commitments", json=body, headers=KEY), 201)


class TestScope:
    async def test_keys_belong_to_one_caller(
        self, client: httpx.AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        mine = await client.put("/v1/segments/vip", json={"name": "VIP"}, headers=as_caller(settings, "crm", **KEY))
        theirs = await client.put("/v1/segments/sme", json={"name": "SME"}, headers=as_caller(settings, "erp", **KEY))
        assert (mine.status_code, theirs.status_code) == (201, 201), theirs.text
        assert await table_count(session, "idempotency_keys") == 2

    async def test_an_expired_key_can_be_used_again(
        self, client: httpx.AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        assert settings.idempotency_key_ttl_seconds == 24 * 3600
        await ok(await client.put("/v1/segments/vip", json={"name": "VIP"}, headers=KEY), 201)
        expires_in = await session.scalar(text("SELECT expires_at - created_at FROM idempotency_keys"))
        assert expires_in is not None
        assert expires_in.total_seconds() == 24 * 3600
        await _expire_all(session)
        await ok(await client.put("/v1/segments/sme", json={"name": "SME"}, headers=KEY), 201)
        stored = await session.scalar(text("SELECT response_body FROM idempotency_keys"))
        assert json.loads(stored or "{}")["key"] == "sme"

    async def test_storing_a_key_removes_expired_ones(
        self, client: httpx.AsyncClient, session: AsyncSession, settings: Settings
    ) -> None:
        for sub in ("a", "b", "c"):
            headers = as_caller(settings, sub, **KEY)
            await ok(await client.put(f"/v1/segments/{sub}", json={"name": sub}, headers=headers), 201)
        await _expire_all(session)
        await ok(await client.put("/v1/segments/d", json={"name": "d"}, headers=KEY), 201)
        callers = (await session.execute(text("SELECT caller FROM idempotency_keys"))).scalars().all()
        assert callers == ["service:system"]

    async def test_purge_removes_only_expired_keys(self, session: AsyncSession) -> None:
        await session.execute(
            text(
                "INSERT INTO idempotency_keys (caller, key, request_hash, status_code, response_body, created_at,"
                " expires_at) VALUES ('key:x', 'old', '\\x00', 201, '{}', now() - interval '2 days',"
                " now() - interval '1 day'), ('key:x', 'new', '\\x00', 201, '{}', now(), now() + interval '1 day')"
            )
        )
        assert await IdempotencyStore(session, "commitment").purge_expired() == 1
        assert (await session.execute(text("SELECT key FROM idempotency_keys"))).scalars().all() == ["new"]


async def _expire_all(session: AsyncSession) -> None:
    await session.execute(
        text(
            "UPDATE idempotency_keys SET created_at = now() - interval '2 days', expires_at = now() - interval '1 day'"
        )
    )


RACE_KEY = "race-idem"


@pytest.fixture
async def committing_client(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the real request sessions (each request commits): concurrency needs real transactions."""
    app = create_app(settings)
    try:
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield client
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM segments WHERE key = :k"), {"k": RACE_KEY})
            await conn.execute(text("DELETE FROM outbox WHERE key = :k"), {"k": RACE_KEY})
            await conn.execute(text("DELETE FROM idempotency_keys WHERE key = :k"), {"k": RACE_KEY})


async def test_concurrent_requests_with_one_key_create_once(
    committing_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    """While the first request holds its key, another one with the key is a 409; afterwards it is replayed."""
    headers = {"Idempotency-Key": RACE_KEY}
    answers = await asyncio.gather(
        *(committing_client.put(f"/v1/segments/{RACE_KEY}", json={"name": "Race"}, headers=headers) for _ in range(4))
    )
    assert {a.status_code for a in answers} <= {201, 409}, [a.text for a in answers]
    created = [a for a in answers if a.status_code == 201]
    assert len({a.content for a in created}) == 1
    assert sum(a.headers.get("idempotent-replayed") != "true" for a in created) == 1
    for busy in (a for a in answers if a.status_code == 409):
        assert busy.json()["errors"][0]["field"] == "header.Idempotency-Key"
    retried = await committing_client.put(f"/v1/segments/{RACE_KEY}", json={"name": "Race"}, headers=headers)
    assert retried.status_code == 201
    assert retried.headers["idempotent-replayed"] == "true"
    assert retried.content == created[0].content
    async with engine.connect() as conn:
        events = await conn.scalar(text("SELECT count(*) FROM outbox WHERE key = :k"), {"k": RACE_KEY})
    assert events == 1


class TestConditionalGet:
    async def test_if_none_match_with_the_current_etag_is_304_without_a_body(self, client: httpx.AsyncClient) -> None:
        created = await ok(await client.put("/v1/segments/vip", json={"name": "VIP"}), 201)
        assert created["key"] == "vip"
        etag = (await client.get("/v1/segments/vip")).headers["etag"]
        unchanged = await client.get("/v1/segments/vip", headers={"If-None-Match": etag})
        assert unchanged.status_code == 304
        assert unchanged.content == b""
        assert unchanged.headers["etag"] == etag
        stale = await client.get("/v1/segments/vip", headers={"If-None-Match": '"999"'})
        assert stale.status_code == 200
        assert stale.json()["key"] == "vip"


class TestTransitions:
    async def test_a_repeated_transition_with_one_key_is_replayed_not_refused(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        created = await ok(await client.post("/v1/commitments", json=commitment_body()), 201)
        move = {"to": "negotiating"}
        headers = {**KEY, "If-Match": '"1"'}
        first = await client.post(f"/v1/commitments/{created['id']}/transitions", json=move, headers=headers)
        again = await client.post(f"/v1/commitments/{created['id']}/transitions", json=move, headers=headers)
        assert first.status_code == again.status_code == 200, first.text
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"
        assert len(await events(session, "commitment.upserted")) == 2
