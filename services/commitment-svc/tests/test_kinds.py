"""Kinds of commitment (docs/kinds.md): availability, count, frequency and clause are about a service, are
versioned and activated like durations, and refuse every field their kind does not take, naming it."""

from typing import Any

import httpx
import pytest
from commitment_svc.examples import EXAMPLES, KIND_EXAMPLES
from sqlalchemy.ext.asyncio import AsyncSession
from support import KIND_BODIES, active_commitment, commitment_body, events, kind_body, ok, portal, problem

KINDS = list(KIND_BODIES)


async def activate(client: httpx.AsyncClient, id_: str, effective_from: str = "2026-01-01T00:00:00+08:00") -> Any:
    await ok(await client.post(f"/v1/commitments/{id_}/transitions", json={"to": "negotiating"}))
    return await ok(
        await client.post(f"/v1/commitments/{id_}/transitions", json={"to": "active", "effective_from": effective_from})
    )


@pytest.fixture
async def service(client: httpx.AsyncClient, org: dict[str, Any]) -> dict[str, Any]:
    return await portal(client)


class TestEachKind:
    async def test_availability_keeps_its_shape_limits_with_defaults(
        self, client: httpx.AsyncClient, service: dict[str, Any]
    ) -> None:
        body = await ok(await client.post("/v1/commitments", json=kind_body("availability")), 201)
        assert (body["kind"], body["service"], body["obligation"], body["process"], body["node"]) == (
            "availability", "portal", None, None, None,
        )  # fmt: skip
        assert (body["commitment_limit"], body["tolerance_limit"], body["calendar"]) == ("PT4H", "PT8H", "w")
        assert body["objective"] == {"max_outages": 3, "max_downtime": "PT8H", "planned_maintenance_exempt": True}

    async def test_count_has_no_limits_and_keeps_its_objective(
        self, client: httpx.AsyncClient, service: dict[str, Any]
    ) -> None:
        body = await ok(await client.post("/v1/commitments", json=kind_body("count")), 201)
        assert (body["commitment_limit"], body["tolerance_limit"], body["obligation"]) == (
            None, None, "peak-concurrent-users",
        )  # fmt: skip
        assert body["objective"] == {"direction": "at_most", "limit": 100.0, "tolerance": 110.0, "unit": "users"}

    async def test_frequency_gap_may_be_business_days_and_first_due_defaults_to_null(
        self, client: httpx.AsyncClient, service: dict[str, Any]
    ) -> None:
        body = await ok(await client.post("/v1/commitments", json=kind_body("frequency")), 201)
        assert (body["commitment_limit"], body["tolerance_limit"], body["objective"]) == (
            "PT48H", "PT72H", {"first_due_at": None},
        )  # fmt: skip
        days = kind_body("frequency", key="portal-backup-bd", limit_unit="business_days", calendar="w")
        days["objective"] = {"first_due_at": "2026-12-05T18:00:00+08:00"}
        body = await ok(await client.post("/v1/commitments", json=days), 201)
        assert (body["limit_unit"], body["objective"]) == ("business_days", {"first_due_at": "2026-12-05T10:00:00Z"})

    async def test_clause_keeps_its_due_instants_in_utc(
        self, client: httpx.AsyncClient, service: dict[str, Any]
    ) -> None:
        body = await ok(await client.post("/v1/commitments", json=kind_body("clause")), 201)
        assert body["objective"] == {
            "due_at": "2026-12-14T16:00:00Z",
            "tolerance_due_at": "2026-12-21T16:00:00Z",
            "requires_sign_off": True,
        }

    @pytest.mark.parametrize("kind", KINDS)
    async def test_is_versioned_and_activated_keeping_kind_service_and_obligation(
        self, client: httpx.AsyncClient, session: AsyncSession, service: dict[str, Any], kind: str
    ) -> None:
        v1 = await ok(await client.post("/v1/commitments", json=kind_body(kind)), 201)
        active = await activate(client, v1["id"])
        assert active["status"] == "active"
        changes: dict[str, Any] = {"description": "second version"}
        if kind == "count":
            changes["objective"] = {"direction": "at_most", "limit": 120, "tolerance": 130, "unit": "users"}
        v2 = await ok(await client.post(f"/v1/commitments/{v1['id']}/versions", json=changes), 201)
        assert (v2["version"], v2["kind"], v2["service"], v2["obligation"]) == (
            2, kind, "portal", KIND_BODIES[kind].get("obligation"),
        )  # fmt: skip
        if kind == "count":
            assert v2["objective"] == {"direction": "at_most", "limit": 120.0, "tolerance": 130.0, "unit": "users"}
        else:
            assert v2["objective"] == v1["objective"]
        for fixed in ({"kind": "count"}, {"service": "other"}, {"obligation": "other"}, {"process": "repair"}):
            (field,) = fixed
            problem(await client.post(f"/v1/commitments/{v1['id']}/versions", json=fixed), 422, field)
        later = await activate(client, v2["id"], "2026-02-01T00:00:00+08:00")
        assert later["status"] == "active"
        versions = await ok(await client.get(f"/v1/commitments/{v1['id']}/versions"))
        assert [v["effective_to"] for v in versions["items"]] == ["2026-01-31T16:00:00Z", None]
        listed = await ok(await client.get("/v1/commitments", params={"kind": kind, "service": "portal"}))
        assert {v["key"] for v in listed["items"]} == {KIND_BODIES[kind]["key"]}

    async def test_a_version_in_the_past_is_activated_without_asking_evaluation_to_rejudge_runs(
        self, client: httpx.AsyncClient, service: dict[str, Any], evaluation: Any
    ) -> None:
        created = await ok(await client.post("/v1/commitments", json=kind_body("availability")), 201)
        await activate(client, created["id"], "2025-06-01T00:00:00Z")
        assert evaluation.requests == []

    async def test_two_commitments_of_one_kind_cannot_govern_one_service_at_once(
        self, client: httpx.AsyncClient, service: dict[str, Any]
    ) -> None:
        first = await ok(await client.post("/v1/commitments", json=kind_body("availability")), 201)
        await activate(client, first["id"])
        second = await ok(await client.post("/v1/commitments", json=kind_body("availability", key="uptime-2")), 201)
        await ok(await client.post(f"/v1/commitments/{second['id']}/transitions", json={"to": "negotiating"}))
        clash = await client.post(
            f"/v1/commitments/{second['id']}/transitions",
            json={"to": "active", "effective_from": "2026-03-01T00:00:00Z"},
        )
        assert "availability of portal" in problem(clash, 409, "effective_from")["detail"]
        # another kind, or another obligation, of the same service is another subject
        for kind in ("frequency", "count", "clause"):
            other = await ok(await client.post("/v1/commitments", json=kind_body(kind)), 201)
            await activate(client, other["id"])
        restore = await ok(await client.post("/v1/commitments", json=kind_body("count", key="c2", obligation="x")), 201)
        await activate(client, restore["id"])

    async def test_a_duration_commitment_still_governs_beside_them(
        self, client: httpx.AsyncClient, service: dict[str, Any]
    ) -> None:
        created = await ok(await client.post("/v1/commitments", json=kind_body("availability")), 201)
        await activate(client, created["id"])
        duration = await active_commitment(client)
        assert (duration["kind"], duration["objective"], duration["service"]) == ("duration", None, None)
        params = {"process": "repair", "node": "dispatch", "segment": "vip", "at": "2026-03-03T10:00:00Z"}
        assert (await ok(await client.get("/v1/commitments/resolve", params=params)))["id"] == duration["id"]

    async def test_a_deadline_preview_of_a_service_commitment_is_422(
        self, client: httpx.AsyncClient, service: dict[str, Any]
    ) -> None:
        created = await ok(await client.post("/v1/commitments", json=kind_body("frequency")), 201)
        body = {"start": "2026-03-03T10:00:00Z", "commitment_id": created["id"]}
        problem(await client.post("/v1/deadlines/preview", json=body), 422, "commitment_id")

    async def test_a_service_still_named_cannot_be_unknown(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        problem(await client.post("/v1/commitments", json=kind_body("availability")), 422, "service")


def counted(**fields: Any) -> dict[str, Any]:
    return {"objective": {"direction": "at_most", "limit": 100, "tolerance": 110, "unit": "users"} | fields}


BUSINESS_DAYS = {"limit_unit": "business_days", "commitment_limit": "P1D", "tolerance_limit": "P2D"}
LATE_BEFORE_DUE = {"due_at": "2026-12-22T00:00:00Z", "tolerance_due_at": "2026-12-15T00:00:00Z"}

WRONG_FIELDS = [
    # (kind, changes to its body, the field named)
    ("duration", {"service": "portal"}, "service"),
    ("duration", {"obligation": "db-backup"}, "obligation"),
    ("duration", {"objective": {"max_outages": 3}}, "objective"),
    ("duration", {"process": None}, "process"),
    ("availability", {"process": "repair"}, "process"),
    ("availability", {"node": "dispatch"}, "node"),
    ("availability", {"service": None}, "service"),
    ("availability", {"obligation": "uptime"}, "obligation"),
    ("availability", {"commitment_limit": None}, "commitment_limit"),
    ("availability", BUSINESS_DAYS, "limit_unit"),
    ("availability", {"objective": {"max_outages": -1}}, "objective.max_outages"),
    ("availability", {"objective": {"max_downtime": "8 hours"}}, "objective.max_downtime"),
    ("availability", {"objective": {"limit": 3}}, "objective.limit"),
    ("availability", {"allowed_pause_reasons": ["awaiting-customer"]}, "allowed_pause_reasons"),
    ("count", {"obligation": None}, "obligation"),
    ("count", {"commitment_limit": "PT1H", "tolerance_limit": "PT2H"}, "commitment_limit"),
    ("count", {"objective": None}, "objective"),
    ("count", {"objective": {"direction": "at_most", "tolerance": 110, "unit": "users"}}, "objective.limit"),
    ("count", counted(tolerance=90), "objective.tolerance"),
    ("count", counted(direction="at_least"), "objective.tolerance"),
    ("count", counted(direction="about"), "objective.direction"),
    ("count", counted(unit=""), "objective.unit"),
    ("count", counted(max_outages=1), "objective.max_outages"),
    ("frequency", {"tolerance_limit": None}, "tolerance_limit"),
    ("frequency", {"tolerance_limit": "P1D"}, "tolerance_limit"),
    ("frequency", {"objective": {"first_due_at": "2026-12-05T18:00:00"}}, "objective.first_due_at"),
    ("frequency", {"process": "repair"}, "process"),
    ("clause", {"objective": {"tolerance_due_at": "2026-12-22T00:00:00Z"}}, "objective.due_at"),
    ("clause", {"objective": LATE_BEFORE_DUE}, "objective.tolerance_due_at"),
    ("clause", {"tolerance_limit": "PT8H"}, "tolerance_limit"),
    ("clause", {"kind": "outage"}, "kind"),
]  # fmt: skip


class TestWrongFieldForTheKind:
    @pytest.mark.parametrize(("kind", "changes", "field"), WRONG_FIELDS)
    async def test_is_422_naming_the_field_and_writes_nothing(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        service: dict[str, Any],
        kind: str,
        changes: dict[str, Any],
        field: str,
    ) -> None:
        body = commitment_body() if kind == "duration" else kind_body(kind)
        body.update(changes)
        problem(await client.post("/v1/commitments", json=body), 422, field)
        assert await events(session, "commitment.upserted") == []

    async def test_an_update_is_checked_against_the_versions_kind(
        self, client: httpx.AsyncClient, service: dict[str, Any]
    ) -> None:
        created = await ok(await client.post("/v1/commitments", json=kind_body("count")), 201)
        patch = {"objective": {"direction": "at_least", "limit": 100, "tolerance": 110, "unit": "users"}}
        headers = {"If-Match": '"1"'}
        problem(await client.patch(f"/v1/commitments/{created['id']}", json=patch, headers=headers), 422,
                "objective.tolerance")  # fmt: skip
        problem(await client.patch(f"/v1/commitments/{created['id']}", json={"commitment_limit": "PT1H"},
                                   headers=headers), 422, "commitment_limit")  # fmt: skip
        problem(await client.patch(f"/v1/commitments/{created['id']}", json={"objective": None}, headers=headers),
                422, "objective")  # fmt: skip
        patch["objective"]["tolerance"] = 90
        changed = await ok(await client.patch(f"/v1/commitments/{created['id']}", json=patch, headers=headers))
        assert changed["objective"]["direction"] == "at_least"


class TestFeed:
    @pytest.mark.parametrize("kind", KINDS)
    async def test_commitment_upserted_carries_kind_service_obligation_and_objective(
        self, client: httpx.AsyncClient, session: AsyncSession, service: dict[str, Any], kind: str
    ) -> None:
        body = await ok(await client.post("/v1/commitments", json=kind_body(kind)), 201)
        (event,) = await events(session, "commitment.upserted")
        assert (event["kind"], event["service_key"], event["obligation_key"], event["process_key"]) == (
            kind, "portal", KIND_BODIES[kind].get("obligation"), None,
        )  # fmt: skip
        assert event["objective"] == body["objective"]
        assert (event["commitment_limit"], event["tolerance_limit"]) == (
            body["commitment_limit"], body["tolerance_limit"],
        )  # fmt: skip

    async def test_a_duration_commitment_says_so(
        self, client: httpx.AsyncClient, session: AsyncSession, org: dict[str, Any]
    ) -> None:
        await ok(await client.post("/v1/commitments", json=commitment_body()), 201)
        (event,) = await events(session, "commitment.upserted")
        assert (event["kind"], event["service_key"], event["obligation_key"], event["objective"]) == (
            "duration", None, None, None,
        )  # fmt: skip


class TestDocumentedExamples:
    async def test_every_kind_example_of_the_openapi_document_is_accepted(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        await ok(
            await client.post(
                "/v1/services", json=EXAMPLES["createService"] | {"segment": "vip", "owner_department": "ops"}
            ),
            201,
        )
        documented = (await ok(await client.get("/openapi.json")))["components"]["schemas"]["CommitmentCreate"]
        assert documented["examples"] == KIND_EXAMPLES
        for example in KIND_EXAMPLES:
            body = await ok(await client.post("/v1/commitments", json=example), 201)
            assert (body["kind"], body["service"]) == (example["kind"], "customer-portal")
