"""Notifications of the demo organisation, set up through the public API (idempotent).

The head of operations & maintenance (`om-head@demo.pledge.local`, in Chinese) receives the prewarnings and
warnings of the department's work by email; an alert nobody acknowledges within 30 minutes escalates to the
parent department, the company's management (`gm@demo.pledge.local`); and on the 1st of each month at 09:00
Asia/Shanghai the head receives the department's status table for the month before (XLSX).

What exists is found by its name (the channel, the rule, the subscription) or its address (the contacts) and
left as it is: running it twice changes nothing. Emails go out only when evaluation-svc has an SMTP server
(`EVALUATION_SMTP_HOST`; a local sink is enough, see docs/notifications.md)."""

from typing import Any

import httpx

from pledge_dev.demo_org import OM

COMPANY = "company"
CONTACTS: list[dict[str, Any]] = [
    {"department": OM, "name": "运维检修部主任 Head of O&M", "email": "om-head@demo.pledge.local", "language": "zh"},
    {"department": COMPANY, "name": "分管副总经理 Deputy GM", "email": "gm@demo.pledge.local", "language": "zh"},
]
CHANNEL: dict[str, Any] = {"kind": "email", "name": "demo: email", "language": "zh"}
RULE_NAME = "demo: O&M prewarnings and warnings"
SUBSCRIPTION_NAME = "demo: O&M monthly status table"


class DemoNotifyError(RuntimeError):
    pass


def _check(response: httpx.Response, *expected: int) -> Any:
    if response.status_code not in expected:
        raise DemoNotifyError(
            f"{response.request.method} {response.request.url.path} answered {response.status_code}: {response.text}"
        )
    return response.json() if response.content else None


async def _all(client: httpx.AsyncClient, path: str, **params: str) -> list[dict[str, Any]]:
    """Every item of a paged list."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": "100"} | ({"cursor": cursor} if cursor else {})
        page = _check(await client.get(path, params=query), 200)
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


async def load_demo_notify(client: httpx.AsyncClient) -> dict[str, Any]:
    """Contacts, the email channel, the routing rule and the monthly subscription; answers what is in place."""
    contacts = await _all(client, "/v1/contacts")
    for body in CONTACTS:
        if not any(c["department"] == body["department"] and c["email"] == body["email"] for c in contacts):
            contacts.append(_check(await client.post("/v1/contacts", json=body), 201))
    channels = await _all(client, "/v1/channels", kind="email")
    channel = next((c for c in channels if c["name"] == CHANNEL["name"]), None)
    if channel is None:
        channel = _check(await client.post("/v1/channels", json=CHANNEL), 201)
    rules = await _all(client, "/v1/notification-rules")
    rule = next((r for r in rules if r["name"] == RULE_NAME), None)
    if rule is None:
        body = {
            "name": RULE_NAME,
            "departments": [OM],
            "levels": ["prewarning", "warning"],
            "channel_ids": [channel["id"]],
            "responsible": True,  # the department's head (its contact with no position)
            "escalate_after": "PT30M",  # unacknowledged: up the department tree, to the company
            "escalate_levels": 1,
        }
        rule = _check(await client.post("/v1/notification-rules", json=body), 201)
    subscriptions = await _all(client, "/v1/report-subscriptions", department=OM)
    subscription = next((s for s in subscriptions if s["name"] == SUBSCRIPTION_NAME), None)
    if subscription is None:
        body = {"name": SUBSCRIPTION_NAME, "department": OM, "report": "status", "channel_ids": [channel["id"]]}
        subscription = _check(await client.post("/v1/report-subscriptions", json=body), 201)
    return {"channel": channel, "rule": rule, "subscription": subscription}
