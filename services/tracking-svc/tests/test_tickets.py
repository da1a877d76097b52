"""GET /v1/tickets and GET /v1/tickets/{ref}: filters, cursor pagination, source isolation, detail."""

import base64
from typing import Any

import httpx
import pytest
from conftest import caller_headers, ev
from pledge_common.pagination import encode_cursor
from tracking_svc.config import Settings

pytestmark = pytest.mark.usefixtures("catalogue")


async def seed(client: httpx.AsyncClient) -> None:
    items = [
        ev("a1", "ticket.opened", 0, external_id="A", ticket={"segment": "vip", "customer": "C-1"}),
        ev("b1", "ticket.opened", 24, external_id="B", ticket={"segment": "residential", "customer": "C-2"}),
        ev("b2", "ticket.closed", 25, external_id="B"),
        ev("c1", "ticket.opened", 48, external_id="C", source="billing", ticket={"segment": "vip"}),
        ev("d1", "node.started", 49, "repair", external_id="D"),
    ]
    for item in items:  # one request each: tickets are listed newest (first seen) first
        assert (await client.post("/v1/events", json=item)).status_code == 201


async def ids(client: httpx.AsyncClient, headers: dict[str, str] | None = None, **params: Any) -> list[str]:
    response = await client.get("/v1/tickets", params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    return [t["external_id"] for t in response.json()["items"]]


class TestListTickets:
    async def test_newest_first(self, client: httpx.AsyncClient) -> None:
        await seed(client)
        assert await ids(client) == ["D", "C", "B", "A"]

    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({"status": "closed"}, ["B"]),
            ({"segment": "vip"}, ["C", "A"]),
            ({"source": "billing"}, ["C"]),
            ({"customer": "C-2"}, ["B"]),
            ({"process": "fault-repair", "status": "open"}, ["D", "C", "A"]),
            ({"process": "other"}, []),
            ({"from": "2026-03-04T00:00:00+00:00", "to": "2026-03-05T02:00:00+00:00"}, ["B"]),
            ({"from": "2026-03-04T02:00:00+00:00"}, ["C", "B"]),
        ],
    )
    async def test_filters(self, client: httpx.AsyncClient, params: dict[str, str], expected: list[str]) -> None:
        await seed(client)
        assert await ids(client, **params) == expected

    async def test_cursor_pages_through_everything_once(self, client: httpx.AsyncClient) -> None:
        await seed(client)
        seen: list[str] = []
        params: dict[str, Any] = {"limit": 3}
        while True:
            page = (await client.get("/v1/tickets", params=params)).json()
            seen += [t["external_id"] for t in page["items"]]
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
        assert seen == ["D", "C", "B", "A"]

    @pytest.mark.parametrize(
        "cursor",
        [
            "garbage!",
            "abc",
            "a\x00b",
            encode_cursor("\x00"),
            base64.urlsafe_b64encode(b"t:5").decode(),  # the old local format
            encode_cursor("five"),  # a cursor, but not of a seq
            encode_cursor(2**70),  # beyond bigint
            encode_cursor(1, 2),  # too many values
        ],
    )
    async def test_bad_cursor_is_422_problem_naming_the_field(self, client: httpx.AsyncClient, cursor: str) -> None:
        await seed(client)
        response = await client.get("/v1/tickets", params={"cursor": cursor})
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"][0]["field"] == "query.cursor"

    async def test_empty_opened_range_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            "/v1/tickets", params={"from": "2026-03-04T00:00:00Z", "to": "2026-03-03T00:00:00Z"}
        )
        assert response.status_code == 422

    async def test_a_bound_caller_sees_only_its_sources(self, client: httpx.AsyncClient, settings: Settings) -> None:
        await seed(client)
        assert await ids(client, caller_headers(settings, {"billing"})) == ["C"]
        assert await ids(client, caller_headers(settings, {"billing"}), source="crm") == []


class TestCountTickets:
    @pytest.mark.parametrize(
        ("params", "expected"),
        [
            ({}, 4),
            ({"status": "closed"}, 1),
            ({"segment": "vip"}, 2),
            ({"process": "fault-repair", "status": "open"}, 3),
            ({"process": "other"}, 0),
            ({"from": "2026-03-04T02:00:00+00:00"}, 2),
        ],
    )
    async def test_count_matches_the_list_with_the_same_filters(
        self, client: httpx.AsyncClient, params: dict[str, str], expected: int
    ) -> None:
        await seed(client)
        response = await client.get("/v1/tickets/count", params=params)
        assert response.status_code == 200, response.text
        assert response.json() == {"count": expected}
        assert len(await ids(client, **params)) == expected

    async def test_count_sees_only_the_callers_sources(self, client: httpx.AsyncClient, settings: Settings) -> None:
        await seed(client)
        response = await client.get("/v1/tickets/count", headers=caller_headers(settings, {"billing"}))
        assert response.json() == {"count": 1}

    async def test_count_refuses_an_empty_opened_range(self, client: httpx.AsyncClient) -> None:
        params = {"from": "2026-03-04T00:00:00+00:00", "to": "2026-03-03T00:00:00+00:00"}
        response = await client.get("/v1/tickets/count", params=params)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "query.to"


class TestGetTicket:
    async def test_by_id_and_by_source_and_external_id_with_runs_pauses_and_events(
        self, client: httpx.AsyncClient
    ) -> None:
        await client.post(
            "/v1/events/bulk",
            json=[
                ev("o", "ticket.opened", 0, external_id="WO/7", ticket={"attributes": {"address": "1 Main St"}}),
                ev("s", "node.started", 0, "repair", external_id="WO/7", position="senior"),
                ev("p", "node.paused", 1, "repair", external_id="WO/7", reason="parts"),
                ev("r", "node.resumed", 2, "repair", external_id="WO/7"),
                ev("s0", "node.started", 0, "accept", external_id="WO/7"),
            ],
        )
        by_ref = (await client.get("/v1/tickets/crm:WO%2F7")).json()
        by_id = (await client.get(f"/v1/tickets/{by_ref['id']}")).json()
        assert by_ref == by_id
        assert by_ref["attributes"] == {"address": "1 Main St"}
        assert [r["node"] for r in by_ref["node_runs"]] == ["accept", "repair"]  # the process's node order
        repair = by_ref["node_runs"][1]
        assert (repair["position"], repair["department"]) == ("senior", "dept-repair")
        assert repair["pauses"] == [{"start": "2026-03-03T03:00:00Z", "end": "2026-03-03T04:00:00Z", "reason": "parts"}]
        assert [e["event_id"] for e in by_ref["events"]] == ["o", "s", "s0", "p", "r"]
        assert by_ref["events"][2]["body"]["node"] == "accept"
        assert by_ref["events"][0]["received_at"]

    async def test_ticket_of_another_source_is_404_for_a_bound_caller(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        await seed(client)
        response = await client.get("/v1/tickets/crm:A", headers=caller_headers(settings, {"billing"}))
        assert response.status_code == 404
        ticket_id = (await client.get("/v1/tickets/crm:A")).json()["id"]
        response = await client.get(f"/v1/tickets/{ticket_id}", headers=caller_headers(settings, {"billing"}))
        assert response.status_code == 404

    async def test_unknown_ticket_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/tickets/crm:nope")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    async def test_malformed_ref_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/tickets/not-a-uuid")
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "path.ref"
