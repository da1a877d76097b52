"""Complaints end to end: filed at feedback-svc, tracked as a ticket, judged and alerted by evaluation-svc.

Real processes over real HTTP through the gateway. The demo organisation defines process
`complaint-handling` with, for segment `simple`, acknowledge within PT15M (tolerance PT30M) on 24x7.
A complaint received 20 minutes ago has therefore passed its acknowledge commitment the moment it is
filed: evaluation-svc's scanner must raise the `acceptable` alert for its acknowledge run.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pledge_dev.demo_org import load_demo_org
from support import eventually, ok


async def test_a_complaint_past_its_acknowledge_limit_is_alerted_by_evaluation(gateway: httpx.AsyncClient) -> None:
    await load_demo_org(gateway)
    received_at = datetime.now(UTC) - timedelta(minutes=20)
    complaint = ok(
        await gateway.post(
            "/v1/complaints",
            json={
                "channel": "phone",
                "customer": "E2E-C-1",
                "category": "outage-information",
                "severity": "simple",
                "description": "nobody told me the power would be off all afternoon",
                "received_by": {"department": "customer-service", "person": "agent-7"},
                "received_at": received_at.isoformat(),
            },
        ),
        201,
    )
    assert complaint["owner"] == {"department": "customer-service", "person": "agent-7"}

    last: dict[str, Any] = {}

    async def delivered() -> Any:
        last.update(ok(await gateway.get(f"/v1/complaints/{complaint['id']}"))["tracking"])
        return dict(last) if last["pending_events"] == 0 and last["ticket_id"] else None

    tracking = await eventually(delivered, "the complaint's ticket events to reach tracking-svc", lambda: last)
    ticket = ok(await gateway.get(f"/v1/tickets/{tracking['ticket_id']}"))
    assert (ticket["process"], ticket["segment"], ticket["source"]) == (
        "complaint-handling",
        "simple",
        "feedback-svc",
    )
    assert ticket["external_id"] == complaint["id"]
    assert [(r["node"], r["status"]) for r in ticket["node_runs"]] == [("acknowledge", "in_progress")]

    async def alerted() -> Any:
        page = ok(await gateway.get("/v1/alerts", params={"process": "complaint-handling", "limit": 500}))
        levels = {a["level"] for a in page["items"] if a["ticket_id"] == tracking["ticket_id"]}
        return levels if "acceptable" in levels else None

    levels = await eventually(alerted, "evaluation-svc's alert on the acknowledge commitment")
    assert "warning" not in levels  # 20 minutes is within the PT30M tolerance

    # the rest of the workflow drives the ticket: acknowledge, resolve, close
    cid = complaint["id"]
    for body in (
        {"to": "acknowledged", "reason": "called the customer back"},
        {
            "to": "resolved",
            "resolution": "explained the planned outage; SMS notice added",
            "root_cause": "notification",
        },
        {"to": "closed", "customer_confirmed": True},
    ):
        ok(await gateway.post(f"/v1/complaints/{cid}/transitions", json=body))

    async def closed_ticket() -> Any:
        current = ok(await gateway.get(f"/v1/tickets/{tracking['ticket_id']}"))
        return current if current["status"] == "closed" else None

    final = await eventually(closed_ticket, "the complaint ticket to be closed in tracking-svc")
    assert [(r["node"], r["status"]) for r in final["node_runs"]] == [
        ("acknowledge", "completed"),
        ("resolve", "completed"),
    ]


async def test_feedback_and_a_servqual_response_through_the_gateway(gateway: httpx.AsyncClient) -> None:
    await load_demo_org(gateway)
    complaint = ok(
        await gateway.post(
            "/v1/complaints",
            json={
                "channel": "web",
                "customer": "E2E-C-2",
                "category": "billing",
                "severity": "general",
                "description": "bill estimated instead of read",
                "received_by": {"department": "customer-service"},
            },
        ),
        201,
    )

    async def ticket_id() -> Any:
        return ok(await gateway.get(f"/v1/complaints/{complaint['id']}"))["tracking"]["ticket_id"]

    tid = await eventually(ticket_id, "the complaint ticket in tracking-svc")
    feedback = ok(
        await gateway.post("/v1/feedback", json={"ticket_id": tid, "csat": 4, "nps": 9, "channel": "sms"}), 201
    )
    assert (feedback["process"], feedback["segment"]) == ("complaint-handling", "general")
    again = await gateway.post("/v1/feedback", json={"ticket_id": tid, "csat": 1, "channel": "sms"})
    assert again.status_code == 409
    unknown = await gateway.post("/v1/feedback", json={"ticket_id": "no-such-ticket", "csat": 3, "channel": "sms"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "ticket_id"

    instrument = ok(await gateway.get("/v1/surveys/servqual-22"))
    answers = [{"item": i["key"], "expectation": 6, "perception": 5} for i in instrument["items"]]
    ok(
        await gateway.post("/v1/surveys/servqual-22/responses", json={"answers": answers, "segment": "residential"}),
        201,
    )
    results = ok(await gateway.get("/v1/surveys/servqual-22/results", params={"segment": "residential"}))
    assert results["groups"][0]["servqual"] == -1.0


async def test_a_partner_bound_to_sources_lists_only_complaints_about_its_tickets(gateway: httpx.AsyncClient) -> None:
    await load_demo_org(gateway)
    body = {
        "channel": "phone",
        "category": "billing",
        "severity": "general",
        "description": "charged twice",
        "received_by": {"department": "customer-service"},
    }
    first = ok(await gateway.post("/v1/complaints", json={**body, "customer": "E2E-S-1"}), 201)

    async def ticket_id() -> Any:
        return ok(await gateway.get(f"/v1/complaints/{first['id']}"))["tracking"]["ticket_id"]

    # the complaint-handling ticket of the first complaint comes from source `feedback-svc`
    tid = await eventually(ticket_id, "the complaint ticket in tracking-svc")
    about = ok(await gateway.post("/v1/complaints", json={**body, "customer": "E2E-S-2", "ticket_id": tid}), 201)
    assert (first["source"], about["source"]) == (None, "feedback-svc")

    async def key_for(sources: list[str]) -> str:
        created = ok(
            await gateway.post(
                "/v1/api-keys", json={"name": "e2e complaints", "scopes": ["complaints:read"], "sources": sources}
            ),
            201,
        )
        return str(created["key"])

    bound = {"Authorization": f"Bearer {await key_for(['feedback-svc'])}"}
    listed = ok(await gateway.get("/v1/complaints", params={"limit": 500}, headers=bound))["items"]
    assert {c["id"] for c in listed} >= {about["id"]}
    assert {c["source"] for c in listed} == {"feedback-svc"}
    assert (await gateway.get(f"/v1/complaints/{first['id']}", headers=bound)).status_code == 404

    other = {"Authorization": f"Bearer {await key_for(['another-crm'])}"}
    assert ok(await gateway.get("/v1/complaints", headers=other))["items"] == []


async def test_a_complaint_retried_through_the_gateway_is_one_complaint(gateway: httpx.AsyncClient) -> None:
    await load_demo_org(gateway)
    body = {
        "channel": "phone",
        "customer": "E2E-C-RETRY",
        "category": "billing",
        "severity": "general",
        "description": "charged twice",
        "received_by": {"department": "customer-service", "person": "agent-7"},
    }
    headers = {"Idempotency-Key": "e2e-complaint-retry"}
    first = await gateway.post("/v1/complaints", json=body, headers=headers)
    again = await gateway.post("/v1/complaints", json=body, headers=headers)
    assert first.status_code == again.status_code == 201, first.text
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    listed = ok(await gateway.get("/v1/complaints", params={"customer": "E2E-C-RETRY"}))
    assert [c["id"] for c in listed["items"]] == [first.json()["id"]]
    assert ok(await gateway.get(f"/v1/complaints/{first.json()['id']}"))["repeat_of"] is None
    ok(await gateway.post("/v1/complaints", json={**body, "customer": "E2E-C-OTHER"}), 201)
    paged = await gateway.get("/v1/complaints", params={"limit": 1})
    cursor = paged.json()["next_cursor"]
    assert paged.headers["link"] == f'</v1/complaints?limit=1&cursor={cursor}>; rel="next"'
