"""The console's notifications section in a real browser and over plain HTTP, through the gateway.

An administrator creates a contact, an email channel and a routing rule from the pages and sees them listed
(and the API holds them); the delivery log and the report subscriptions are drawn; at 1280 px and 390 px,
with no browser console error. The API's 422 is shown next to the field it names. A viewer (no
`alerts:manage`) sees no link and is refused every page and form; a form without its CSRF token is refused.
"""

# ruff: noqa: F811  (the fixtures imported from test_console are parameters of the tests below)

import re
import uuid
from typing import Any

import httpx
import pytest
from pledge_dev.suite import Suite
from support import MailSink, bearer, eventually, ok
from test_console import (  # noqa: F401  (the fixtures of the console's browser tests, reused)
    WIDTHS,
    admin,
    browser,
    needs_browser,
    page_factory,
    sign_in,
)
from test_console_analysis import add_viewer, csrf_of


async def api_items(suite: Suite, path: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=suite.gateway_url, headers=bearer(suite.admin_key or ""), timeout=30) as c:
        return list(ok(await c.get(path, params={"limit": 500}))["items"])


@needs_browser
@pytest.mark.parametrize("width", WIDTHS)
async def test_an_admin_creates_a_contact_an_email_channel_and_a_rule_from_the_pages(
    suite: Suite, mail_sink: MailSink, page_factory: Any, width: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    department = f"console-e2e-{tag}"  # no alert of the other tests is of it: the rule routes nothing of theirs
    p = await page_factory(width)
    await p.sign_in(*admin(suite))
    await p.page.click("#nav-notifications")
    await p.page.wait_for_url(re.compile(r".*/console/notifications/contacts$"))
    await p.fits()

    # a contact
    await p.page.fill("#contact-form input[name=name]", f"Li Wei {tag}")
    await p.page.fill("#contact-form input[name=department]", department)
    await p.page.fill("#contact-form input[name=email]", f"li.wei.{tag}@example.cn")
    await p.page.select_option("#contact-form select[name=language]", "en")
    await p.page.click("#create-contact")
    await p.page.wait_for_url(re.compile(r".*/console/notifications/contacts\?done=created$"))
    assert await p.page.locator("#contact-list tbody tr", has_text=f"li.wei.{tag}@example.cn").count() == 1
    [contact] = [c for c in await api_items(suite, "/v1/contacts") if c["department"] == department]
    assert (contact["name"], contact["position"], contact["language"]) == (f"Li Wei {tag}", None, "en")

    # an email channel
    await p.page.click("#notify-tabs >> text=Channels")
    await p.page.wait_for_url(re.compile(r".*/console/notifications/channels$"))
    await p.page.select_option("#channel-form select[name=kind]", "email")
    await p.page.fill("#channel-form input[name=name]", f"mail {tag}")
    await p.page.click("#create-channel")
    await p.page.wait_for_url(re.compile(r".*/console/notifications/channels\?done=created$"))
    row = p.page.locator("#channel-list tbody tr", has_text=f"mail {tag}")
    assert await row.count() == 1
    assert "enabled" in await row.inner_text()
    [channel] = [c for c in await api_items(suite, "/v1/channels") if c["name"] == f"mail {tag}"]
    assert (channel["kind"], channel["enabled"], channel["url"]) == ("email", True, None)
    await p.fits()

    # a routing rule to it, telling the contact
    await p.page.click("#notify-tabs >> text=Routing rules")
    await p.page.wait_for_url(re.compile(r".*/console/notifications/rules$"))
    await p.page.fill("#rule-form input[name=name]", f"field warnings {tag}")
    await p.page.fill("#rule-form input[name=departments]", department)
    await p.page.check("#rule-form input[name='level.warning']")
    await p.page.check(f"#rule-form input[name='channel.{channel['id']}']")
    await p.page.check(f"#rule-form input[name='contact.{contact['id']}']")
    await p.page.fill("#rule-form input[name=escalate_after]", "PT30M")
    await p.page.click("#create-rule")
    await p.page.wait_for_url(re.compile(r".*/console/notifications/rules\?done=created$"))
    rule_row = p.page.locator("#rule-list tbody tr", has_text=f"field warnings {tag}")
    assert await rule_row.count() == 1
    assert f"mail {tag}" in await rule_row.inner_text()
    [rule] = [r for r in await api_items(suite, "/v1/notification-rules") if r["name"] == f"field warnings {tag}"]
    assert rule["departments"] == [department]
    assert rule["levels"] == ["warning"]
    assert rule["channel_ids"] == [channel["id"]]
    assert rule["contact_ids"] == [contact["id"]]
    assert rule["escalate_after"] == "PT30M"
    await p.fits()
    await p.shot("notifications", width)

    # disabled from its row
    await rule_row.locator("button.switch").click()
    await p.page.wait_for_url(re.compile(r".*/console/notifications/rules\?done=disabled$"))
    [rule] = [r for r in await api_items(suite, "/v1/notification-rules") if r["id"] == rule["id"]]
    assert rule["enabled"] is False

    # the delivery log, filtered by the channel: nothing failed
    await p.page.click("#notify-tabs >> text=Delivery log")
    await p.page.select_option("#log-filters select[name=channel]", channel["id"])
    await p.page.select_option("#log-filters select[name=status]", "failed")
    await p.page.click("#log-filters button[type=submit]")
    await p.page.wait_for_url(re.compile(rf".*/console/notifications/log\?status=failed&channel={channel['id']}$"))
    assert await p.page.locator("#no-messages").count() == 1
    await p.fits()

    # a report subscription of the department (made with the API) sent now from its row: the contact's email
    address = f"li.wei.{tag}@example.cn"
    async with httpx.AsyncClient(base_url=suite.gateway_url, headers=bearer(suite.admin_key or ""), timeout=30) as c:
        body = {"name": f"monthly {tag}", "department": department, "channel_ids": [channel["id"]]}
        subscription = ok(await c.post("/v1/report-subscriptions", json=body), 201)
    await p.page.click("#notify-tabs >> text=Report subscriptions")
    await p.page.wait_for_url(re.compile(r".*/console/notifications/reports$"))
    await p.fits()
    await p.page.locator(f"tr[data-subscription='{subscription['id']}'] button.send-now").click()
    await p.page.wait_for_url(re.compile(r".*/console/notifications/reports\?done=send_queued$"))

    async def mailed() -> bool:
        return bool(mail_sink.to(address))

    await eventually(mailed, "the report's email to the contact")
    await p.page.goto(f"{p.base}/console/notifications/log?status=sent&channel={channel['id']}")
    sent = p.page.locator("#message-list tbody tr", has_text=address)
    assert await sent.count() == 1
    assert "report" in await sent.inner_text()
    await p.fits()
    assert p.errors == []


# ---- over plain HTTP -------------------------------------------------------------------------------------------


async def test_the_apis_422_is_shown_next_to_the_field_it_names(suite: Suite) -> None:
    channels = await api_items(suite, "/v1/channels")
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=60) as client:
        assert (await sign_in(client, *admin(suite))).status_code == 303
        page = await client.get("/console/notifications/rules")
        assert page.status_code == 200
        if not channels:
            created = await client.post(
                "/console/notifications/channels",
                data={"csrf": csrf_of(page.text), "kind": "email", "name": "e2e mail", "enabled": "on"},
            )
            assert created.status_code == 303
            channels = await api_items(suite, "/v1/channels")
        form = {
            "csrf": csrf_of(page.text),
            "name": "<b>late</b>",
            f"channel.{channels[0]['id']}": "on",
            "escalate_after": "half an hour",
            "responsible": "on",
        }
        refused = await client.post("/console/notifications/rules", data=form)
        assert refused.status_code == 422
        shown = re.findall(r'id="error-([a-z_]+)" role="alert">([^<]*)', refused.text)
        assert [name for name, _ in shown] == ["escalate_after"], shown
        assert 'value="&lt;b&gt;late&lt;/b&gt;"' in refused.text  # what was typed, escaped, to correct
        assert all(r["name"] != "<b>late</b>" for r in await api_items(suite, "/v1/notification-rules"))
        # a chat channel's URL and secret never come back, not even in the refused form
        bad = await client.post(
            "/console/notifications/channels",
            data={
                "csrf": csrf_of(page.text),
                "kind": "webhook",
                "name": "no secret",
                "url": "https://127.0.0.1:9/hook?token=CREDENTIAL",
            },
        )
        assert bad.status_code == 422
        assert "CREDENTIAL" not in bad.text
        shown = re.findall(r'id="error-([a-z_]+)" role="alert">([^<]*)', bad.text)
        assert [name for name, _ in shown] == ["secret"], shown


async def test_forms_need_the_csrf_token(suite: Suite) -> None:
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=60) as client:
        assert (await sign_in(client, *admin(suite))).status_code == 303
        forged = await client.post(
            "/console/notifications/contacts", data={"csrf": "forged", "name": "x", "department": "forged"}
        )
        assert forged.status_code == 403
        assert all(c["department"] != "forged" for c in await api_items(suite, "/v1/contacts"))


async def test_a_viewer_sees_no_link_and_is_refused_every_page_and_form(suite: Suite) -> None:
    add_viewer(suite, "notify.viewer", "viewer password 2")
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=60) as client:
        assert (await sign_in(client, "notify.viewer", "viewer password 2")).status_code == 303
        status = await client.get("/console/status")
        assert status.status_code == 200
        assert 'id="nav-notifications"' not in status.text
        for tab in ("", "/contacts", "/channels", "/rules", "/log", "/reports", "/contacts.json", "/log.json"):
            assert (await client.get(f"/console/notifications{tab}")).status_code == 403, tab
        csrf = csrf_of(status.text)
        refused = await client.post(
            "/console/notifications/contacts", data={"csrf": csrf, "name": "x", "department": "by-a-viewer"}
        )
        assert refused.status_code == 403
        some = str(uuid.uuid4())
        for action in (f"channels/{some}/enabled", f"rules/{some}/enabled", f"reports/{some}/send"):
            answer = await client.post(f"/console/notifications/{action}", data={"csrf": csrf, "enabled": "false"})
            assert answer.status_code == 403, action
    assert all(c["department"] != "by-a-viewer" for c in await api_items(suite, "/v1/contacts"))
