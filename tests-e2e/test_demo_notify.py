"""The demo's notifications (pledge_dev.demo_notify): loaded twice they change nothing, and a prewarning of a demo
work order of operations & maintenance reaches the department head's inbox (a real SMTP server on loopback)."""

import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
from pledge_dev.demo_notify import CONTACTS, RULE_NAME, SUBSCRIPTION_NAME, load_demo_notify
from pledge_dev.demo_org import OM, load_demo_org
from support import MailSink, eventually, ok, post_event

HEAD = CONTACTS[0]["email"]


async def _state(gateway: httpx.AsyncClient) -> dict[str, Any]:
    """Everything the demo set up, as the API answers it (timestamps included)."""
    contacts = ok(await gateway.get("/v1/contacts", params={"limit": 100}))["items"]
    rules = ok(await gateway.get("/v1/notification-rules", params={"limit": 100}))["items"]
    subscriptions = ok(await gateway.get("/v1/report-subscriptions", params={"department": OM}))["items"]
    return {
        "contacts": [c for c in contacts if c["email"] in {x["email"] for x in CONTACTS}],
        "rules": [r for r in rules if r["name"] == RULE_NAME],
        "subscriptions": [s for s in subscriptions if s["name"] == SUBSCRIPTION_NAME],
    }


async def test_the_demo_notifications_load_twice_unchanged_and_a_prewarning_reaches_the_head(
    gateway: httpx.AsyncClient, mail_sink: MailSink
) -> None:
    await load_demo_org(gateway, kpi_targets=False)
    first = await load_demo_notify(gateway)
    before = await _state(gateway)
    assert await load_demo_notify(gateway) == first
    after = await _state(gateway)
    assert after == before
    assert [len(after[k]) for k in ("contacts", "rules", "subscriptions")] == [2, 1, 1]
    assert after["rules"][0]["escalate_after"] == "PT30M"
    assert after["subscriptions"][0]["report"] == "status"

    # a fault repair whose crew left 40 minutes ago: past the prewarning of fr-arrive (80 % of PT45M)
    external_id = f"demo-notify-{uuid.uuid4().hex[:8]}"
    ticket = {"external_id": external_id, "process": "fault-repair", "segment": "residential", "customer": "c-1"}
    at = (datetime.now(UTC) - timedelta(minutes=40)).isoformat()
    event = {"source": "field-app", "ticket": ticket, "occurred_at": at}
    await post_event(gateway, {**event, "event_id": f"{external_id}-0", "type": "ticket.opened"})
    await post_event(gateway, {**event, "event_id": f"{external_id}-1", "type": "node.started", "node": "arrive"})

    def text_of(message: EmailMessage) -> str:
        part = message.get_body(preferencelist=("plain",))
        return "" if part is None else str(part.get_content())

    async def arrived() -> EmailMessage | None:
        return next((m for m in mail_sink.to(HEAD) if external_id in text_of(m)), None)

    email = await eventually(arrived, "the prewarning at the demo head's inbox", lambda: mail_sink.to(HEAD))
    assert email["Subject"].startswith("预警")
