"""Notifications end to end: a department head receives the prewarning by email (a real SMTP server on loopback),
and when nobody acknowledges it within the rule's time, the parent department's head receives the escalation."""

import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import httpx
from support import MailSink, eventually, ok, post_event


async def define(gateway: httpx.AsyncClient, tag: str) -> None:
    """A region with a desk below it, a process with one node at the desk, and a 6 s / 12 s commitment on the
    24x7 calendar whose prewarning falls at half the commitment limit."""
    ok(await gateway.put(f"/v1/departments/{tag}-region", json={"name": "Region", "positions": []}), 200, 201)
    ok(
        await gateway.put(
            f"/v1/departments/{tag}-desk", json={"name": "Desk", "positions": [], "parent_key": f"{tag}-region"}
        ),
        200,
        201,
    )
    ok(await gateway.put(f"/v1/segments/{tag}-seg", json={"name": "Segment"}), 200, 201)
    node = {"key": "answer", "name": "Answer", "department": f"{tag}-desk", "position_key": None}
    body = {"name": "Notified process", "description": "", "owner_department": f"{tag}-desk", "nodes": [node]}
    ok(await gateway.put(f"/v1/processes/{tag}", json=body), 200, 201)
    created = ok(
        await gateway.post(
            "/v1/commitments",
            json={
                "key": f"{tag}-answer",
                "process": tag,
                "node": "answer",
                "segment": "default",
                "commitment_limit": "PT6S",
                "tolerance_limit": "PT12S",
                "calendar": "24x7",
                "owner_department": f"{tag}-desk",
                "prewarning_fraction": 0.25,
            },
        ),
        201,
    )
    ok(await gateway.post(f"/v1/commitments/{created['id']}/transitions", json={"to": "negotiating"}))
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    ok(
        await gateway.post(
            f"/v1/commitments/{created['id']}/transitions", json={"to": "active", "effective_from": since}
        )
    )


async def test_the_department_head_receives_the_prewarning_and_the_escalation_by_email(
    gateway: httpx.AsyncClient, mail_sink: MailSink
) -> None:
    tag = f"e2e-{uuid.uuid4().hex[:8]}"
    await define(gateway, tag)
    desk_head, region_head = f"desk-{tag}@example.cn", f"region-{tag}@example.cn"
    for department, email in ((f"{tag}-desk", desk_head), (f"{tag}-region", region_head)):
        contact = {"department": department, "name": "Head", "email": email, "language": "zh"}
        ok(await gateway.post("/v1/contacts", json=contact), 201)
    channel = ok(await gateway.post("/v1/channels", json={"kind": "email", "name": f"{tag} mail"}), 201)
    rule = {
        "name": f"{tag} prewarnings",
        "processes": [tag],
        "levels": ["prewarning"],
        "channel_ids": [channel["id"]],
        "escalate_after": "PT3S",  # short, for the test
    }
    ok(await gateway.post("/v1/notification-rules", json=rule, headers={"Idempotency-Key": f"{tag}-rule"}), 201)
    # evaluation must know the region as the desk's parent before it escalates (departments travel over a feed)
    started = datetime.now(UTC)
    event = {"source": "e2e", "ticket": {"external_id": f"{tag}-1", "process": tag, "segment": f"{tag}-seg"}}
    at = started.isoformat()
    await post_event(gateway, {**event, "event_id": f"{tag}-a", "type": "ticket.opened", "occurred_at": at})
    await post_event(
        gateway, {**event, "event_id": f"{tag}-b", "type": "node.started", "occurred_at": at, "node": "answer"}
    )

    prewarning = await eventually(lambda: _first(mail_sink, desk_head), "the prewarning email")
    assert prewarning["Subject"].startswith("预警")
    text_part = prewarning.get_body(preferencelist=("plain",))
    assert text_part is not None
    assert f"{tag}-1" in text_part.get_content()

    escalation = await eventually(lambda: _first(mail_sink, region_head), "the escalation email")
    assert escalation["Subject"].startswith("【升级 1】预警")
    alerts = ok(await gateway.get("/v1/alerts", params={"process": tag, "level": "prewarning"}))["items"]
    log = ok(await gateway.get("/v1/notifications", params={"alert_id": alerts[0]["id"]}))["items"]
    assert {(n["recipient"], n["reason"], n["status"]) for n in log} >= {
        (desk_head, "alert", "sent"),
        (region_head, "escalation", "sent"),
    }


async def _first(sink: MailSink, address: str) -> EmailMessage | None:
    found = sink.to(address)
    return found[0] if found else None


async def test_the_department_head_receives_the_monthly_status_table_as_xlsx(
    gateway: httpx.AsyncClient, mail_sink: MailSink
) -> None:
    tag = f"e2e-{uuid.uuid4().hex[:8]}"
    head = f"head-{tag}@example.cn"
    ok(await gateway.put(f"/v1/departments/{tag}-desk", json={"name": "Desk", "positions": []}), 200, 201)
    ok(await gateway.post("/v1/contacts", json={"department": f"{tag}-desk", "name": "Head", "email": head}), 201)
    channel = ok(await gateway.post("/v1/channels", json={"kind": "email", "name": f"{tag} mail"}), 201)
    body = {"name": "monthly status", "department": f"{tag}-desk", "channel_ids": [channel["id"]]}
    subscription = ok(await gateway.post("/v1/report-subscriptions", json=body), 201)
    assert subscription["next_run_at"].endswith("T01:00:00Z")  # the 1st, 09:00 in Shanghai
    assert subscription["day_of_month"] == 1
    # the 1st is not today: send the last month's report now, as the 1st would
    ok(await gateway.post(f"/v1/report-subscriptions/{subscription['id']}/send"), 202)

    email = await eventually(lambda: _first(mail_sink, head), "the monthly status table")
    assert email["Subject"].startswith(f"服务承诺执行状态表: {tag}-desk")
    [attachment] = list(email.iter_attachments())
    filename = attachment.get_filename()
    assert filename is not None
    assert filename.startswith(f"status-{tag}-desk-")
    assert filename.endswith(".xlsx")
    assert attachment.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert attachment.get_content()[:2] == b"PK"
    after = ok(await gateway.get(f"/v1/report-subscriptions/{subscription['id']}"))
    assert after["last_run_at"] is not None
