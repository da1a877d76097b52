"""The console's scorecard page in a real browser, through the gateway, over the demo organisation: the demo
department's KPIs with their targets, its 12-month lines, and the utility view of every department; at 1280 px
and 390 px wide, with no browser console error. Saves docs/console/scorecards.png."""
# ruff: noqa: F811  (the fixtures imported from test_console are parameters of the tests below)

import re
from typing import Any

import pytest
from pledge_dev.demo_org import KPI_TARGETS
from pledge_dev.suite import Suite
from test_console import (  # noqa: F401  (the fixtures of the console's browser tests, reused)
    WIDTHS,
    admin,
    browser,
    demo,
    needs_browser,
    page_factory,
    sign_in,
)

DEPARTMENT = "operations-maintenance"  # the demo's repairs


def shown(kpi: str, target: float) -> str:
    return f"{target:.2f}" if kpi == "connection_time" else f"{target * 100:.1f}%"


@needs_browser
@pytest.mark.parametrize("width", WIDTHS)
async def test_the_demo_departments_scorecard_shows_the_six_kpis_and_their_targets(
    suite: Suite, demo: dict[str, Any], page_factory: Any, width: str
) -> None:
    p = await page_factory(width)
    await p.sign_in(*admin(suite))
    await p.page.click("#nav-scorecards")
    await p.page.wait_for_url(re.compile(r".*/console/scorecards$"))
    await p.page.locator("#utility table").wait_for()
    await p.page.select_option("#scorecard-department", DEPARTMENT)
    await p.page.click("#scorecard-show")
    await p.page.wait_for_url(re.compile(rf".*department={DEPARTMENT}.*"))
    card = p.page.locator("#scorecard")
    await card.wait_for()
    for kpi, target in KPI_TARGETS.items():
        row = card.locator(f"tr[data-kpi={kpi}]")
        assert await row.count() == 1, kpi
        assert (await row.locator("td.kpi-target").inner_text()).strip() == shown(kpi, target), kpi
        assert await row.locator("svg.spark").count() == 1, kpi
    # document 002's measures follow the six
    assert await card.locator("tr[data-kpi=handling_time]").count() == 1
    # the utility view: the six for every department, the demo's among them
    assert await p.page.locator("#utility th[data-kpi]").count() == 6
    assert await p.page.locator(f"#utility tr[data-department={DEPARTMENT}]").count() == 1
    # the JSON twin answers the same month and department
    twin = await p.page.request.get(p.base + f"/console/scorecards.json?department={DEPARTMENT}")
    assert twin.status == 200
    body = await twin.json()
    assert body["department"] == DEPARTMENT
    assert {k["kpi"]: k["target"] for k in body["scorecard"]["kpis"] if k["kpi"] in KPI_TARGETS} == KPI_TARGETS
    await p.fits()
    await p.shot("scorecards", width)
    assert p.errors == []
