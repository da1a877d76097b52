"""Through the gateway, real processes: a ticket's end ends its runs (DESIGN A1, A2), and its end-to-end run
leaves out the union of its node runs' allowed pauses (A3), from tracking's feed to evaluation's reports."""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from support import ok, post_event


async def activate(gateway: httpx.AsyncClient, body: dict[str, Any]) -> None:
    created = ok(await gateway.post("/v1/commitments", json=body), 201)
    ok(await gateway.post(f"/v1/commitments/{created['id']}/transitions", json={"to": "negotiating"}))
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    ok(
        await gateway.post(
            f"/v1/commitments/{created['id']}/transitions", json={"to": "active", "effective_from": since}
        )
    )


async def define(gateway: httpx.AsyncClient, tag: str) -> None:
    """A process (dispatch, repair); repair: 8 h / 10 h; end to end: 4 h / 6 h; both allow awaiting-customer."""
    ok(await gateway.put(f"/v1/departments/{tag}-desk", json={"name": "Desk", "positions": []}), 200, 201)
    nodes = [
        {"key": n, "name": n.title(), "department": f"{tag}-desk", "position_key": None} for n in ("dispatch", "repair")
    ]
    process = {"name": "Repair", "description": "", "owner_department": f"{tag}-desk", "nodes": nodes}
    ok(await gateway.put(f"/v1/processes/{tag}", json=process), 200, 201)
    common = {
        "process": tag,
        "segment": "default",
        "calendar": "24x7",
        "owner_department": f"{tag}-desk",
        "allowed_pause_reasons": ["awaiting-customer"],
    }
    await activate(
        gateway,
        {
            **common,
            "key": f"{tag}-repair",
            "node": "repair",
            "commitment_limit": "PT8H",
            "tolerance_limit": "PT10H",
        },
    )
    await activate(
        gateway,
        {
            **common,
            "key": f"{tag}-e2e",
            "node": None,
            "commitment_limit": "PT4H",
            "tolerance_limit": "PT6H",
        },
    )


async def test_a_ticket_s_end_ends_its_runs_and_its_end_to_end_run_counts_the_union_of_allowed_pauses(
    gateway: httpx.AsyncClient,
) -> None:
    tag = f"e2e-{uuid.uuid4().hex[:8]}"
    await define(gateway, tag)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=9)

    def event(n: int, external_id: str, type_: str, hours: float, node: str | None = None, **extra: Any) -> None:
        body = {
            "event_id": f"{tag}-{external_id}-{n}",
            "type": type_,
            "occurred_at": (base + timedelta(hours=hours)).isoformat(),
            "source": "e2e",
            "ticket": {"external_id": f"{tag}-{external_id}", "process": tag},
            **({"node": node} if node else {}),
            **extra,
        }
        sent.append(body)

    sent: list[dict[str, Any]] = []
    # A1 and A3: dispatch paused 2-5 h, repair paused 4-6 h (both allowed), repair never completed; closed at 8 h
    event(1, "closed", "ticket.opened", 0)
    event(2, "closed", "node.started", 1, "dispatch")
    event(3, "closed", "node.paused", 2, "dispatch", reason="awaiting-customer")
    event(4, "closed", "node.started", 3, "repair")
    event(5, "closed", "node.paused", 4, "repair", reason="awaiting-customer")
    event(6, "closed", "node.resumed", 5, "dispatch")
    event(7, "closed", "node.completed", 6, "dispatch")
    event(8, "closed", "node.resumed", 6, "repair")
    event(9, "closed", "ticket.closed", 8)
    # A2: repair started, the ticket cancelled
    event(1, "cancelled", "ticket.opened", 0)
    event(2, "cancelled", "node.started", 5, "repair")
    event(3, "cancelled", "ticket.cancelled", 6)
    for body in reversed(sent):  # in any order: the close first
        await post_event(gateway, body)

    detail = ok(await gateway.get(f"/v1/tickets/e2e:{tag}-closed"))
    repair = next(r for r in detail["node_runs"] if r["node"] == "repair")
    assert (repair["status"], repair["ended_by_ticket"]) == ("completed", True)
    assert repair["completed_at"] == detail["closed_at"]

    params: dict[str, str | int] = {"process": tag, "limit": 50}  # as of now: every run started by now

    async def runs() -> dict[str, Any]:
        page: dict[str, Any] = ok(await gateway.get("/v1/reports/status/runs", params=params))
        return page

    deadline = time.monotonic() + 60
    while True:
        page = await runs()
        by_key = {(r["external_id"], r["node"]): r for r in page["items"]}
        e2e = by_key.get((f"{tag}-closed", None))
        if e2e is not None and e2e["state"] == "completed_normal" and len(by_key) == 5:
            break
        assert time.monotonic() < deadline, page
        await asyncio.sleep(0.3)
    # 8 h open - (2-6 h: the union of both allowed pauses, 4 h) = 4 h: the commitment limit, normal
    assert (e2e["kind"], e2e["counted"]) == ("ticket", "PT4H")
    closed_repair = by_key[(f"{tag}-closed", "repair")]
    assert (closed_repair["state"], closed_repair["ended_by_ticket"], closed_repair["counted"]) == (
        "completed_normal",
        True,
        "PT3H",  # 3-8 h, less its own pause 4-6 h
    )
    cancelled_repair = by_key[(f"{tag}-cancelled", "repair")]
    assert (cancelled_repair["state"], cancelled_repair["ended_by_ticket"]) == ("cancelled", True)
    assert page["ended_by_ticket"] == 2
    await asyncio.sleep(1.0)  # several scans of the alert scanner: nothing to say about ended runs
    assert ok(await gateway.get("/v1/alerts", params={"process": tag}))["items"] == []
