"""Commitments: validation, versions, the lifecycle, one governing version per instant, resolution."""

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from support import active_commitment, commitment_body, events, ok, problem

FEED_FIELDS = {
    "id", "commitment_key", "version", "process_key", "node_key", "segment_key", "limit_unit", "commitment_limit",
    "tolerance_limit", "calendar_key", "allowed_pause_reasons", "owner_department", "owner_position",
    "prewarning_fraction", "status", "effective_from", "effective_to", "kind", "service_key", "obligation_key",
    "objective",
}  # fmt: skip


def soon(days: int = 1) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat()


async def transition(client: httpx.AsyncClient, id_: str, **body: Any) -> httpx.Response:
    return await client.post(f"/v1/commitments/{id_}/transitions", json=body)


async def new_version(client: httpx.AsyncClient, id_: str, **changes: Any) -> dict[str, Any]:
    return await ok(await client.post(f"/v1/commitments/{id_}/versions", json=changes), 201)  # type: ignore[no-any-return]


class TestCreateCommitment:
    async def test_creates_version_1_in_draft_and_emits_the_contract_payload(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        response = await client.post("/v1/commitments", json=commitment_body())
        body = await ok(response, 201)
        assert (body["version"], body["status"], body["commitment_limit"]) == (1, "draft", "PT6H")
        assert response.headers["location"] == f"/v1/commitments/{body['id']}"
        (event,) = await events(session, "commitment.upserted")
        assert set(event) - {"key"} == FEED_FIELDS
        assert event["key"] == body["id"]
        assert event["tolerance_limit"] == "PT10H"
        assert event["prewarning_fraction"] == 0.8

    async def test_whole_process_commitment_has_null_node(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        body = await ok(await client.post("/v1/commitments", json=commitment_body(key="e2e", node=None)), 201)
        assert body["node"] is None

    async def test_business_days_are_whole_days(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        body = await ok(
            await client.post(
                "/v1/commitments",
                json=commitment_body(limit_unit="business_days", commitment_limit="P3D", tolerance_limit="P5D"),
            ),
            201,
        )
        assert (body["commitment_limit"], body["tolerance_limit"]) == ("P3D", "P5D")
        response = await client.post(
            "/v1/commitments",
            json=commitment_body(key="x", limit_unit="business_days", commitment_limit="P1DT2H", tolerance_limit="P3D"),
        )
        problem(response, 422, "commitment_limit")

    async def test_tolerance_below_commitment_is_422(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        response = await client.post("/v1/commitments", json=commitment_body(tolerance_limit="PT5H"))
        problem(response, 422, "tolerance_limit")

    @pytest.mark.parametrize("limit", ["PT0S", "PT0H", "-PT1H", "4 hours", "P1M", "P1Y", "PT"])
    async def test_limit_that_is_not_positive_or_not_a_duration_is_422(
        self, client: httpx.AsyncClient, org: dict[str, Any], limit: str
    ) -> None:
        problem(await client.post("/v1/commitments", json=commitment_body(commitment_limit=limit)), 422,
                "commitment_limit")  # fmt: skip

    @pytest.mark.parametrize(
        ("override", "field"),
        [
            ({"calendar": "nope"}, "calendar"),
            ({"segment": "nope"}, "segment"),
            ({"node": "nope"}, "node"),
            ({"process": "nope"}, "process"),
            ({"owner_department": "nope"}, "owner_department"),
            ({"owner_department": "field", "owner_position": "dispatcher"}, "owner_position"),
            ({"prewarning_fraction": 1.5}, "prewarning_fraction"),
            ({"allowed_pause_reasons": ["a", "a"]}, "allowed_pause_reasons"),
        ],
    )
    async def test_unknown_or_bad_reference_is_422_naming_the_field(
        self, client: httpx.AsyncClient, org: dict[str, Any], override: dict[str, Any], field: str
    ) -> None:
        problem(await client.post("/v1/commitments", json=commitment_body(**override)), 422, field)

    async def test_existing_key_is_409(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        await ok(await client.post("/v1/commitments", json=commitment_body()), 201)
        problem(await client.post("/v1/commitments", json=commitment_body()), 409, "key")

    async def test_failed_create_writes_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        problem(await client.post("/v1/commitments", json=commitment_body(tolerance_limit="PT1H")), 422)
        assert await events(session, "commitment.upserted") == []
        assert (await ok(await client.get("/v1/commitments")))["items"] == []


class TestUpdateCommitment:
    async def test_draft_is_edited_with_if_match(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        created = await client.post("/v1/commitments", json=commitment_body())
        id_ = created.json()["id"]
        response = await client.patch(
            f"/v1/commitments/{id_}", json={"commitment_limit": "PT4H"}, headers={"If-Match": created.headers["etag"]}
        )
        body = await ok(response)
        assert body["commitment_limit"] == "PT4H"
        assert response.headers["etag"] == '"2"'

    async def test_missing_if_match_is_428_and_stale_is_412(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        id_ = (await ok(await client.post("/v1/commitments", json=commitment_body()), 201))["id"]
        problem(await client.patch(f"/v1/commitments/{id_}", json={"name": "x"}), 428)
        problem(await client.patch(f"/v1/commitments/{id_}", json={"name": "x"}, headers={"If-Match": '"9"'}), 412)

    async def test_active_version_is_never_edited_in_place(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        active = await active_commitment(client)
        response = await client.patch(
            f"/v1/commitments/{active['id']}", json={"commitment_limit": "PT1H"}, headers={"If-Match": "*"}
        )
        problem(response, 409, "status")

    async def test_tolerance_below_new_commitment_limit_is_422(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        created = await client.post("/v1/commitments", json=commitment_body())
        response = await client.patch(
            f"/v1/commitments/{created.json()['id']}", json={"commitment_limit": "PT12H"}, headers={"If-Match": '"1"'}
        )
        problem(response, 422, "tolerance_limit")


class TestTransitions:
    async def test_draft_cannot_skip_negotiation(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        id_ = (await ok(await client.post("/v1/commitments", json=commitment_body()), 201))["id"]
        problem(await transition(client, id_, to="active"), 409, "to")

    async def test_activation_records_who_and_when(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        active = await active_commitment(client)
        assert active["status"] == "active"
        assert active["effective_from"] == "2025-12-31T16:00:00Z"
        assert active["effective_to"] is None
        assert [h["status"] for h in active["history"]] == ["draft", "negotiating", "active"]
        assert active["history"][-1]["by"] == "system"

    async def test_new_version_closes_the_old_one_in_one_transaction(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        v1 = await active_commitment(client)
        v2 = await new_version(client, v1["id"], commitment_limit="PT4H")
        assert (v2["version"], v2["status"], v2["commitment_limit"], v2["tolerance_limit"]) == (
            2, "draft", "PT4H", "PT10H",
        )  # fmt: skip
        await ok(await transition(client, v2["id"], to="negotiating"))
        start = soon()
        activated = await ok(await transition(client, v2["id"], to="active", effective_from=start))
        old = await ok(await client.get(f"/v1/commitments/{v1['id']}"))
        assert old["effective_to"] == activated["effective_from"]
        assert old["status"] == "active"  # it still governs its own (now closed) range
        published = await events(session, "commitment.upserted")
        assert [(e["version"], e["effective_to"]) for e in published[-2:]] == [
            (1, activated["effective_from"]), (2, None),
        ]  # fmt: skip

    async def test_new_version_cannot_start_before_the_one_it_replaces(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        v1 = await active_commitment(client, effective_from=soon(10))
        v2 = await new_version(client, v1["id"])
        await ok(await transition(client, v2["id"], to="negotiating"))
        problem(await transition(client, v2["id"], to="active", effective_from=soon(5)), 409, "effective_from")

    async def test_a_second_open_draft_is_409(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        v1 = await active_commitment(client)
        await new_version(client, v1["id"])
        problem(await client.post(f"/v1/commitments/{v1['id']}/versions", json={}), 409, "key")

    async def test_other_commitment_overlapping_on_the_same_subject_is_409(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        first = await active_commitment(client)
        created = await ok(await client.post("/v1/commitments", json=commitment_body(key="rival")), 201)
        await ok(await transition(client, created["id"], to="negotiating"))
        body = problem(await transition(client, created["id"], to="active", effective_from=soon()), 409,
                       "effective_from")  # fmt: skip
        assert body["conflicting_id"] == first["id"]

    async def test_node_and_end_to_end_commitments_do_not_conflict(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        await active_commitment(client)
        e2e = await active_commitment(client, key="repair-e2e", node=None)
        other_segment = await active_commitment(client, key="repair-dispatch-default", segment="default")
        assert e2e["status"] == other_segment["status"] == "active"

    async def test_retire_ends_the_range_and_keeps_history(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        active = await active_commitment(client)
        retired = await ok(await transition(client, active["id"], to="retired", reason="process redesigned"))
        assert retired["status"] == "retired"
        assert retired["effective_to"] is not None
        assert retired["history"][-1]["reason"] == "process redesigned"
        problem(await transition(client, active["id"], to="active"), 409, "to")

    async def test_retire_in_the_past_is_422(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        active = await active_commitment(client)
        problem(await transition(client, active["id"], to="retired", effective_to="2026-02-01T00:00:00Z"), 422,
                "effective_to")  # fmt: skip

    async def test_stale_if_match_on_transition_is_412(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        id_ = (await ok(await client.post("/v1/commitments", json=commitment_body()), 201))["id"]
        response = await client.post(
            f"/v1/commitments/{id_}/transitions", json={"to": "negotiating"}, headers={"If-Match": '"5"'}
        )
        problem(response, 412)


class TestOneGoverningVersionInTheDatabase:
    async def test_exclusion_constraint_refuses_overlapping_versions_written_directly(
        self, session: AsyncSession, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        await active_commitment(client)
        insert = text(
            "INSERT INTO commitment_versions (id, commitment_key, version, process_key, node_key, segment_key,"
            " limit_unit, commitment_limit, tolerance_limit, calendar_key, status, effective_from)"
            " VALUES (:id, 'sneaky', 1, 'repair', 'dispatch', 'vip', 'duration', interval '1 hour',"
            " interval '2 hours', '24x7', 'active', '2026-06-01T00:00:00Z')"
        )
        savepoint = await session.begin_nested()
        with pytest.raises(IntegrityError, match="commitment_versions_one_governs"):
            await session.execute(insert, {"id": uuid.uuid4()})
        await savepoint.rollback()

    async def test_end_to_end_versions_with_null_node_also_conflict(
        self, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        sql = (
            "INSERT INTO commitment_versions (id, commitment_key, version, process_key, node_key, segment_key,"
            " limit_unit, commitment_limit, tolerance_limit, calendar_key, status, effective_from)"
            " VALUES (:id, :k, 1, 'repair', NULL, 'vip', 'duration', interval '1 hour', interval '2 hours', '24x7',"
            " 'active', :f)"
        )
        await session.execute(text(sql), {"id": uuid.uuid4(), "k": "a", "f": datetime(2026, 1, 1, tzinfo=UTC)})
        savepoint = await session.begin_nested()
        with pytest.raises(IntegrityError, match="commitment_versions_one_governs"):
            await session.execute(text(sql), {"id": uuid.uuid4(), "k": "b", "f": datetime(2026, 6, 1, tzinfo=UTC)})
        await savepoint.rollback()


class TestDeleteCommitment:
    async def test_draft_is_deleted(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        id_ = (await ok(await client.post("/v1/commitments", json=commitment_body()), 201))["id"]
        assert (await client.delete(f"/v1/commitments/{id_}")).status_code == 204
        problem(await client.get(f"/v1/commitments/{id_}"), 404)
        assert [e["id"] for e in await events(session, "commitment.deleted")] == [id_]

    async def test_active_version_cannot_be_deleted(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        active = await active_commitment(client)
        problem(await client.delete(f"/v1/commitments/{active['id']}"), 409, "status")


class TestListCommitments:
    async def test_filters_and_pages(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        v1 = await active_commitment(client)
        await new_version(client, v1["id"])
        await ok(await client.post("/v1/commitments", json=commitment_body(key="other", node="arrive")), 201)
        page = await ok(await client.get("/v1/commitments", params={"limit": 2}))
        assert [(c["key"], c["version"]) for c in page["items"]] == [
            ("other", 1),
            ("repair-dispatch-vip", 1),
        ]
        rest = await ok(await client.get("/v1/commitments", params={"limit": 2, "cursor": page["next_cursor"]}))
        assert [(c["key"], c["version"]) for c in rest["items"]] == [("repair-dispatch-vip", 2)]
        drafts = await ok(await client.get("/v1/commitments", params={"status": "draft", "node": "dispatch"}))
        assert [c["version"] for c in drafts["items"]] == [2]
        versions = await ok(await client.get(f"/v1/commitments/{v1['id']}/versions"))
        assert ([v["version"] for v in versions["items"]], versions["next_cursor"]) == ([1, 2], None)
        first = await client.get(f"/v1/commitments/{v1['id']}/versions", params={"limit": 1})
        assert [v["version"] for v in first.json()["items"]] == [1]
        assert first.headers["Link"].endswith('rel="next"')
        rest = await ok(
            await client.get(
                f"/v1/commitments/{v1['id']}/versions", params={"limit": 1, "cursor": first.json()["next_cursor"]}
            )
        )
        assert ([v["version"] for v in rest["items"]], rest["next_cursor"]) == ([2], None)

    @pytest.mark.parametrize(
        "forged",
        [
            ["repair-dispatch-vip", 2**40],  # beyond a Postgres integer: used to reach the database
            ["repair-dispatch-vip", "two"],  # not a version: used to fail in int()
            ["repair\u0000", 1],  # NUL, which Postgres text cannot hold
            ["repair-dispatch-vip"],  # a department's cursor, not a commitment's
        ],
    )
    async def test_forged_cursor_is_422_naming_after(self, client: httpx.AsyncClient, forged: list[Any]) -> None:
        raw = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
        problem(await client.get("/v1/commitments", params={"cursor": raw}), 422, "query.cursor")
        problem(await client.get("/v1/agreements", params={"cursor": raw}), 422, "query.cursor")


class TestResolve:
    async def test_finds_the_segment_version_in_force(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        active = await active_commitment(client)
        params = {"process": "repair", "node": "dispatch", "segment": "vip", "at": "2026-03-03T10:00:00+08:00"}
        assert (await ok(await client.get("/v1/commitments/resolve", params=params)))["id"] == active["id"]

    async def test_falls_back_to_the_default_segment(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        fallback = await active_commitment(client, key="dispatch-default", segment="default")
        await ok(await client.put("/v1/segments/residential", json={"name": "Residential"}), 201)
        params = {"process": "repair", "node": "dispatch", "segment": "residential", "at": "2026-03-03T10:00:00Z"}
        body = await ok(await client.get("/v1/commitments/resolve", params=params))
        assert (body["id"], body["segment"]) == (fallback["id"], "default")

    async def test_none_governing_is_404_problem(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        await active_commitment(client)
        params = {"process": "repair", "node": "dispatch", "segment": "vip", "at": "2025-06-01T00:00:00Z"}
        problem(await client.get("/v1/commitments/resolve", params=params), 404)
        problem(await client.get("/v1/commitments/resolve", params={"process": "repair", "node": "arrive"}), 404)

    async def test_past_instants_resolve_to_the_version_then_in_force(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        v1 = await active_commitment(client)
        v2 = await new_version(client, v1["id"], commitment_limit="PT4H")
        await ok(await transition(client, v2["id"], to="negotiating"))
        start = soon(2)
        await ok(await transition(client, v2["id"], to="active", effective_from=start))
        base = {"process": "repair", "node": "dispatch", "segment": "vip"}
        before = await ok(await client.get("/v1/commitments/resolve", params={**base, "at": soon(1)}))
        after = await ok(await client.get("/v1/commitments/resolve", params={**base, "at": soon(3)}))
        assert (before["version"], after["version"]) == (1, 2)

    async def test_whole_process_resolves_without_a_node(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        e2e = await active_commitment(client, key="repair-e2e", node=None)
        body = await ok(await client.get("/v1/commitments/resolve", params={"process": "repair", "segment": "vip"}))
        assert body["id"] == e2e["id"]

    async def test_instant_without_offset_is_422(self, client: httpx.AsyncClient, org: dict[str, Any]) -> None:
        params = {"process": "repair", "at": "2026-03-03T10:00:00"}
        problem(await client.get("/v1/commitments/resolve", params=params), 422, "query.at")
