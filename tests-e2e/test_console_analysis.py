"""The console's analysis pages in a real browser, through the gateway, over the demo's work orders: trends
(shares per week or month, the achievement's Wilson band, switching the grouping), rankings and
recommendations, a what-if run from the page; at 1280 px and 390 px wide, with no browser console error.
The same tests save docs/console/trends.png and docs/console/rankings.png.
"""
# ruff: noqa: F811  (the fixtures imported from test_console are parameters of the tests below)

import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pledge_dev.demo import push
from pledge_dev.suite import REPO_ROOT, Suite
from support import bearer, eventually, ok
from test_console import (  # noqa: F401  (the fixtures of the console's browser tests, reused)
    SCREENSHOTS,
    WIDTHS,
    admin,
    browser,
    demo,
    needs_browser,
    page_factory,
    sign_in,
)

NUMBERS = re.compile(r"-?\d+(?:\.\d+)?")


def points(path: str) -> list[tuple[float, float]]:
    numbers = [float(n) for n in NUMBERS.findall(path)]
    return list(zip(numbers[::2], numbers[1::2], strict=True))


async def band_points(page: Any) -> tuple[list[tuple[float, float]], list[float]]:
    """The first chart's band (its first closed shape) and its viewBox."""
    chart = page.locator("svg.trend-chart").first
    view_box = [float(v) for v in (await chart.get_attribute("viewBox") or "").split()]
    band = chart.locator("path.band")
    assert await band.count() == 1, "no Wilson band drawn"
    return points((await band.get_attribute("d") or "").split("Z")[0]), view_box


@needs_browser
@pytest.mark.parametrize("width", WIDTHS)
async def test_trends_draw_the_wilson_band_and_switch_grouping(
    suite: Suite, demo: dict[str, Any], page_factory: Any, width: str
) -> None:
    p = await page_factory(width)
    await p.sign_in(*admin(suite))
    await p.page.click("#nav-trends")
    await p.page.wait_for_url(re.compile(r".*/console/trends$"))
    await p.page.locator("#trends section.trend").first.wait_for()
    coordinates, (_, _, view_width, view_height) = await band_points(p.page)
    assert len(coordinates) >= 4  # a closed shape: upper edge, then back along the lower one
    assert all(0 <= x <= view_width and 0 <= y <= view_height for x, y in coordinates)
    upper = coordinates[: len(coordinates) // 2]
    lower = coordinates[len(coordinates) // 2 :][::-1]
    assert all(u[1] <= lo[1] for u, lo in zip(upper, lower, strict=True))  # the upper bound is drawn above
    assert await p.page.locator("svg.trend-chart").first.locator("path.line-normal").count() == 1
    by_process = await p.page.locator("section.trend").evaluate_all("s => s.map(e => e.dataset.group)")
    assert by_process[0] == "All"
    assert "fault-repair" in by_process

    await p.page.select_option("#trend-by", "department")
    await p.page.select_option("#trend-bucket", "day")  # the demo's few days: a line, not one point
    await p.page.click("#trend-show")
    await p.page.wait_for_url(re.compile(r".*bucket=day.*by=department.*"))
    await p.page.locator("#trends section.trend").first.wait_for()
    by_department = await p.page.locator("section.trend").evaluate_all("s => s.map(e => e.dataset.group)")
    assert "operations-maintenance" in by_department
    assert "fault-repair" not in by_department
    await band_points(p.page)
    await p.fits()
    await p.shot("trends", width)
    if width == "narrow":
        await p.page.screenshot(path=str(SCREENSHOTS / "trends-narrow.png"), full_page=True)
    assert p.errors == []


@needs_browser
@pytest.mark.parametrize("width", WIDTHS)
async def test_rankings_and_a_what_if_run_from_the_page(
    suite: Suite, demo: dict[str, Any], page_factory: Any, width: str
) -> None:
    p = await page_factory(width)
    await p.sign_in(*admin(suite))
    await p.page.click("#nav-rankings")
    await p.page.wait_for_url(re.compile(r".*/console/rankings$"))
    await p.page.locator("#ranked").wait_for()
    assert await p.page.locator("#ranked tbody tr").count() >= 1
    assert await p.page.locator("h2", has_text="Recommendations").count() == 1
    await p.fits()
    await p.shot("rankings", width)

    await p.page.fill("#what-if-form input[name=commitment]", "fr-arrive")
    await p.page.fill("#what-if-form input[name=commitment_limit]", "PT20M")
    await p.page.fill("#what-if-form input[name=tolerance_limit]", "PT90M")
    await p.page.click("#run-what-if")
    result = p.page.locator("#what-if-result")
    await result.wait_for()
    assert "fr-arrive" in await result.inner_text()
    rows = p.page.locator("#what-if-table tbody tr")
    assert await rows.count() >= 2  # the whole, actual and proposed
    actual = await rows.nth(0).locator("td").all_inner_texts()
    proposed = await rows.nth(1).locator("td").all_inner_texts()
    assert actual[2] == "actual"
    assert proposed[0] == "proposed"
    await p.fits()
    if width == "wide":
        await p.page.screenshot(path=str(SCREENSHOTS / "what-if.png"), full_page=True)
    assert p.errors == []


@needs_browser
async def test_a_refused_what_if_says_why_on_the_page(suite: Suite, demo: dict[str, Any], page_factory: Any) -> None:
    p = await page_factory("narrow", locale="zh-CN")
    await p.sign_in(*admin(suite))
    await p.page.goto(f"{suite.gateway_url}/console/rankings")
    assert await p.page.locator("h1").inner_text() == "排名"
    await p.page.fill("#what-if-form input[name=commitment]", "no-such-commitment")
    await p.page.click("#run-what-if")
    await p.page.locator("#what-if-error").wait_for()
    assert "no-such-commitment" in await p.page.locator("#what-if-error").inner_text()
    # the form keeps what was typed
    assert await p.page.locator("#what-if-form input[name=commitment]").input_value() == "no-such-commitment"
    await p.fits()
    assert [e for e in p.errors if "422" not in e] == []  # the page itself answers 422: Chromium logs that


@needs_browser
async def test_a_practice_of_an_improve_recommendations_node_shows_on_rankings(
    suite: Suite, demo: dict[str, Any], page_factory: Any
) -> None:
    target = {"process": "complaint-handling", "node": "acknowledge"}  # no run in the demo's work orders
    async with (
        httpx.AsyncClient(base_url=suite.gateway_url, timeout=60) as client,
        httpx.AsyncClient(base_url=suite.gateway_url, headers=bearer(suite.admin_key or ""), timeout=60) as api,
    ):
        assert (await sign_in(client, *admin(suite))).status_code == 303
        # 32 simple complaints acknowledged after 3 hours (limit PT15M, tolerance PT30M): an improve recommendation
        opened = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
        events: list[dict[str, Any]] = []
        for i in range(32):
            ticket = {"external_id": f"slow-ack-{i}", "process": target["process"], "segment": "simple",
                      "customer": f"cust-{i:04d}"}  # fmt: skip
            for n, (kind, at) in enumerate(
                (("ticket.opened", opened), ("node.started", opened), ("node.completed", opened + timedelta(hours=3)))
            ):
                event = {"event_id": f"slow-ack-{i}-{n}", "type": kind, "occurred_at": at.isoformat(),
                         "source": "feedback", "ticket": ticket}  # fmt: skip
                events.append(event if kind == "ticket.opened" else {**event, "node": target["node"]})
        await push(api, events)

        async def recommended() -> bool:
            improve = ok(await client.get("/console/rankings.json"))["recommendations"]["improve"]
            return any((r["process"], r["node"]) == (target["process"], target["node"]) for r in improve)

        await eventually(recommended, "an improve recommendation on complaint-handling acknowledge")
        tag = uuid.uuid4().hex[:6]
        title = f"投诉受理后先电话回访 <{tag}>"
        practice = {"title": title, "body": "Call the customer back before writing up.", "tags": ["投诉"],
                    "processes": [target["process"]], "nodes": [target["node"]]}  # fmt: skip
        ok(await api.post("/v1/practices", json=practice, headers={"Idempotency-Key": f"rankings-{tag}"}), 201)
        twin = ok(await client.get("/console/rankings.json"))
        assert twin["practices_unavailable"] is False
        suggested = {
            (g["process"], g["node"]): [p["title"] for p in g["practices"]] for g in twin["suggested_practices"]
        }
        assert title in suggested[(target["process"], target["node"])]

    p = await page_factory("wide")
    await p.sign_in(*admin(suite))
    await p.page.goto(f"{suite.gateway_url}/console/rankings")
    row = p.page.locator(
        f'#to-improve tr.practices[data-process="{target["process"]}"][data-node="{target["node"]}"]'
    ).first
    await row.wait_for()
    assert title in await row.inner_text()  # shown as text: the angle brackets escaped, not markup
    assert await p.page.locator("#practices-unavailable").count() == 0
    assert p.errors == []


# ---- over plain HTTP ---------------------------------------------------------------------------------------


def add_viewer(suite: Suite, username: str, password: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pledge_console.bootstrap",
            "add-account",
            "--database-url",
            suite.database_url,
            "--username",
            username,
            "--role",
            "viewer",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "CONSOLE_NEW_PASSWORD": password},
        check=True,
        capture_output=True,
    )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


async def test_a_viewer_runs_a_what_if_which_needs_the_csrf_token(suite: Suite, demo: dict[str, Any]) -> None:
    """The gateway asks reports:read for /v1/what-if (a replay that changes nothing): a viewer's session has it."""
    add_viewer(suite, "analysis.viewer", "viewer password 1")
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=60) as client:
        assert (await sign_in(client, "analysis.viewer", "viewer password 1")).status_code == 303
        page = await client.get("/console/rankings")
        assert page.status_code == 200
        assert 'id="what-if-form"' in page.text
        form = {"commitment": "fr-arrive", "commitment_limit": "PT20M", "group_by": "department"}
        forged = await client.post("/console/rankings/what-if", data={**form, "csrf": "forged"})
        assert forged.status_code == 403
        answer = await client.post("/console/rankings/what-if", data={**form, "csrf": csrf_of(page.text)})
        assert answer.status_code == 200
        assert 'id="what-if-result"' in answer.text
        assert "operations-maintenance" in answer.text  # grouped by department, as asked
        bad = await client.post(
            "/console/rankings/what-if",
            data={**form, "commitment_limit": "twenty minutes", "csrf": csrf_of(page.text)},
        )
        assert bad.status_code == 422
        assert 'id="what-if-error"' in bad.text


async def test_the_json_twins_carry_the_api_figures(suite: Suite, demo: dict[str, Any]) -> None:
    async with (
        httpx.AsyncClient(base_url=suite.gateway_url, timeout=60) as client,
        httpx.AsyncClient(base_url=suite.gateway_url, headers=bearer(suite.admin_key or ""), timeout=60) as api,
    ):
        assert (await sign_in(client, *admin(suite))).status_code == 303
        trends = ok(await client.get("/console/trends.json", params={"bucket": "month", "periods": 2}))
        assert trends["bucket"] == "month"
        assert len(trends["series"][0]["points"]) == 2
        overall = trends["series"][0]["latest"]
        assert overall["judged"] > 0
        low, high = overall["normal"]["interval"]
        assert low <= overall["normal"]["share"] <= high
        # the same figure as the API's own report over that month
        month = ok(
            await api.get(
                "/v1/reports/achievement",
                params={
                    "from": trends["series"][0]["points"][1]["start"],
                    "to": trends["to"],
                    "group_by": "process",
                    "scope": "node",
                    "tz": "Asia/Shanghai",
                },
            )
        )
        assert month["overall"][0]["judged"] == overall["judged"]
        assert month["overall"][0]["normal"]["interval"] == [low, high]

        rankings = ok(await client.get("/console/rankings.json", params={"by": "position", "min_sample": 1}))
        assert rankings["rankings"]["by"] == "position"
        assert rankings["rankings"]["ranked"]
        assert set(rankings["recommendations"]) >= {"raise", "improve", "keep", "insufficient_data", "thresholds"}

        for path, params in [
            ("/console/trends.json", {"bucket": "year"}),
            ("/console/trends.json", {"by": "customer"}),
            ("/console/trends.json", {"bucket": "month", "periods": 13}),
            ("/console/rankings.json", {"by": "node"}),
            ("/console/rankings.json", {"from": "2026-12-02", "to": "2026-12-01"}),
        ]:
            refused = await client.get(path, params=params)
            assert refused.status_code == 422, (path, params)
            assert refused.headers["content-type"].startswith("application/problem+json")


async def test_analysis_pages_have_no_inline_script_and_escape_what_they_show(
    suite: Suite, demo: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=60) as client:
        assert (await sign_in(client, *admin(suite))).status_code == 303
        hostile = "<script>alert(1)</script>"
        for path, params in [
            ("/console/trends", {"department": hostile}),
            ("/console/rankings", {"wi_commitment": hostile}),
        ]:
            page = await client.get(path, params=params)
            assert page.status_code == 200
            assert hostile not in page.text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
            assert not re.search(r"<script(?![^>]*\ssrc=)", page.text)
            assert " style=" not in page.text
