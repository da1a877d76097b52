"""Settlement end to end: work orders pushed to tracking-svc, judged by evaluation-svc, settled per billing
period with the satisfaction evaluation-svc reads from feedback-svc, all real processes through the gateway.

The demo organisation's `fr-arrive` commitment (fault repair, arrive on site) is PT45M, tolerance PT90M,
round the clock: a crew that arrives 3 hours after dispatch is beyond tolerance, charged 500 CNY by the
agreement made here, in the billing period in which its run ended.
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pledge_dev.demo_org import load_demo_org
from support import eventually, ok


def work_order(external_id: str, at: datetime, kind: str, node: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": f"{external_id}-{kind}-{node or 'ticket'}",
        "type": kind,
        "occurred_at": at.isoformat(),
        "source": "e2e-crm",
        "ticket": {"external_id": external_id, "process": "fault-repair", "segment": "residential"},
    }
    if node:
        body["node"] = node
    return body


async def accepted(gateway: httpx.AsyncClient, body: dict[str, Any]) -> None:
    """tracking-svc learns the demo's processes from commitment-svc's feed: the first event may wait for it."""

    async def sent() -> bool:
        response = await gateway.post("/v1/events", json=body)
        assert response.status_code in (200, 201, 422), response.text
        return response.status_code != 422

    await eventually(sent, "tracking-svc to accept the work order's events")


async def test_a_late_arrival_is_settled_in_its_month_with_its_work_order_and_the_month_satisfaction(
    gateway: httpx.AsyncClient,
) -> None:
    await load_demo_org(gateway)
    key = f"sla-e2e-{uuid.uuid4().hex[:8]}"
    created = ok(
        await gateway.post(
            "/v1/agreements",
            json={
                "key": key,
                "kind": "sla",
                "title": "E2E settlement",
                "provider": "operations-maintenance",
                "customer": "e2e-customer",
                "covers": [{"commitment_key": "fr-arrive", "target_rate": 0.5}],
                "penalties": [{"kind": "per_warning_run", "amount": 500, "currency": "CNY"}],
                "billing": {"period": "month", "timezone": "UTC", "currency": "CNY", "base_fee": 10000},
            },
        ),
        201,
    )
    for status in ("negotiating", "signed"):
        ok(await gateway.post(f"/v1/agreements/{created['id']}/transitions", json={"to": status}))

    now = datetime.now(UTC)
    dispatched, arrived = now - timedelta(hours=4), now - timedelta(hours=1)
    number = f"WO-{uuid.uuid4().hex[:8]}"
    for body in (
        work_order(number, dispatched, "ticket.opened"),
        work_order(number, dispatched, "node.started", "arrive"),
        work_order(number, arrived, "node.completed", "arrive"),
    ):
        await accepted(gateway, body)
    ok(
        await gateway.post(
            "/v1/feedback",
            json={"process": "fault-repair", "segment": "residential", "csat": 5, "channel": "sms",
                  "given_at": arrived.isoformat()},
        ),
        201,
    )  # fmt: skip

    label = f"{arrived.year}-{arrived.month:02d}"
    path = f"/v1/reports/agreements/{key}/settlements/{label}"

    async def charged() -> Any:
        response = await gateway.get(path)
        if response.status_code == 404:  # the agreement has not reached evaluation-svc's read model yet
            return None
        settlement = ok(response)
        return settlement if any(c["work_order"] == number for c in settlement["charges"]) else None

    settlement = await eventually(charged, "evaluation-svc to charge the late arrival")
    [charge] = [c for c in settlement["charges"] if c["work_order"] == number]
    assert (charge["kind"], charge["amount"]) == ("per_warning_run", "500.00")
    assert settlement["status"] == "preview"
    assert settlement["satisfaction_unavailable"] is None
    assert settlement["satisfaction"]["csat_responses"] >= 1
    assert settlement["satisfaction"]["processes"] == ["fault-repair"]

    reader = ok(await gateway.post("/v1/api-keys", json={"name": "e2e reader", "scopes": ["reports:read"]}), 201)
    as_reader = {"Authorization": f"Bearer {reader['key']}"}
    assert (await gateway.get(path, headers=as_reader)).status_code == 200
    refused = await gateway.post(path, headers=as_reader)
    assert (refused.status_code, refused.json()["required_scope"]) == (403, "alerts:manage")

    drafted = ok(await gateway.post(path))
    assert drafted["status"] == "draft"
    listed = ok(await gateway.get(f"/v1/reports/agreements/{key}/settlements"))
    assert [(s["period"], s["status"]) for s in listed["items"]] == [(label, "draft")]
