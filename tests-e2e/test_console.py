"""The web console in a real browser (Debian's Chromium driven by Playwright), through the gateway.

Sign in, read the demo month's seven-state table, drill down to a cell's runs and a ticket's timeline,
acknowledge an alert, switch the language; at 1280 px and 390 px wide; no browser console error anywhere.
The same tests save the screenshots of docs/console/*.png. Without /usr/bin/chromium the browser tests skip
loudly (`apt-get install -y chromium`), except under CI=true, where a missing browser fails them.
"""

import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pledge_dev.demo import generate, push, wait_for_evaluation
from pledge_dev.demo_org import load_demo_org
from pledge_dev.suite import Suite
from support import bearer, eventually, ok

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "console"
WIDTHS = {"wide": 1280, "narrow": 390}

if not CHROMIUM.exists():
    message = f"BROWSER TESTS SKIPPED: no Chromium at {CHROMIUM} (install it: apt-get install -y chromium)"
    if os.environ.get("CI") == "true":
        raise RuntimeError(message + " — under CI=true a missing browser is a failure")
    print("\n" + "!" * 100 + f"\n{message}\n" + "!" * 100)

needs_browser = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")


@pytest.fixture(scope="module")
async def demo(suite: Suite) -> dict[str, Any]:
    """The demo organisation and two days of its work orders, judged; the period they fall in."""
    async with httpx.AsyncClient(base_url=suite.gateway_url, headers=bearer(suite.admin_key or ""), timeout=60) as c:
        await load_demo_org(c)
        now = datetime.now(UTC).replace(microsecond=0)
        story = generate(now, 2, 3)
        await push(c, story.events)
        await push(c, story.late)
        # the demo's days (a report spans at most 366 days: a longer period is a 422, never judged)
        period = {"from": (now - timedelta(days=7)).isoformat(), "to": now.isoformat()}
        await wait_for_evaluation(c, period, story.node_runs)

        async def open_alerts() -> bool:
            return bool(ok(await c.get("/v1/alerts", params={"state": "open"}))["items"])

        await eventually(open_alerts, "an open alert of the demo's work orders")
    return {"month": now.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")}


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        await launched.close()


class Page:
    """A browser page that records every console error and uncaught exception."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    async def sign_in(self, username: str, password: str) -> None:
        await self.page.goto(self.base + "/")
        await self.page.fill("input[name=username]", username)
        await self.page.fill("input[name=password]", password)
        await self.page.click("#sign-in")
        await self.page.wait_for_url(re.compile(r".*/console/status$"))

    async def shot(self, name: str, width: str) -> None:
        if width == "wide":  # the docs show the wide pages (and one narrow one)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    async def fits(self) -> None:
        """Nothing but the tables' own scroll boxes is wider than the window."""
        await self.page.wait_for_load_state("load")  # the stylesheet applied: a busy machine may serve it late
        overflow = await self.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"the page is {overflow}px wider than the window"


@pytest.fixture
async def page_factory(browser: Any, suite: Suite) -> AsyncIterator[Any]:
    contexts: list[Any] = []

    async def make(width: str, locale: str = "en-US") -> Page:
        context = await browser.new_context(viewport={"width": WIDTHS[width], "height": 900}, locale=locale)
        contexts.append(context)
        return Page(await context.new_page(), suite.gateway_url)

    yield make
    for context in contexts:
        await context.close()


def admin(suite: Suite) -> tuple[str, str]:
    assert suite.console_admin is not None
    return suite.console_admin


@needs_browser
@pytest.mark.parametrize("width", WIDTHS)
async def test_status_table_drills_down_to_runs_and_a_ticket_timeline(
    suite: Suite, demo: dict[str, Any], page_factory: Any, width: str
) -> None:
    p = await page_factory(width)
    await p.sign_in(*admin(suite))
    await p.page.goto(f"{suite.gateway_url}/console/status?month={demo['month']}")
    table = p.page.locator("#status-table")
    await table.wait_for()
    headers = await table.locator("thead th").all_inner_texts()
    assert headers[2:9] == [
        "completed normal",
        "completed acceptable",
        "completed warning",
        "in progress normal",
        "in progress acceptable",
        "in progress warning",
        "cancelled",
    ]
    await p.fits()
    await p.shot("status", width)
    cell = p.page.locator("a.cell").first
    count = int(await cell.inner_text())
    await cell.click()
    await p.page.locator("#runs-table").wait_for()
    assert await p.page.locator("#runs-table tbody tr").count() == min(count, 100)
    await p.fits()
    await p.shot("runs", width)
    await p.page.locator("a.ticket").first.click()
    timeline = p.page.locator("svg#timeline")
    await timeline.wait_for()
    assert await timeline.locator("rect.run").count() >= 1
    assert await timeline.locator("line.marker.commitment").count() >= 1
    await p.fits()
    await p.shot("ticket", width)
    if width == "narrow":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await p.page.screenshot(path=str(SCREENSHOTS / "ticket-narrow.png"), full_page=True)
    assert p.errors == []


@needs_browser
async def test_an_alert_is_acknowledged_from_the_inbox(suite: Suite, demo: dict[str, Any], page_factory: Any) -> None:
    p = await page_factory("wide")
    await p.sign_in(*admin(suite))
    await p.page.goto(f"{suite.gateway_url}/console/alerts?state=open")
    assert await p.page.locator("#inbox").get_attribute("data-polling") == "true"  # alerts.js ran (CSP allows it)
    row = p.page.locator("#alert-list tbody tr").first
    alert_id = await row.get_attribute("data-alert")
    await p.shot("alerts", "wide")
    await row.locator("button.ack").click()
    await p.page.wait_for_url(re.compile(r".*/console/alerts\?state=open$"))
    assert await p.page.locator(f'#alert-list tr[data-alert="{alert_id}"]').count() == 0
    async with httpx.AsyncClient(base_url=suite.gateway_url, headers=bearer(suite.admin_key or "")) as c:
        alert = ok(await c.get(f"/v1/alerts/{alert_id}"))
    assert alert["state"] == "acknowledged"
    assert alert["acknowledged_by"]  # the session's own key: who did it is on record
    assert p.errors == []


@needs_browser
async def test_the_language_switches_and_stays(suite: Suite, demo: dict[str, Any], page_factory: Any) -> None:
    p = await page_factory("narrow", locale="zh-CN")
    await p.sign_in(*admin(suite))
    await p.page.goto(f"{suite.gateway_url}/console/status?month={demo['month']}")
    assert "正常完成" in await p.page.locator("#status-table thead").inner_text()
    await p.fits()
    await p.page.click("#lang-switch")
    await p.page.wait_for_url(re.compile(r".*/console/status\?month="))
    assert "completed normal" in await p.page.locator("#status-table thead").inner_text()
    await p.page.goto(f"{suite.gateway_url}/console/alerts")
    assert await p.page.locator("h1").inner_text() == "Alerts"
    await p.page.click("#lang-switch")
    assert await p.page.locator("h1").inner_text() == "告警"
    assert p.errors == []


# ---- the security model, over plain HTTP (no browser needed) ----------------------------------------------


async def sign_in(client: httpx.AsyncClient, username: str, password: str, **headers: str) -> httpx.Response:
    form = await client.get("/console/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    return await client.post(
        "/console/sign-in",
        data={"csrf": csrf.group(1), "username": username, "password": password},
        headers=headers,
    )


async def test_pages_carry_a_strict_csp_and_no_inline_script_or_style(suite: Suite) -> None:
    async with httpx.AsyncClient(base_url=suite.gateway_url) as client:
        page = await client.get("/console/sign-in")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert csp.startswith("default-src 'self'; script-src 'self'")
        assert "unsafe-inline" not in csp
        assert page.headers.get_list("content-security-policy") == [csp]  # not doubled by the gateway's own
        cookie = page.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert not re.search(r"<script(?![^>]*\ssrc=)", page.text)
        assert " style=" not in page.text
        assert "<style" not in page.text
        assert (await client.get("/")).headers["location"] == "/console/"


async def test_sign_in_needs_the_csrf_token(suite: Suite) -> None:
    username, password = admin(suite)
    async with httpx.AsyncClient(base_url=suite.gateway_url) as client:
        await client.get("/console/sign-in")
        forged = await client.post(
            "/console/sign-in", data={"csrf": "forged", "username": username, "password": password}
        )
        assert forged.status_code == 403
        assert "pledge_console_session" not in forged.cookies


async def test_acknowledging_without_the_csrf_token_is_refused(suite: Suite) -> None:
    async with httpx.AsyncClient(base_url=suite.gateway_url) as client:
        assert (await sign_in(client, *admin(suite))).status_code == 303
        answer = await client.post(f"/console/alerts/{'0' * 8}-0000-0000-0000-{'0' * 12}/acknowledge", data={})
        assert answer.status_code == 403


async def test_a_session_key_has_the_role_scopes_and_sign_out_revokes_it(suite: Suite) -> None:
    async with (
        httpx.AsyncClient(base_url=suite.gateway_url) as client,
        httpx.AsyncClient(base_url=suite.gateway_url, headers=bearer(suite.admin_key or "")) as api,
    ):
        assert (await sign_in(client, *admin(suite))).status_code == 303
        keys = ok(await api.get("/v1/api-keys", params={"limit": 500}))["items"]
        mine = [k for k in keys if k["name"] == "console session of admin" and k["status"] == "active"]
        assert mine
        assert all(k["scopes"] == ["admin"] and k["expires_at"] for k in mine)
        page = await client.get("/console/alerts")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        signed_out = await client.post("/console/sign-out", data={"csrf": csrf.group(1)})
        assert signed_out.status_code == 303
        after = {k["id"]: k["status"] for k in ok(await api.get("/v1/api-keys", params={"limit": 500}))["items"]}
        assert sum(after[k["id"]] == "revoked" for k in mine) == 1
        assert (await client.get("/console/status")).status_code == 303  # back to the sign-in page


async def test_failed_sign_ins_lock_one_account_from_one_address_only(suite: Suite) -> None:
    """Straight to the console (the gateway would write its own X-Forwarded-For): two addresses, one account."""
    username, password = admin(suite)
    async with httpx.AsyncClient(base_url=suite.url("console")) as client:
        statuses = [
            (await sign_in(client, username, "wrong password", **{"X-Forwarded-For": "203.0.113.7"})).status_code
            for _ in range(6)
        ]
        assert statuses[:5] == [401] * 5
        assert statuses[5] == 429
        # the right password from that address waits too; from another address it works at once
        assert (await sign_in(client, username, password, **{"X-Forwarded-For": "203.0.113.7"})).status_code == 429
        assert (await sign_in(client, username, password, **{"X-Forwarded-For": "198.51.100.2"})).status_code == 303


async def test_unknown_run_filters_are_refused(suite: Suite) -> None:
    async with httpx.AsyncClient(base_url=suite.gateway_url) as client:
        assert (await sign_in(client, *admin(suite))).status_code == 303
        assert (await client.get("/console/runs", params={"evil": "1"})).status_code == 422
        assert (await client.get("/console/status", params={"month": "2026-13"})).status_code == 422
        assert (await client.get("/console/alerts.json", params={"state": "bogus"})).status_code == 422
