"""Service processes and their ordered nodes."""

import json
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from support import commitment_body, events, ok, problem


class TestPutProcess:
    async def test_creates_with_ordered_nodes_and_emits_contract_payload(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        assert [n["key"] for n in org["process"]["nodes"]] == ["dispatch", "arrive", "restore"]
        assert [n["position"] for n in org["process"]["nodes"]] == [1, 2, 3]
        (event,) = await events(session, "process.upserted")
        assert event["nodes"][0] == {
            "key": "dispatch", "name": "Dispatch", "position": 1, "department": "ops", "position_key": "dispatcher",
        }  # fmt: skip
        assert set(event) == {"key", "name", "description", "owner_department", "nodes"}

    async def test_unknown_owner_department_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.put("/v1/processes/p", json={"name": "P", "owner_department": "ghost"})
        problem(response, 422, "owner_department")

    async def test_unknown_node_department_is_422_naming_the_node(self, client: httpx.AsyncClient) -> None:
        response = await client.put(
            "/v1/processes/p", json={"name": "P", "nodes": [{"key": "a", "name": "A", "department": "ghost"}]}
        )
        problem(response, 422, "nodes[0].department")

    async def test_unknown_position_is_422(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        response = await client.put(
            "/v1/processes/p",
            json={"name": "P", "nodes": [{"key": "a", "name": "A", "department": "ops", "position_key": "boss"}]},
        )
        problem(response, 422, "nodes[0].position_key")

    async def test_duplicate_node_keys_are_422(self, client: httpx.AsyncClient) -> None:
        response = await client.put(
            "/v1/processes/p", json={"name": "P", "nodes": [{"key": "a", "name": "A"}, {"key": "a", "name": "B"}]}
        )
        problem(response, 422, "nodes")

    async def test_replace_needs_if_match(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        problem(await client.put("/v1/processes/repair", json={"name": "Repair"}), 428)

    async def test_replace_reorders_nodes(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        nodes = [{"key": "restore", "name": "Restore"}, {"key": "dispatch", "name": "Dispatch"}]
        body = await ok(
            await client.put(
                "/v1/processes/repair", json={"name": "Repair", "nodes": nodes}, headers={"If-Match": '"1"'}
            )
        )
        assert [(n["key"], n["position"]) for n in body["nodes"]] == [("restore", 1), ("dispatch", 2)]
        assert body["version"] == 2

    async def test_replace_dropping_a_node_a_commitment_names_is_409(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        await ok(await client.post("/v1/commitments", json=commitment_body()), 201)
        response = await client.put(
            "/v1/processes/repair", json={"name": "Repair", "nodes": [{"key": "arrive", "name": "A"}]},
            headers={"If-Match": '"1"'},
        )  # fmt: skip
        body = problem(response, 409, "nodes")
        assert "repair-dispatch-vip" in body["detail"]


async def patch(client: httpx.AsyncClient, body: Any, if_match: str | None = '"1"') -> httpx.Response:
    headers = {"Content-Type": "application/merge-patch+json"} | ({"If-Match": if_match} if if_match else {})
    return await client.patch("/v1/processes/repair", content=json.dumps(body), headers=headers)


class TestPatchProcess:
    async def test_changes_only_the_fields_sent_and_emits_the_put_payload(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        response = await patch(client, {"description": "From the call to power back on"})
        body = await ok(response)
        assert response.headers["etag"] == '"2"'
        assert (body["description"], body["name"], body["owner_department"]) == (
            "From the call to power back on", "Fault repair", "ops",
        )  # fmt: skip
        assert body["nodes"] == org["process"]["nodes"]
        first, second = await events(session, "process.upserted")
        assert set(second) == {"key", "name", "description", "owner_department", "nodes"}
        assert second == {**first, "description": "From the call to power back on"}

    async def test_nodes_sent_replace_the_node_list(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        nodes = [{"key": "restore", "name": "Restore", "department": "field"}, {"key": "dispatch", "name": "D"}]
        body = await ok(await patch(client, {"nodes": nodes}))
        assert [(n["key"], n["position"], n["department"]) for n in body["nodes"]] == [
            ("restore", 1, "field"), ("dispatch", 2, None),
        ]  # fmt: skip
        assert body["owner_department"] == "ops"

    async def test_null_owner_department_clears_it(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        body = await ok(await patch(client, {"owner_department": None}))
        assert body["owner_department"] is None

    async def test_stale_if_match_is_412_and_missing_is_428(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        problem(await patch(client, {"name": "Repair"}, if_match='"7"'), 412, "header.If-Match")
        problem(await patch(client, {"name": "Repair"}, if_match=None), 428, "header.If-Match")
        assert len(await events(session, "process.upserted")) == 1

    async def test_invalid_field_is_422_naming_it(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        problem(await patch(client, {"owner_department": "ghost"}), 422, "owner_department")
        problem(await patch(client, {"owner_department": "Not A Key"}), 422, "owner_department")
        problem(await patch(client, {"nodes": [{"key": "a", "name": "A", "department": "ghost"}]}), 422,
                "nodes[0].department")  # fmt: skip
        problem(await patch(client, {"nodes": [{"key": "a", "name": "A"}, {"key": "a", "name": "B"}]}), 422, "nodes")
        problem(await patch(client, {"nodes": [{"key": "a", "name": "A", "position": 1}]}), 422, "nodes.0.position")
        problem(await patch(client, {"name": None}), 422, "name")
        problem(await patch(client, {"key": "other"}), 422, "key")
        assert (await ok(await client.get("/v1/processes/repair")))["version"] == 1
        assert len(await events(session, "process.upserted")) == 1

    async def test_dropping_a_node_a_commitment_names_is_409(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        await ok(await client.post("/v1/commitments", json=commitment_body()), 201)
        problem(await patch(client, {"nodes": [{"key": "arrive", "name": "A"}]}), 409, "nodes")

    async def test_unknown_process_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.patch("/v1/processes/none", json={"name": "N"}, headers={"If-Match": '"1"'})
        problem(response, 404)


class TestNodes:
    async def test_put_new_node_appends_it(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        response = await client.put("/v1/processes/repair/nodes/verify", json={"name": "Verify"})
        body = await ok(response, 201)
        assert [n["key"] for n in body["nodes"]] == ["dispatch", "arrive", "restore", "verify"]

    async def test_put_node_at_a_position_moves_the_others(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        body = await ok(
            await client.put("/v1/processes/repair/nodes/triage", json={"name": "Triage", "position": 2}), 201
        )
        assert [(n["key"], n["position"]) for n in body["nodes"]] == [
            ("dispatch", 1), ("triage", 2), ("arrive", 3), ("restore", 4),
        ]  # fmt: skip

    async def test_changing_an_existing_node_needs_if_match(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        problem(await client.put("/v1/processes/repair/nodes/arrive", json={"name": "Arrive"}), 428)
        body = await ok(
            await client.put("/v1/processes/repair/nodes/arrive", json={"name": "On site"}, headers={"If-Match": '"1"'})
        )
        assert body["nodes"][1]["name"] == "On site"

    async def test_nodes_are_listed_a_page_at_a_time_in_order(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        first = await client.get("/v1/processes/repair/nodes", params={"limit": 2})
        page = await ok(first)
        assert [n["key"] for n in page["items"]] == ["dispatch", "arrive"]
        assert first.headers["ETag"] == '"1"'
        assert first.headers["Link"].endswith('rel="next"')
        rest = await ok(
            await client.get("/v1/processes/repair/nodes", params={"limit": 2, "cursor": page["next_cursor"]})
        )
        assert ([n["key"] for n in rest["items"]], rest["next_cursor"]) == (["restore"], None)
        problem(await client.get("/v1/processes/repair/nodes", params={"cursor": "bm9wZQ"}), 422, "query.cursor")
        problem(await client.get("/v1/processes/repair/nodes", params={"limit": 0}), 422, "query.limit")

    async def test_get_one_node(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        body = await ok(await client.get("/v1/processes/repair/nodes/restore"))
        assert body["position"] == 3
        problem(await client.get("/v1/processes/repair/nodes/nope"), 404)

    async def test_delete_node_renumbers(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        body = await ok(await client.delete("/v1/processes/repair/nodes/dispatch"))
        assert [(n["key"], n["position"]) for n in body["nodes"]] == [("arrive", 1), ("restore", 2)]
        assert len(await events(session, "process.upserted")) == 2

    async def test_delete_node_a_commitment_names_is_409(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        await ok(await client.post("/v1/commitments", json=commitment_body()), 201)
        body = problem(await client.delete("/v1/processes/repair/nodes/dispatch"), 409)
        assert body["referenced_by"] == ["commitment repair-dispatch-vip v1 (node dispatch)"]


class TestDeleteProcess:
    async def test_process_named_by_a_commitment_is_409(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        await ok(await client.post("/v1/commitments", json=commitment_body(node=None, key="e2e")), 201)
        body = problem(await client.delete("/v1/processes/repair"), 409)
        assert body["referenced_by"] == ["commitment e2e v1"]

    async def test_unreferenced_process_is_deleted_with_its_nodes(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        assert (await client.delete("/v1/processes/repair")).status_code == 204
        problem(await client.get("/v1/processes/repair"), 404)
        assert [e["key"] for e in await events(session, "process.deleted")] == ["repair"]
