"""POST /v1/events: one event, validated, idempotent, out-of-order safe, and on the feed."""

from datetime import UTC, datetime, timedelta
from itertools import permutations
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import pytest
from conftest import PROCESS, caller_headers, ev, feed, process_upserted
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from tracking_svc.catalogue.consumer import apply_commitment_events
from tracking_svc.config import Settings

pytestmark = pytest.mark.usefixtures("catalogue")
PROBLEM = "application/problem+json"


async def ticket(client: httpx.AsyncClient, ref: str = "crm:WO-1") -> dict[str, Any]:
    response = await client.get(f"/v1/tickets/{ref}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestPostEvent:
    async def test_accepted_event_answers_201_with_its_ticket(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/events", json=ev("e1", "ticket.opened", 0))
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["event_id"], body["source"], body["status"]) == ("e1", "crm", "accepted")
        assert body["ticket_id"] == (await ticket(client))["id"]

    async def test_same_event_twice_is_applied_once_and_answers_200_duplicate(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        first = await client.post("/v1/events", json=ev("e1", "node.started", 0, "accept"))
        again = await client.post("/v1/events", json=ev("e1", "node.started", 0, "accept"))
        assert (first.status_code, first.json()["status"]) == (201, "accepted")
        assert (again.status_code, again.json()) == (200, first.json() | {"status": "duplicate"})
        assert "Pledge-Duplicate" not in again.headers
        assert await session.scalar(text("SELECT count(*) FROM events")) == 1
        assert len(await feed(session, "node_run.upserted")) == 1

    async def test_same_event_in_another_time_offset_is_the_same_event(self, client: httpx.AsyncClient) -> None:
        body = ev("e1", "node.started", 0, "accept")
        await client.post("/v1/events", json=body)
        local = datetime.fromisoformat(body["occurred_at"]).astimezone(ZoneInfo("Asia/Shanghai"))
        shifted = {**body, "occurred_at": local.isoformat()}
        again = await client.post("/v1/events", json=shifted)
        assert (again.status_code, again.json()["status"]) == (200, "duplicate")

    async def test_same_event_id_with_another_payload_is_409(self, client: httpx.AsyncClient) -> None:
        await client.post("/v1/events", json=ev("e1", "node.started", 0, "accept"))
        response = await client.post("/v1/events", json=ev("e1", "node.started", 1, "accept"))
        assert response.status_code == 409
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"][0]["field"] == "event_id"

    async def test_unknown_process_is_422_naming_it(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/events", json=ev("e1", "ticket.opened", 0, process="no-such-process"))
        assert response.status_code == 422
        assert response.json()["errors"] == [{"field": "ticket.process", "message": "unknown process no-such-process"}]

    async def test_unknown_node_is_422_naming_it(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/events", json=ev("e1", "node.started", 0, "teleport"))
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "node"
        assert "teleport" in response.json()["detail"]

    async def test_unknown_segment_is_422_naming_it(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/events", json=ev("e1", "ticket.opened", 0, ticket={"segment": "gold"}))
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "ticket.segment"

    async def test_instant_beyond_the_allowed_skew_is_422(self, client: httpx.AsyncClient, settings: Settings) -> None:
        future = datetime.now(UTC) + timedelta(seconds=settings.max_clock_skew_seconds + 60)
        body = {**ev("e1", "ticket.opened", 0), "occurred_at": future.isoformat()}
        response = await client.post("/v1/events", json=body)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "occurred_at"

    async def test_instant_within_the_skew_is_accepted(self, client: httpx.AsyncClient) -> None:
        body = {**ev("e1", "ticket.opened", 0), "occurred_at": (datetime.now(UTC) + timedelta(seconds=30)).isoformat()}
        assert (await client.post("/v1/events", json=body)).status_code == 201

    async def test_unknown_field_is_422_naming_it(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/events", json={**ev("e1", "ticket.opened", 0), "colour": "red"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "colour"

    async def test_unknown_field_inside_the_ticket_is_422_naming_its_path(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/events", json=ev("e1", "ticket.opened", 0, ticket={"colour": "red"}))
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"][0]["field"] == "ticket.colour"

    async def test_missing_field_and_wrong_type_are_422_naming_the_field(self, client: httpx.AsyncClient) -> None:
        without_type = {k: v for k, v in ev("e1", "ticket.opened", 0).items() if k != "type"}
        missing = await client.post("/v1/events", json=without_type)
        assert (missing.status_code, missing.json()["errors"][0]["field"]) == (422, "type")
        numeric = await client.post("/v1/events", json={**ev("e1", "ticket.opened", 0), "event_id": 7})
        assert (numeric.status_code, numeric.json()["errors"][0]["field"]) == (422, "event_id")
        unknown_type = await client.post("/v1/events", json={**ev("e1", "ticket.opened", 0), "type": "node.exploded"})
        assert (unknown_type.status_code, unknown_type.json()["errors"][0]["field"]) == (422, "type")

    async def test_body_that_is_not_json_is_422_naming_the_body(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/events", content=b"{not json", headers={"content-type": "application/json"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body"

    async def test_utc_designator_and_fractional_seconds_are_accepted(self, client: httpx.AsyncClient) -> None:
        body = {**ev("e1", "ticket.opened", 0), "occurred_at": "2026-03-03T02:00:00.250Z"}
        assert (await client.post("/v1/events", json=body)).status_code == 201

    async def test_the_event_format_is_documented_for_both_ingest_routes(self, client: httpx.AsyncClient) -> None:
        document = (await client.get("/openapi.json")).json()
        schemas = document["components"]["schemas"]
        assert {"event_id", "type", "occurred_at", "source", "ticket"} == set(schemas["EventIn"]["required"])
        assert schemas["TicketRefIn"]["additionalProperties"] is False
        single = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        bulk = document["paths"]["/v1/events/bulk"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert single == {"$ref": "#/components/schemas/EventIn"} == bulk["items"]

    async def test_instant_without_offset_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/events", json={**ev("e1", "ticket.opened", 0), "occurred_at": "2026-03-03T10:00:00"}
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "occurred_at"

    async def test_node_event_without_node_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/events", json=ev("e1", "node.started", 0))
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "node"

    async def test_pause_without_reason_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/events", json=ev("e1", "node.paused", 0, "repair"))
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "reason"

    async def test_attributes_over_the_size_limit_are_422(self, client: httpx.AsyncClient, settings: Settings) -> None:
        big = {"notes": "x" * settings.max_attributes_bytes}
        response = await client.post("/v1/events", json=ev("e1", "ticket.opened", 0, ticket={"attributes": big}))
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "ticket.attributes"

    async def test_start_after_a_startless_completion_is_accepted_as_the_next_cycle(
        self, client: httpx.AsyncClient
    ) -> None:
        await client.post("/v1/events", json=ev("c", "node.completed", 1, "repair"))
        response = await client.post("/v1/events", json=ev("s", "node.started", 2, "repair"))
        assert response.status_code == 201, response.text
        runs = (await ticket(client))["node_runs"]
        assert [(r["cycle"], r["status"], r["started_at"]) for r in runs] == [
            (1, "completed", None),
            (2, "in_progress", "2026-03-03T04:00:00Z"),
        ]

    async def test_pause_while_a_pause_is_open_ends_that_pause(self, client: httpx.AsyncClient) -> None:
        await client.post("/v1/events", json=ev("s", "node.started", 0, "repair"))
        await client.post("/v1/events", json=ev("p1", "node.paused", 1, "repair", reason="awaiting-customer"))
        response = await client.post("/v1/events", json=ev("p2", "node.paused", 2, "repair", reason="parts"))
        assert response.status_code == 201, response.text
        [run] = (await ticket(client))["node_runs"]
        assert [(p["reason"], p["end"]) for p in run["pauses"]] == [
            ("awaiting-customer", "2026-03-03T04:00:00Z"),
            ("parts", None),
        ]

    async def test_ticket_keeps_its_process(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        await apply_commitment_events(session, [process_upserted("new-connection", ["survey"])])
        await client.post("/v1/events", json=ev("e1", "ticket.opened", 0))
        response = await client.post("/v1/events", json=ev("e2", "node.started", 1, "survey", process="new-connection"))
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "ticket.process"

    async def test_foreign_source_is_403(self, client: httpx.AsyncClient, settings: Settings) -> None:
        response = await client.post(
            "/v1/events", json=ev("e1", "ticket.opened", 0, source="billing"), headers=caller_headers(settings, {"crm"})
        )
        assert response.status_code == 403
        assert response.json()["errors"][0]["field"] == "source"

    async def test_own_source_is_accepted_for_a_bound_caller(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        response = await client.post(
            "/v1/events", json=ev("e1", "ticket.opened", 0), headers=caller_headers(settings, {"crm"})
        )
        assert response.status_code == 201


class TestFeed:
    async def test_ticket_and_node_run_payloads_have_exactly_the_contract_shape(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await client.post(
            "/v1/events",
            json=ev("o", "ticket.opened", 0, ticket={"segment": "vip", "customer": "C-9", "attributes": {"a": 1}}),
        )
        await client.post("/v1/events", json=ev("s", "node.started", 0.5, "repair", department="east"))
        await client.post("/v1/events", json=ev("p", "node.paused", 1, "repair", reason="awaiting-customer"))
        *_, ticket_event = await feed(session, "ticket.upserted")  # the last: with the pause of its run
        assert set(ticket_event["payload"]) == {
            "id",
            "source",
            "external_id",
            "process_key",
            "customer_ref",
            "segment",
            "status",
            "opened_at",
            "closed_at",
            "cancelled_at",
            "attributes",
            "pauses",
        }
        assert ticket_event["payload"]["pauses"] == [
            {"node_key": "repair", "cycle": 1, "start": "2026-03-03T03:00:00+00:00", "end": None,
             "reason": "awaiting-customer"}
        ]  # fmt: skip
        assert ticket_event["payload"]["opened_at"] == "2026-03-03T02:00:00+00:00"
        assert ticket_event["payload"]["attributes"] == {"a": 1}
        runs = await feed(session, "node_run.upserted")
        assert len(runs) == 2
        last = runs[-1]["payload"]
        assert set(last) == {
            "id",
            "ticket_id",
            "source",
            "external_id",
            "process_key",
            "node_key",
            "segment",
            "customer_ref",
            "cycle",
            "department",
            "position",
            "status",
            "started_at",
            "completed_at",
            "cancelled_at",
            "pauses",
            "ended_by_ticket",
        }
        assert runs[-1]["key"] == last["id"]
        assert (last["segment"], last["customer_ref"], last["department"], last["position"]) == (
            "vip",
            "C-9",
            "east",
            "agent",
        )
        assert last["pauses"] == [{"start": "2026-03-03T03:00:00+00:00", "end": None, "reason": "awaiting-customer"}]
        assert last["status"] == "in_progress"

    async def test_a_late_event_updates_the_run_and_re_emits_it_in_full(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await client.post("/v1/events", json=ev("c", "node.completed", 3, "repair"))
        await client.post("/v1/events", json=ev("s", "node.started", 1, "repair"))
        runs = [e["payload"] for e in await feed(session, "node_run.upserted")]
        assert [(r["status"], r["started_at"]) for r in runs] == [
            ("completed", None),
            ("completed", "2026-03-03T03:00:00+00:00"),
        ]
        assert runs[0]["id"] == runs[1]["id"]

    async def test_a_new_segment_re_emits_every_run_of_the_ticket(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await client.post("/v1/events", json=ev("s1", "node.started", 0, "accept"))
        await client.post("/v1/events", json=ev("s2", "node.started", 1, "dispatch"))
        await client.post("/v1/events", json=ev("o", "ticket.opened", 0.5, ticket={"segment": "vip"}))
        runs = [e["payload"] for e in await feed(session, "node_run.upserted")]
        assert sorted((r["node_key"], r["segment"]) for r in runs[-2:]) == [("accept", "vip"), ("dispatch", "vip")]

    async def test_a_new_run_and_its_later_update_put_the_same_fields_on_the_feed(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        # the first event of a node writes a new run (payload built by the service); the next one updates
        # the stored run (payload built from the row): a consumer cannot tell the two apart
        await client.post("/v1/events", json=ev("s", "node.started", 0, "repair", department="east"))
        await client.post("/v1/events", json=ev("c", "node.completed", 2, "repair"))
        created, completed = [e["payload"] for e in await feed(session, "node_run.upserted")]
        [(run_id,)] = (await session.execute(text("SELECT id FROM node_runs"))).all()
        assert created["id"] == completed["id"] == str(run_id)
        assert UUID(created["id"]).version == 7
        assert {k: v for k, v in created.items() if k not in ("status", "completed_at")} == {
            k: v for k, v in completed.items() if k not in ("status", "completed_at")
        }
        assert (created["started_at"], created["cycle"], created["pauses"]) == ("2026-03-03T02:00:00+00:00", 1, [])
        assert (created["status"], completed["status"]) == ("in_progress", "completed")
        assert (created["completed_at"], completed["completed_at"]) == (None, "2026-03-03T04:00:00+00:00")

    async def test_a_new_segment_with_a_new_run_in_the_same_request_emits_each_run_once(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await client.post("/v1/events", json=ev("s1", "node.started", 0, "accept"))
        before = len(await feed(session, "node_run.upserted"))
        response = await client.post(
            "/v1/events/bulk",
            json=[ev("o", "ticket.opened", 0.5, ticket={"segment": "vip"}), ev("s2", "node.started", 1, "dispatch")],
        )
        assert response.json()["accepted"] == 2
        runs = [e["payload"] for e in await feed(session, "node_run.upserted")][before:]
        assert sorted((r["node_key"], r["segment"]) for r in runs) == [("accept", "vip"), ("dispatch", "vip")]

    async def test_a_duplicate_puts_nothing_on_the_feed(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        await client.post("/v1/events", json=ev("s", "node.started", 0, "accept"))
        before = len(await feed(session))
        await client.post("/v1/events", json=ev("s", "node.started", 0, "accept"))
        assert len(await feed(session)) == before


RUN = [
    ev("s", "node.started", 0, "repair"),
    ev("p", "node.paused", 1, "repair", reason="awaiting-customer"),
    ev("r", "node.resumed", 2, "repair"),
    ev("c", "node.completed", 3, "repair"),
]


class TestOutOfOrder:
    async def test_every_arrival_order_of_a_run_gives_the_same_node_run(self, client: httpx.AsyncClient) -> None:
        states = set()
        for n, order in enumerate(permutations(RUN)):
            external_id = f"WO-{n}"
            for body in order:
                response = await client.post(
                    "/v1/events",
                    json={
                        **body,
                        "event_id": f"{body['event_id']}-{n}",
                        "ticket": {"external_id": external_id, "process": PROCESS},
                    },
                )
                assert response.status_code == 201, (order, response.text)
            [run] = (await ticket(client, f"crm:{external_id}"))["node_runs"]
            states.add((run["status"], run["started_at"], run["completed_at"], str(run["pauses"]), run["cycle"]))
        assert states == {
            (
                "completed",
                "2026-03-03T02:00:00Z",
                "2026-03-03T05:00:00Z",
                str([{"start": "2026-03-03T03:00:00Z", "end": "2026-03-03T04:00:00Z", "reason": "awaiting-customer"}]),
                1,
            )
        }

    async def test_reopened_ticket_starts_cycle_two_and_keeps_cycle_one(self, client: httpx.AsyncClient) -> None:
        for body in [
            ev("o", "ticket.opened", 0),
            ev("s1", "node.started", 0, "repair"),
            ev("c1", "node.completed", 1, "repair"),
            ev("x", "ticket.closed", 2),
            ev("s2", "node.started", 4, "repair"),
            ev("re", "ticket.reopened", 3),
        ]:
            assert (await client.post("/v1/events", json=body)).status_code == 201
        detail = await ticket(client)
        assert detail["status"] == "open"
        assert detail["closed_at"] is None
        assert [(r["cycle"], r["status"]) for r in detail["node_runs"]] == [(1, "completed"), (2, "in_progress")]
