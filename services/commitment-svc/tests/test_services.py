"""Services (configuration items): create, list, get, patch; ETags, idempotent create, the feed."""

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from support import events, kind_body, ok, portal, problem

KEY = {"Idempotency-Key": "svc-portal-once"}


class TestCreateService:
    async def test_creates_with_defaults_and_emits_the_contract_payload(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        response = await client.post("/v1/services", json={"key": "portal", "name": "Customer portal"})
        body = await ok(response, 201)
        assert (body["segment"], body["status"], body["customer_ref"]) == ("default", "active", None)
        assert (response.headers["location"], response.headers["etag"]) == ("/v1/services/portal", '"1"')
        (event,) = await events(session, "service.upserted")
        assert event == {
            "key": "portal",
            "name": "Customer portal",
            "customer_ref": None,
            "segment": "default",
            "owner_department": None,
            "status": "active",
        }

    async def test_an_existing_key_is_409(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        await portal(client)
        problem(await client.post("/v1/services", json={"key": "portal", "name": "Again"}), 409, "key")

    async def test_unknown_references_are_422_naming_the_field(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        base = {"key": "portal", "name": "Customer portal"}
        problem(await client.post("/v1/services", json=base | {"segment": "nope"}), 422, "segment")
        problem(await client.post("/v1/services", json=base | {"owner_department": "nope"}), 422, "owner_department")
        problem(await client.post("/v1/services", json=base | {"status": "paused"}), 422, "status")
        problem(await client.post("/v1/services", json=base | {"colour": "red"}), 422, "colour")

    async def test_a_retry_with_the_same_key_answers_the_first_answer_and_emits_once(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        body = {"key": "portal", "name": "Customer portal", "segment": "vip"}
        first = await client.post("/v1/services", json=body, headers=KEY)
        again = await client.post("/v1/services", json=body, headers=KEY)
        assert (first.status_code, again.status_code) == (201, 201)
        assert first.json() == again.json()
        assert len(await events(session, "service.upserted")) == 1
        other = await client.post("/v1/services", json=body | {"name": "Other"}, headers=KEY)
        problem(other, 422, "header.Idempotency-Key")


class TestReadServices:
    async def test_get_answers_its_etag_and_304_when_unchanged(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        await portal(client)
        response = await client.get("/v1/services/portal")
        assert (await ok(response))["owner_department"] == "ops"
        unchanged = await client.get("/v1/services/portal", headers={"If-None-Match": response.headers["etag"]})
        assert unchanged.status_code == 304
        problem(await client.get("/v1/services/nope"), 404)

    async def test_list_is_paged_by_key_and_filtered(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        for key in ("c-svc", "a-svc", "b-svc"):
            await portal(client, key=key, customer_ref="acme-corp" if key != "b-svc" else "globex")
        first = await ok(await client.get("/v1/services", params={"limit": 2}))
        assert [s["key"] for s in first["items"]] == ["a-svc", "b-svc"]
        second = await ok(await client.get("/v1/services", params={"limit": 2, "cursor": first["next_cursor"]}))
        assert ([s["key"] for s in second["items"]], second["next_cursor"]) == (["c-svc"], None)
        acme = await ok(await client.get("/v1/services", params={"customer_ref": "acme-corp"}))
        assert [s["key"] for s in acme["items"]] == ["a-svc", "c-svc"]
        problem(await client.get("/v1/services", params={"status": "gone"}), 422, "query.status")


class TestPatchService:
    async def test_patch_needs_if_match_and_changes_only_what_is_sent(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        await portal(client)
        problem(await client.patch("/v1/services/portal", json={"status": "retired"}), 428)
        stale = await client.patch("/v1/services/portal", json={"status": "retired"}, headers={"If-Match": '"7"'})
        problem(stale, 412)
        response = await client.patch("/v1/services/portal", json={"status": "retired"}, headers={"If-Match": '"1"'})
        body = await ok(response)
        assert (body["status"], body["name"], body["customer_ref"]) == ("retired", "Customer portal", "acme-corp")
        assert response.headers["etag"] == '"2"'
        assert [e["status"] for e in await events(session, "service.upserted")] == ["active", "retired"]

    async def test_null_resets_a_field_and_a_bad_value_is_422(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        await portal(client)
        reset = await client.patch("/v1/services/portal", json={"customer_ref": None}, headers={"If-Match": '"1"'})
        assert (await ok(reset))["customer_ref"] is None
        bad = await client.patch("/v1/services/portal", json={"segment": "nope"}, headers={"If-Match": '"2"'})
        problem(bad, 422, "segment")
        unnamed = await client.patch("/v1/services/portal", json={"name": None}, headers={"If-Match": '"2"'})
        problem(unnamed, 422, "name")

    async def test_an_unchanged_patch_keeps_the_version(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        await portal(client)
        same = await client.patch("/v1/services/portal", json={"name": "Customer portal"}, headers={"If-Match": '"1"'})
        assert (await ok(same))["name"] == "Customer portal"
        assert same.headers["etag"] == '"1"'


class TestServiceReferences:
    async def test_a_segment_or_department_a_service_names_is_not_deleted(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        await portal(client, segment="vip")
        segment = problem(await client.delete("/v1/segments/vip"), 409)
        assert "service portal" in segment["referenced_by"]
        department = problem(await client.delete("/v1/departments/ops"), 409)
        assert "service portal" in department["referenced_by"]

    async def test_no_new_commitment_is_made_about_a_retired_service(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        await portal(client, status="retired")
        problem(await client.post("/v1/commitments", json=kind_body("availability")), 422, "service")
