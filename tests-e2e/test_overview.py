"""The ticket overview addressed as `source:external_id` shows what every service knows of the ticket."""

import asyncio
import uuid
from typing import Any

import httpx
from pledge_dev.demo_org import load_demo_org
from support import FEED_WAIT
from test_tracking import define_process, event


async def test_the_overview_by_source_and_external_id_has_judgments_feedback_and_complaints(
    gateway: httpx.AsyncClient,
) -> None:
    await load_demo_org(gateway)  # complaints are handled as tickets of its process `complaint-handling`
    process = await define_process(gateway)
    wo = f"WO-{uuid.uuid4().hex[:8]}"
    for e in (
        event(process, wo, f"{wo}-o", "ticket.opened", "10:00"),
        event(process, wo, f"{wo}-s", "node.started", "10:00", "accept"),
    ):
        response = await gateway.post("/v1/events", json=e)
        assert response.status_code == 201, response.text
    ref = f"crm:{wo}"
    ticket_id = (await gateway.get(f"/v1/tickets/{ref}")).json()["id"]
    feedback = await gateway.post("/v1/feedback", json={"channel": "sms", "ticket_id": ref, "csat": 4})
    assert feedback.status_code == 201, feedback.text
    complaint = await gateway.post(
        "/v1/complaints",
        json={
            "channel": "phone",
            "customer": f"E2E-{wo}",
            "category": "outage-information",
            "severity": "simple",
            "description": "the crew came late",
            "ticket_id": ref,
            "received_by": {"department": "customer-service", "person": "agent-7"},
        },
    )
    assert complaint.status_code == 201, complaint.text

    last: dict[str, Any] = {}
    deadline = asyncio.get_running_loop().time() + FEED_WAIT
    while True:  # evaluation reads the node run and the ticket (judged end to end) from tracking's feed
        response = await gateway.get(f"/v1/tickets/{ref}/overview")
        assert response.status_code == 200, response.text
        last = response.json()
        if {j["kind"] for j in last["judgments"] or ()} == {"node", "ticket"}:
            break
        assert asyncio.get_running_loop().time() < deadline, f"no judgments in the overview: {last}"
        await asyncio.sleep(0.25)
    assert last["notes"] == []
    assert last["ticket"]["id"] == ticket_id
    assert {j["ticket_id"] for j in last["judgments"]} == {ticket_id}
    assert [f["id"] for f in last["feedback"]] == [feedback.json()["id"]]
    assert [c["id"] for c in last["complaints"]] == [complaint.json()["id"]]
    by_id = (await gateway.get(f"/v1/tickets/{ticket_id}/overview")).json()
    assert {k: by_id[k] for k in ("judgments", "feedback", "complaints")} == {
        k: last[k] for k in ("judgments", "feedback", "complaints")
    }
