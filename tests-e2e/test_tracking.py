"""A partner pushes a day of work orders through the gateway and reads back exactly the truth."""

import asyncio
import json
import uuid
from typing import Any

import httpx

NODES = ["accept", "dispatch", "repair"]


def event(
    process: str, wo: str, event_id: str, type_: str, at: str, node: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": event_id,
        "type": type_,
        "occurred_at": f"2026-03-03T{at}:00+08:00",
        "source": "crm",
        "ticket": {"external_id": wo, "process": process},
        **extra,
    }
    if node:
        body["node"] = node
    return body


async def define_process(gateway: httpx.AsyncClient) -> str:
    """Through commitment-svc; usable for events once tracking-svc has it from commitment's feed."""
    process = f"e2e-repair-{uuid.uuid4().hex[:8]}"
    created = await gateway.put(
        f"/v1/processes/{process}", json={"name": "E2E repair", "nodes": [{"key": n, "name": n.title()} for n in NODES]}
    )
    assert created.status_code == 201, created.text
    probe = event(process, f"probe-{process}", f"probe-{process}", "ticket.opened", "08:00")
    for _ in range(300):
        response = await gateway.post("/v1/events", json=probe)
        if response.status_code == 201:
            return process
        assert response.status_code == 422, response.text
        await asyncio.sleep(0.1)
    raise AssertionError("tracking-svc never learnt the process from commitment-svc's feed")


async def test_a_day_pushed_out_of_order_with_duplicates_and_bad_items_reads_back_truthfully(
    gateway: httpx.AsyncClient,
) -> None:
    process = await define_process(gateway)
    wo = f"WO-{uuid.uuid4().hex[:8]}"
    day = [
        event(process, wo, f"{wo}-c2", "node.completed", "12:00", "dispatch"),  # before its start
        event(process, wo, f"{wo}-o", "ticket.opened", "10:00"),
        event(process, wo, f"{wo}-r2", "node.resumed", "11:30", "dispatch"),  # before its pause
        event(process, wo, f"{wo}-s1", "node.started", "10:00", "accept"),
        event(process, wo, f"{wo}-bad", "node.started", "10:00", "teleport"),  # unknown node
        event(process, wo, f"{wo}-c1", "node.completed", "10:30", "accept"),
        event(process, wo, f"{wo}-s2", "node.started", "10:30", "dispatch"),
        event(process, wo, f"{wo}-p2", "node.paused", "11:00", "dispatch", reason="awaiting-customer"),
        event(process, wo, f"{wo}-o", "ticket.opened", "10:00"),  # duplicate
    ]
    ndjson = b"".join(json.dumps(e).encode() + b"\n" for e in day)
    response = await gateway.post("/v1/events/bulk", content=ndjson, headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (7, 1, 1)
    assert [(i["index"], i["status"]) for i in body["items"]] == [(4, "rejected"), (8, "duplicate")]

    replay = await gateway.post("/v1/events/bulk", content=ndjson, headers={"content-type": "application/x-ndjson"})
    assert (replay.json()["accepted"], replay.json()["duplicates"]) == (0, 8)

    ticket = (await gateway.get(f"/v1/tickets/crm:{wo}")).json()
    assert ticket["status"] == "open"
    assert ticket["opened_at"] == "2026-03-03T02:00:00Z"
    runs = {r["node"]: r for r in ticket["node_runs"]}
    assert set(runs) == {"accept", "dispatch"}
    assert (runs["accept"]["status"], runs["accept"]["completed_at"]) == ("completed", "2026-03-03T02:30:00Z")
    dispatch = runs["dispatch"]
    assert (dispatch["status"], dispatch["started_at"], dispatch["completed_at"]) == (
        "completed",
        "2026-03-03T02:30:00Z",
        "2026-03-03T04:00:00Z",
    )
    assert dispatch["pauses"] == [
        {"start": "2026-03-03T03:00:00Z", "end": "2026-03-03T03:30:00Z", "reason": "awaiting-customer"}
    ]
    assert len(ticket["events"]) == 7

    listed = (await gateway.get("/v1/tickets", params={"process": process, "status": "open"})).json()
    assert wo in [t["external_id"] for t in listed["items"]]


async def test_single_events_pushed_at_once_each_get_their_own_answer(gateway: httpx.AsyncClient) -> None:
    # what a partner's integration does in real time: one POST per event, many in flight; tracking-svc
    # writes the ones that arrive together in one transaction, and each request still gets its own answer
    process = await define_process(gateway)
    orders = [f"WO-{uuid.uuid4().hex[:8]}" for _ in range(8)]
    singles = []
    for wo in orders:
        singles += [
            event(process, wo, f"{wo}-c", "node.completed", "10:30", "accept"),  # before its start
            event(process, wo, f"{wo}-o", "ticket.opened", "10:00"),
            event(process, wo, f"{wo}-s", "node.started", "10:00", "accept"),
            event(process, wo, f"{wo}-o", "ticket.opened", "10:00"),  # the same event again
        ]
    singles.append(event(process, orders[0], f"{orders[0]}-bad", "node.started", "10:00", "teleport"))
    responses = await asyncio.gather(*(gateway.post("/v1/events", json=e) for e in singles))

    statuses = [r.status_code for r in responses]
    assert sorted(statuses) == [200] * len(orders) + [201] * (len(singles) - 1 - len(orders)) + [422]
    assert statuses[-1] == 422
    assert responses[-1].json()["errors"][0]["field"] == "node"
    for i, wo in enumerate(orders):
        first, again = responses[4 * i + 1], responses[4 * i + 3]
        answered = {(first.status_code, first.json()["status"]), (again.status_code, again.json()["status"])}
        assert answered == {(201, "accepted"), (200, "duplicate")}  # one of the two was first, the other its twin
        assert first.json()["event_id"] == again.json()["event_id"] == f"{wo}-o"
        assert first.json()["ticket_id"] == again.json()["ticket_id"]
        ticket = (await gateway.get(f"/v1/tickets/crm:{wo}")).json()
        assert ticket["id"] == first.json()["ticket_id"]
        [run] = ticket["node_runs"]
        assert (run["status"], run["started_at"], run["completed_at"]) == (
            "completed",
            "2026-03-03T02:00:00Z",
            "2026-03-03T02:30:00Z",
        )
        assert len(ticket["events"]) == 3
        assert len({e["request_id"] for e in ticket["events"]}) == 3  # each event keeps its own request
