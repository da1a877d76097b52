"""Departments, positions and segments."""

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from support import commitment_body, events, ok, problem


class TestPutDepartment:
    async def test_creates_a_department_with_positions_and_emits_it(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        response = await client.put(
            "/v1/departments/marketing", json={"name": "Marketing", "positions": [{"key": "clerk", "name": "Clerk"}]}
        )
        body = await ok(response, 201)
        assert body["positions"] == [{"key": "clerk", "name": "Clerk"}]
        assert response.headers["etag"] == '"1"'
        (event,) = await events(session, "department.upserted")
        assert event == {
            "key": "marketing",
            "name": "Marketing",
            "parent_key": None,
            "positions": [{"key": "clerk", "name": "Clerk"}],
        }

    async def test_same_body_twice_changes_nothing(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        body = {"name": "Marketing"}
        await ok(await client.put("/v1/departments/marketing", json=body), 201)
        second = await client.put("/v1/departments/marketing", json=body)
        assert second.status_code == 200
        assert second.headers["etag"] == '"1"'
        assert len(await events(session, "department.upserted")) == 1

    async def test_unknown_parent_is_422_naming_parent_key(self, client: httpx.AsyncClient) -> None:
        response = await client.put("/v1/departments/a", json={"name": "A", "parent_key": "nowhere"})
        problem(response, 422, "parent_key")

    async def test_parent_cycle_is_422(self, client: httpx.AsyncClient) -> None:
        await ok(await client.put("/v1/departments/a", json={"name": "A"}), 201)
        await ok(await client.put("/v1/departments/b", json={"name": "B", "parent_key": "a"}), 201)
        problem(await client.put("/v1/departments/a", json={"name": "A", "parent_key": "b"}), 422, "parent_key")

    async def test_bad_key_in_path_is_422(self, client: httpx.AsyncClient) -> None:
        problem(await client.put("/v1/departments/Bad Key", json={"name": "x"}), 422, "path.key")

    async def test_unknown_field_is_refused(self, client: httpx.AsyncClient) -> None:
        problem(await client.put("/v1/departments/a", json={"name": "A", "colour": "red"}), 422, "colour")

    async def test_removing_a_position_a_node_uses_is_409(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        response = await client.put("/v1/departments/ops", json={"name": "Operations", "positions": []})
        body = problem(response, 409, "positions")
        assert "repair/dispatch" in body["detail"]


class TestDeleteDepartment:
    async def test_referenced_department_is_409_saying_by_what(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        body = problem(await client.delete("/v1/departments/field"), 409)
        assert "node repair/arrive" in body["referenced_by"]

    async def test_unreferenced_department_is_deleted(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        await ok(await client.put("/v1/departments/tmp", json={"name": "Temp"}), 201)
        assert (await client.delete("/v1/departments/tmp")).status_code == 204
        problem(await client.get("/v1/departments/tmp"), 404)
        assert [e["key"] for e in await events(session, "department.deleted")] == ["tmp"]


class TestListDepartments:
    async def test_pages_with_a_cursor(self, client: httpx.AsyncClient) -> None:
        for key in ("d1", "d2", "d3"):
            await ok(await client.put(f"/v1/departments/{key}", json={"name": key}), 201)
        first = await ok(await client.get("/v1/departments", params={"limit": 2}))
        assert [d["key"] for d in first["items"]] == ["d1", "d2"]
        second = await ok(await client.get("/v1/departments", params={"limit": 2, "cursor": first["next_cursor"]}))
        assert [d["key"] for d in second["items"]] == ["d3"]
        assert second["next_cursor"] is None

    async def test_garbage_cursor_is_422(self, client: httpx.AsyncClient) -> None:
        problem(await client.get("/v1/departments", params={"cursor": "%%%"}), 422, "query.cursor")


class TestSegments:
    async def test_default_segment_is_built_in(self, client: httpx.AsyncClient) -> None:
        body = await ok(await client.get("/v1/segments/default"))
        assert body["builtin"] is True
        problem(await client.delete("/v1/segments/default"), 409)

    async def test_put_creates_and_emits(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        await ok(await client.put("/v1/segments/enterprise", json={"name": "Enterprise"}), 201)
        (event,) = await events(session, "segment.upserted")
        assert event == {"key": "enterprise", "name": "Enterprise"}

    async def test_stale_if_match_is_412(self, client: httpx.AsyncClient) -> None:
        await ok(await client.put("/v1/segments/enterprise", json={"name": "Enterprise"}), 201)
        response = await client.put("/v1/segments/enterprise", json={"name": "Ent"}, headers={"If-Match": '"7"'})
        problem(response, 412, "header.If-Match")

    async def test_segment_used_by_a_commitment_cannot_be_deleted(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        await ok(await client.post("/v1/commitments", json=commitment_body()), 201)
        body = problem(await client.delete("/v1/segments/vip"), 409)
        assert "commitment repair-dispatch-vip v1" in body["referenced_by"]


async def test_every_put_that_may_create_documents_its_201_with_the_same_body(client: httpx.AsyncClient) -> None:
    """A client validating answers against the OpenAPI document accepts the 201 of a first PUT."""
    paths = (await client.get("/openapi.json")).json()["paths"]
    creating = [
        "/v1/calendars/{key}",
        "/v1/departments/{key}",
        "/v1/processes/{key}",
        "/v1/processes/{key}/nodes/{node_key}",
        "/v1/segments/{key}",
    ]
    for path in creating:
        responses = paths[path]["put"]["responses"]
        assert responses["201"]["content"] == responses["200"]["content"], path
    await ok(await client.put("/v1/segments/vip", json={"name": "VIP"}), 201)
