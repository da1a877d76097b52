"""Through the API: a ticket's end ends its runs (DESIGN A1, A2), a ticket carries its runs' pauses, and
events of tickets with reopens and repeated nodes converge whatever their arrival order (issue 16 item 5)."""

import random
from typing import Any

import httpx
import pytest
from conftest import ev, feed

pytestmark = pytest.mark.usefixtures("catalogue")


async def detail(client: httpx.AsyncClient, external_id: str = "WO-1") -> dict[str, Any]:
    response = await client.get(f"/v1/tickets/crm:{external_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def post_all(client: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> None:
    for body in bodies:
        response = await client.post("/v1/events", json=body)
        assert response.status_code == 201, response.text


class TestTicketEndEndsItsRuns:
    async def test_a1_close_completes_the_open_run_at_that_instant_ended_by_ticket(
        self, client: httpx.AsyncClient, session: Any
    ) -> None:
        # opened 10:00, `repair` started 15:00, closed 16:00 without node.completed (hours after 10:00)
        await post_all(
            client, [ev("o", "ticket.opened", 0), ev("s", "node.started", 5, "repair"), ev("c", "ticket.closed", 6)]
        )
        [run] = (await detail(client))["node_runs"]
        assert (run["status"], run["completed_at"], run["ended_by_ticket"]) == (
            "completed",
            "2026-03-03T08:00:00Z",
            True,
        )
        *_, last = [e["payload"] for e in await feed(session, "node_run.upserted")]
        assert (last["status"], last["completed_at"], last["ended_by_ticket"]) == (
            "completed",
            "2026-03-03T08:00:00+00:00",
            True,
        )

    async def test_a2_cancel_cancels_the_open_run_at_that_instant(self, client: httpx.AsyncClient) -> None:
        await post_all(
            client,
            [ev("o", "ticket.opened", 0), ev("s", "node.started", 5, "repair"), ev("x", "ticket.cancelled", 6)],
        )
        [run] = (await detail(client))["node_runs"]
        assert (run["status"], run["cancelled_at"], run["ended_by_ticket"]) == (
            "cancelled",
            "2026-03-03T08:00:00Z",
            True,
        )

    async def test_the_close_arriving_before_the_start_ends_the_run_all_the_same(
        self, client: httpx.AsyncClient
    ) -> None:
        await post_all(
            client, [ev("c", "ticket.closed", 6), ev("s", "node.started", 5, "repair"), ev("o", "ticket.opened", 0)]
        )
        [run] = (await detail(client))["node_runs"]
        assert (run["status"], run["completed_at"], run["ended_by_ticket"]) == (
            "completed",
            "2026-03-03T08:00:00Z",
            True,
        )

    async def test_a_reopen_starts_a_new_cycle_that_the_next_close_ends(self, client: httpx.AsyncClient) -> None:
        await post_all(
            client,
            [
                ev("o", "ticket.opened", 0),
                ev("s1", "node.started", 1, "repair"),
                ev("c1", "ticket.closed", 2),
                ev("r", "ticket.reopened", 3),
                ev("s2", "node.started", 4, "repair"),
                ev("c2", "ticket.closed", 5),
            ],
        )
        runs = (await detail(client))["node_runs"]
        assert [(r["cycle"], r["started_at"], r["completed_at"], r["ended_by_ticket"]) for r in runs] == [
            (1, "2026-03-03T03:00:00Z", "2026-03-03T04:00:00Z", True),
            (2, "2026-03-03T06:00:00Z", "2026-03-03T07:00:00Z", True),
        ]

    async def test_a_node_completed_by_its_own_event_is_not_marked(self, client: httpx.AsyncClient) -> None:
        await post_all(
            client,
            [
                ev("o", "ticket.opened", 0),
                ev("s", "node.started", 1, "repair"),
                ev("n", "node.completed", 2, "repair"),
                ev("c", "ticket.closed", 3),
            ],
        )
        [run] = (await detail(client))["node_runs"]
        assert (run["completed_at"], run["ended_by_ticket"]) == ("2026-03-03T04:00:00Z", False)


class TestTicketPauses:
    async def test_the_ticket_on_the_feed_carries_the_pauses_of_all_its_node_runs(
        self, client: httpx.AsyncClient, session: Any
    ) -> None:
        # DESIGN A3's facts: dispatch paused 11:00-14:00, repair paused 13:00-15:00 (hours after 09:00 here)
        await post_all(
            client,
            [
                ev("o", "ticket.opened", 0),
                ev("ds", "node.started", 1, "dispatch"),
                ev("dp", "node.paused", 2, "dispatch", reason="awaiting-customer"),
                ev("rs", "node.started", 3, "repair"),
                ev("rp", "node.paused", 4, "repair", reason="internal-delay"),
                ev("dr", "node.resumed", 5, "dispatch"),
                ev("rr", "node.resumed", 6, "repair"),
                ev("c", "ticket.closed", 8),
            ],
        )
        *_, last = [e["payload"] for e in await feed(session, "ticket.upserted")]
        assert last["status"] == "closed"
        assert [(p["node_key"], p["cycle"], p["start"], p["end"], p["reason"]) for p in last["pauses"]] == [
            ("dispatch", 1, "2026-03-03T04:00:00+00:00", "2026-03-03T07:00:00+00:00", "awaiting-customer"),
            ("repair", 1, "2026-03-03T06:00:00+00:00", "2026-03-03T08:00:00+00:00", "internal-delay"),
        ]

    async def test_a_pause_of_one_node_keeps_the_pauses_of_the_others(
        self, client: httpx.AsyncClient, session: Any
    ) -> None:
        await post_all(
            client,
            [
                ev("ds", "node.started", 1, "dispatch"),
                ev("dp", "node.paused", 2, "dispatch", reason="a"),
                ev("rs", "node.started", 3, "repair"),
            ],
        )
        await post_all(client, [ev("rp", "node.paused", 4, "repair", reason="b")])
        *_, last = [e["payload"] for e in await feed(session, "ticket.upserted")]
        assert [(p["node_key"], p["reason"]) for p in last["pauses"]] == [("dispatch", "a"), ("repair", "b")]


def history(external_id: str) -> list[dict[str, Any]]:
    """A ticket reopened twice, with nodes that run again within an episode and after each reopen."""
    steps: list[tuple[str, float, str | None, dict[str, Any]]] = [
        ("ticket.opened", 0, None, {}),
        ("node.started", 1, "accept", {}),
        ("node.completed", 2, "accept", {}),
        ("node.started", 3, "repair", {}),
        ("node.paused", 4, "repair", {"reason": "awaiting-customer"}),
        ("node.resumed", 5, "repair", {}),
        ("node.completed", 6, "repair", {}),
        ("node.started", 7, "repair", {}),  # the node runs again
        ("node.paused", 8, "repair", {"reason": "parts"}),
        ("ticket.closed", 9, None, {}),  # repair still open (and paused): ended by the close
        ("ticket.reopened", 10, None, {}),
        ("node.started", 11, "repair", {}),
        ("node.cancelled", 12, "repair", {}),
        ("node.started", 13, "repair", {}),
        ("node.completed", 14, "repair", {}),
        ("node.started", 15, "verify", {}),
        ("ticket.cancelled", 16, None, {}),
        ("ticket.reopened", 17, None, {}),
        ("node.started", 18, "accept", {}),
        ("node.paused", 19, "accept", {"reason": "awaiting-customer"}),
        ("node.resumed", 20, "accept", {}),
        ("node.completed", 21, "accept", {}),
        ("ticket.closed", 22, None, {}),
    ]
    return [
        ev(f"{external_id}-{i:02d}", type_, hours, node, external_id=external_id, **extra)
        for i, (type_, hours, node, extra) in enumerate(steps)
    ]


def shape(ticket: dict[str, Any]) -> tuple[Any, ...]:
    runs = [{k: v for k, v in r.items() if k != "id"} for r in ticket["node_runs"]]
    return ticket["status"], ticket["opened_at"], ticket["closed_at"], ticket["cancelled_at"], runs


class TestShuffledEventsConverge:
    async def test_any_arrival_order_over_single_and_bulk_routes_gives_the_runs_of_the_instant_order(
        self, client: httpx.AsyncClient
    ) -> None:
        await post_all(client, history("IN-ORDER"))
        expected = shape(await detail(client, "IN-ORDER"))
        assert len(expected[4]) == 7  # accept: 2 runs, repair: 4, verify: 1
        shuffler = random.Random(17)
        for n in range(12):
            external_id = f"SHUFFLED-{n}"
            events = history(external_id)
            shuffler.shuffle(events)
            cut = shuffler.randrange(len(events))
            for body in events[:cut]:  # some one by one, the rest in bulk requests of a few events
                response = await client.post("/v1/events", json=body)
                assert response.status_code == 201, response.text
            rest = events[cut:]
            while rest:
                size = shuffler.randint(1, 5)
                response = await client.post("/v1/events/bulk", json=rest[:size])
                assert response.status_code in (200, 201, 207), response.text
                assert all(item["status"] == "accepted" for item in response.json()["items"]), response.text
                rest = rest[size:]
            assert shape(await detail(client, external_id)) == expected, external_id
