"""The customer's voice end to end, through the gateway: a complaint Pareto, a practice suggested for a
complaint with the same root cause, and a source system's complaint ticket counted as a complaint."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pledge_dev.demo_org import load_demo_org
from support import eventually, ok, post_event


def complaint(department: str, category: str, customer: str, at: datetime) -> dict[str, Any]:
    return {
        "channel": "phone",
        "customer": customer,
        "category": category,
        "severity": "general",
        "description": "电费账单重复扣款",
        "received_by": {"department": department},
        "received_at": at.isoformat(),
    }


async def test_pareto_and_a_practice_suggested_for_the_same_root_cause(gateway: httpx.AsyncClient) -> None:
    department = f"voice-{uuid.uuid4().hex[:8]}"
    at = datetime.now(UTC) - timedelta(hours=2)
    filed = []
    for i, category in enumerate(["billing", "billing", "billing", "outage", "meter"]):
        filed.append(ok(await gateway.post("/v1/complaints", json=complaint(department, category, f"V-{i}", at)), 201))

    pareto = ok(await gateway.get("/v1/complaints/pareto", params={"by": "category", "department": department}))
    assert [(r["key"], r["count"], r["vital"]) for r in pareto["rows"]] == [
        ("billing", 3, True),
        ("meter", 1, True),
        ("outage", 1, False),
    ]
    assert pareto["rows"][1]["cumulative_share"] == 0.8

    root_cause = f"double-charge-{uuid.uuid4().hex[:6]}"
    practice = ok(
        await gateway.post(
            "/v1/practices",
            json={
                "title": "账单重复扣款 出账前比对两次扣款流水",
                "body": "Billing compares the two latest debit runs before the bill is issued.",
                "tags": ["账单"],
                "root_causes": [root_cause],
            },
            headers={"Idempotency-Key": f"voice-{root_cause}"},
        ),
        201,
    )
    found = ok(await gateway.get("/v1/practices", params={"q": "重复扣款", "root_cause": root_cause}))
    assert [p["id"] for p in found["items"]] == [practice["id"]]

    first = filed[0]["id"]
    for step in (
        {"to": "acknowledged"},
        {"to": "resolved", "resolution": "refunded", "root_cause": root_cause},
    ):
        ok(await gateway.post(f"/v1/complaints/{first}/transitions", json=step))
    suggested = ok(await gateway.get(f"/v1/complaints/{first}"))["suggested_practices"]
    assert [p["id"] for p in suggested] == [practice["id"]]


async def test_a_source_systems_complaint_ticket_becomes_a_complaint(gateway: httpx.AsyncClient) -> None:
    await load_demo_org(gateway)
    external_id = f"CRM-{uuid.uuid4().hex[:10]}"
    customer = f"V-CRM-{uuid.uuid4().hex[:6]}"
    response = await post_event(
        gateway,
        {
            "event_id": f"crm:{external_id}:opened",
            "type": "ticket.opened",
            "occurred_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "source": "crm",
            "ticket": {
                "external_id": external_id,
                "process": "complaint-handling",
                "segment": "simple",
                "customer": customer,
                "attributes": {"category": "billing", "department": "county-a"},
            },
        },
    )
    assert response.status_code in (200, 201, 202), response.text

    async def linked() -> Any:
        page = ok(await gateway.get("/v1/complaints", params={"customer": customer}))
        return page["items"] or None

    [made] = await eventually(linked, "the complaint ticket to become a complaint")
    assert (made["source"], made["category"], made["owner"]["department"]) == ("crm", "billing", "county-a")


async def test_reply_reviews_give_the_reply_accuracy_of_a_department(gateway: httpx.AsyncClient) -> None:
    department = f"replies-{uuid.uuid4().hex[:8]}"
    at = datetime.now(UTC) - timedelta(hours=3)
    filed = ok(await gateway.post("/v1/complaints", json=complaint(department, "billing", "V-R-1", at)), 201)
    reviews = [
        {"reply": "R-1", "complaint": filed["id"], "accurate": True},
        {"reply": "R-2", "complaint": filed["id"], "accurate": False, "reason": "quoted the old tariff"},
        {"reply": "R-3", "inquiry": "INQ-3", "department": department, "category": "meter", "accurate": True},
    ]
    for r in reviews:
        body = {"source": "crm", "replied_at": (at + timedelta(hours=1)).isoformat(), "reviewer": "zhao", **r}
        body["reply"] = f"{department}-{r['reply']}"
        ok(await gateway.post("/v1/reply-reviews", json=body), 201)
    params = {"department": department, "group_by": "category"}
    accuracy = ok(await gateway.get("/v1/reply-reviews/metrics", params=params))
    assert (accuracy["totals"]["reviewed"], accuracy["totals"]["accuracy"]) == (3, 0.6667)
    assert [(g["category"], g["accuracy"]) for g in accuracy["groups"]] == [("billing", 0.5), ("meter", 1.0)]


async def test_a_customers_warning_runs_count_in_the_pain_point_index(gateway: httpx.AsyncClient) -> None:
    await load_demo_org(gateway)
    customer = f"V-PAIN-{uuid.uuid4().hex[:6]}"
    external_id = f"FR-{uuid.uuid4().hex[:10]}"
    opened = datetime.now(UTC) - timedelta(hours=2)  # dispatch: commitment 10 min, tolerance 20 min (24x7)
    ticket = {"external_id": external_id, "process": "fault-repair", "segment": "residential", "customer": customer}
    for event_id, kind, extra in (
        (f"{external_id}:opened", "ticket.opened", {}),
        (f"{external_id}:dispatch", "node.started", {"node": "dispatch"}),
    ):
        event = {"event_id": event_id, "type": kind, "occurred_at": opened.isoformat(), "source": "e2e"}
        await post_event(gateway, {**event, "ticket": ticket, **extra})
    # filed just now: its own handling ticket (acknowledge within 1 working hour) is not in warning
    just_now = datetime.now(UTC) - timedelta(minutes=1)
    ok(await gateway.post("/v1/complaints", json=complaint("voice-pain", "outage", customer, just_now)), 201)
    window = {
        "from": (opened - timedelta(hours=1)).isoformat(),
        "to": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(),
        "customer": customer,
    }

    async def counted() -> Any:
        page = ok(await gateway.get("/v1/customers/pain-points", params=window))
        return page if page["items"] and page["items"][0]["warning_runs"] else None

    page = await eventually(counted, "evaluation-svc to judge the dispatch run in warning")
    assert page["unavailable"] == {}
    [pain] = page["items"]
    # one complaint (2) and the dispatch run past its tolerance (1)
    assert (pain["customer"], pain["complaints"], pain["warning_runs"], pain["index"]) == (customer, 1, 1, 3)
