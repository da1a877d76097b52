"""A partner's webhook subscriptions belong to its key's owner, which rotation keeps: the rotated key still
lists and changes them, another partner's key does not see them."""

import uuid
from typing import Any

import httpx
from pledge_dev.suite import Suite
from support import bearer


async def create_key(gateway: httpx.AsyncClient, sources: list[str]) -> dict[str, Any]:
    body = {"name": f"e2e hooks {uuid.uuid4().hex[:6]}", "scopes": ["alerts:manage"], "sources": sources}
    response = await gateway.post("/v1/api-keys", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_rotated_key_keeps_its_webhooks_and_another_key_does_not_see_them(
    gateway: httpx.AsyncClient, suite: Suite
) -> None:
    partner = await create_key(gateway, ["rot-crm"])
    other = await create_key(gateway, ["rot-crm"])  # same source, another holder
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=10) as client:
        created = await client.post(
            "/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=bearer(partner["key"])
        )
        assert created.status_code == 201, created.text
        hook = created.json()["id"]

        rotated = await gateway.post(f"/v1/api-keys/{partner['id']}/rotate", json={"grace_period": "PT0S"})
        assert rotated.status_code == 201, rotated.text
        fresh = rotated.json()
        assert fresh["id"] != partner["id"]
        assert fresh["owner_id"] == partner["owner_id"] == partner["id"]

        listed = await client.get("/v1/webhooks", headers=bearer(fresh["key"]))
        assert listed.status_code == 200, listed.text
        assert [w["id"] for w in listed.json()["items"]] == [hook]
        changed = await client.patch(f"/v1/webhooks/{hook}", json={"enabled": False}, headers=bearer(fresh["key"]))
        assert changed.status_code == 200, changed.text
        assert changed.json()["enabled"] is False

        assert (await client.get("/v1/webhooks", headers=bearer(other["key"]))).json()["items"] == []
        assert (await client.get(f"/v1/webhooks/{hook}", headers=bearer(other["key"]))).status_code == 404
        stolen = await client.patch(f"/v1/webhooks/{hook}", json={"enabled": True}, headers=bearer(other["key"]))
        assert stolen.status_code == 404
        assert (await client.delete(f"/v1/webhooks/{hook}", headers=bearer(other["key"]))).status_code == 404
        assert (await client.delete(f"/v1/webhooks/{hook}", headers=bearer(fresh["key"]))).status_code == 204
