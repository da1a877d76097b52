"""`Idempotency-Key` on evaluation-svc's POSTs, and the webhook list as a page."""

import httpx
from pledge_dev.testing import table_count
from sqlalchemy.ext.asyncio import AsyncSession

KEY = {"Idempotency-Key": "hook-once"}
HOOK = {"url": "http://127.0.0.1:9/pledge", "events": ["alert.raised"]}


class TestWebhookCreate:
    async def test_a_retried_subscription_is_created_once_and_answered_alike(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        first = await client.post("/v1/webhooks", json=HOOK, headers=KEY)
        again = await client.post("/v1/webhooks", json=HOOK, headers=KEY)
        assert first.status_code == again.status_code == 201, first.text
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"
        assert await table_count(session, "webhook_subscriptions") == 1

    async def test_another_url_under_the_same_key_is_422_naming_the_header(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        assert (await client.post("/v1/webhooks", json=HOOK, headers=KEY)).status_code == 201
        other = await client.post("/v1/webhooks", json={**HOOK, "url": "http://127.0.0.1:9/other"}, headers=KEY)
        assert other.status_code == 422
        assert [e["field"] for e in other.json()["errors"]] == ["header.Idempotency-Key"]
        assert await table_count(session, "webhook_subscriptions") == 1


class TestWebhookPages:
    async def test_subscriptions_come_in_pages_with_a_link_to_the_next(self, client: httpx.AsyncClient) -> None:
        for n in range(3):
            created = await client.post("/v1/webhooks", json={**HOOK, "url": f"http://127.0.0.1:9/{n}"})
            assert created.status_code == 201, created.text
        first = await client.get("/v1/webhooks", params={"limit": 2})
        assert len(first.json()["items"]) == 2
        cursor = first.json()["next_cursor"]
        assert cursor is not None
        assert first.headers["link"].startswith("</v1/webhooks?")
        assert f"cursor={cursor}" in first.headers["link"]
        assert "limit=2" in first.headers["link"]
        rest = await client.get("/v1/webhooks", params={"limit": 2, "cursor": cursor})
        urls = [h["url"] for h in first.json()["items"] + rest.json()["items"]]
        assert sorted(urls) == [f"http://127.0.0.1:9/{n}" for n in range(3)]
        assert rest.json()["next_cursor"] is None
        assert "link" not in rest.headers

    async def test_a_forged_cursor_and_a_limit_out_of_range_are_422(self, client: httpx.AsyncClient) -> None:
        forged = await client.get("/v1/webhooks", params={"cursor": "bm90LWEtY3Vyc29y"})
        assert [e["field"] for e in forged.json()["errors"]] == ["query.cursor"]
        for limit in (0, 501):
            refused = await client.get("/v1/webhooks", params={"limit": limit})
            assert refused.status_code == 422
            assert [e["field"] for e in refused.json()["errors"]] == ["query.limit"]


class TestDeclared:
    async def test_the_key_is_declared_on_every_public_post_but_what_if(self, client: httpx.AsyncClient) -> None:
        spec = (await client.get("/openapi.json")).json()
        for path, operations in spec["paths"].items():
            if "post" in operations and path.startswith("/v1/") and path != "/v1/what-if":
                names = [p["name"] for p in operations["post"].get("parameters", [])]
                assert "Idempotency-Key" in names, path
