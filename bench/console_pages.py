"""Console page benchmark: each page's time in a real browser at N and 5xN node runs, beside its API call.

    uv run python bench/console_pages.py                 # 1 000 000 then 5 000 000 node runs
    uv run python bench/console_pages.py --rows 20000    # a quick small run (then 100 000)

A fresh database on the embedded Postgres, every component's migrations, and the node runs of bench/reports.py
(its generator, imported: one month, 2026-10, 4 processes, 14 nodes, with the rollups the projection keeps),
plus the alerts those runs raised: one per level a run crossed (prewarning, commitment, tolerance), resolved
with the run's end, open while it runs. The whole suite runs as real processes (the gateway is ready only
when every service behind it is; evaluation's feed consumer, scanner and webhooks are off, so nothing else
moves the data), and the console is signed in to as its first admin.

Each page is opened in Debian's Chromium (/usr/bin/chromium) driven by Playwright, through the gateway:
  first byte  the Navigation Timing API's `responseStart` (ms from the start of the navigation),
  drawn       its `loadEventEnd`, once the page's content (its table, its SVG charts) is in the document
              (the charts are drawn on the server, so they are there at the load event; checked each time).
Beside it, the API call the page makes (`api`), timed alone through the gateway with an admin key. Each is
best-of and median of --repeat runs after one warm-up. Goal: drawn < 1 s at 5xN; 5xN ÷ N close to 1 (the
pages read the rollups: cost follows groups, not rows).
"""

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import asyncpg
import httpx
from pledge_common.settings import to_plain_url
from pledge_dev.paths import DATA_DIR
from pledge_dev.pg import fresh_database
from pledge_dev.suite import Suite, running_suite
from reports import MONTH, generate

CHROMIUM = "/usr/bin/chromium"
MONTH_PARAM = MONTH[0].strftime("%Y-%m")  # the console's month (CONSOLE_TIMEZONE Asia/Shanghai, as MONTH)

# the alerts the generated runs raised: one per level whose instant the run reached while still running
ALERTS = (
    "TRUNCATE alerts",
    """
    INSERT INTO alerts (id, node_run_id, cycle, level, ticket_id, kind, process_key, node_key, segment, department,
        position, source, commitment_id, commitment_key, due_at, raised_at, state, resolved_at, final_state)
    SELECT md5(r.id || '/' || l.level)::uuid, r.id, r.cycle, l.level, r.ticket_id, r.kind, r.process_key, r.node_key,
           r.segment, r.department, r.position, r.source, r.commitment_id, r.commitment_key, l.due, l.due,
           CASE WHEN r.ended_at IS NULL THEN 'open' ELSE 'resolved' END, r.ended_at, r.final_state
    FROM node_runs r
    CROSS JOIN LATERAL (VALUES ('prewarning', r.prewarning_due_at), ('acceptable', r.commitment_due_at),
                               ('warning', r.tolerance_due_at)) AS l(level, due)
    WHERE l.due < coalesce(r.ended_at, $1::timestamptz)
    """,
    "VACUUM ANALYZE alerts",
)


@dataclass(frozen=True)
class Page:
    """A console page (`url`, under the gateway), the element that says it is drawn, and its API call."""

    name: str
    url: str
    drawn: str  # CSS selector present once the page's content (table or SVG chart) is drawn
    api: str | None = None  # the API call behind it, for the side-by-side; None when not known


OPTIONAL = ("trends", "rankings")  # pages being written: timed once they answer 200
MONTH_QUERY = urlencode({"from": MONTH[0].isoformat(), "to": MONTH[1].isoformat()})
PAGES: list[Callable[[dict[str, Any]], Page | None]] = [
    lambda _: Page("status by process → node", f"/console/status?month={MONTH_PARAM}", "#status-table",
                   f"/v1/reports/status?group_by=process&group_by=node&{MONTH_QUERY}"),
    lambda _: Page("status by department", f"/console/status?month={MONTH_PARAM}&rows=department", "#status-table",
                   f"/v1/reports/status?group_by=department&{MONTH_QUERY}"),
    lambda c: Page("runs of the largest cell", "/console/runs?" + urlsplit(c["large"]).query, "#runs-table",
                   c["large"]),
    lambda c: Page("runs of the smallest cell", "/console/runs?" + urlsplit(c["small"]).query, "#runs-table",
                   c["small"]),
    lambda _: Page("alerts inbox", "/console/alerts", "#alert-list", "/v1/alerts?state=open&limit=500"),
    # pages that may not exist yet: timed when they answer 200, else skipped with a note
    lambda c: Page("trends", f"/console/trends?month={MONTH_PARAM}", "main svg") if c["has"]("trends") else None,
    lambda c: Page("rankings", f"/console/rankings?month={MONTH_PARAM}", "main table, main svg")
    if c["has"]("rankings") else None,
]  # fmt: skip


@dataclass
class Figures:
    first: list[float]
    drawn: list[float]
    api: list[float]


def best_median(times: list[float]) -> str:
    return f"{min(times):7.0f} {statistics.median(times):7.0f}" if times else f"{'—':>7} {'—':>7}"


async def add_alerts(url: str) -> float:
    started = time.perf_counter()
    conn = await asyncpg.connect(to_plain_url(url), server_settings={"search_path": "evaluation"})
    try:
        for statement in ALERTS:
            await conn.execute(statement, *([MONTH[1]] if "$1" in statement else []))
    finally:
        await conn.close()
    return time.perf_counter() - started


async def cell_links(api: httpx.AsyncClient) -> dict[str, str]:
    """The runs links (`/v1/reports/status/runs?…`) of the largest and the smallest non-empty cell of the status
    table by process → node: a page of a large cell is found early in its runs, of a small one late."""
    response = await api.get(f"/v1/reports/status?group_by=process&group_by=node&{MONTH_QUERY}")
    response.raise_for_status()
    rows = response.json()["rows"]
    cells = sorted((c, row["links"][s]) for row in rows for s, c in row["counts"].items() if c and s in row["links"])
    return {"large": str(cells[-1][1]), "small": str(cells[0][1])}


async def pages_of(browser_context: Any, base: str, cells: dict[str, str]) -> list[Page]:
    """The pages to time; a page of PAGES that does not answer 200 (signed in) is skipped with a note."""
    answers: dict[str, int] = {}

    def has(name: str) -> bool:
        return answers[name] == 200

    for name in OPTIONAL:
        answered = await browser_context.request.get(f"{base}/console/{name}?month={MONTH_PARAM}", max_redirects=0)
        answers[name] = answered.status
        if answered.status != 200:
            print(f"  note: /console/{name} answered {answered.status}: not timed", flush=True)
    return [spec for make in PAGES if (spec := make({**cells, "has": has})) is not None]


async def open_page(page: Any, base: str, spec: Page) -> tuple[float, float]:
    """(first byte, drawn) in ms from the start of the navigation."""
    response = await page.goto(base + spec.url, wait_until="load")
    if response is None or response.status != 200:
        raise SystemExit(f"{spec.url}: answered {response.status if response else 'nothing'}")
    if await page.locator(spec.drawn).count() == 0:
        raise SystemExit(f"{spec.url}: no {spec.drawn} at the load event")
    nav = await page.evaluate(
        "(() => { const n = performance.getEntriesByType('navigation')[0];"
        " return [n.responseStart, n.loadEventEnd]; })()"
    )
    return float(nav[0]), float(nav[1])


async def time_api(api: httpx.AsyncClient, path: str) -> float:
    started = time.perf_counter()
    response = await api.get(path)
    took = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return took


async def measure(suite: Suite, repeat: int) -> dict[str, Figures]:
    from playwright.async_api import async_playwright

    base = suite.gateway_url
    assert suite.admin_key
    assert suite.console_admin
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {suite.admin_key}"}, timeout=600
    ) as api:
        cells = await cell_links(api)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                browser_context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
                page = await browser_context.new_page()
                await page.goto(base + "/console/sign-in")
                await page.fill("input[name=username]", suite.console_admin[0])
                await page.fill("input[name=password]", suite.console_admin[1])
                await page.click("#sign-in")
                await page.wait_for_url("**/console/status")
                pages = await pages_of(browser_context, base, cells)
                figures = {p.name: Figures([], [], []) for p in pages}
                for spec in pages:  # one warm-up each (caches of the browser, the services and Postgres)
                    await open_page(page, base, spec)
                    if spec.api:
                        await time_api(api, spec.api)
                for _ in range(repeat):
                    for spec in pages:
                        first, drawn = await open_page(page, base, spec)
                        figures[spec.name].first.append(first)
                        figures[spec.name].drawn.append(drawn)
                        if spec.api:
                            figures[spec.name].api.append(await time_api(api, spec.api))
            finally:
                await browser.close()
    return figures


def table(rows: int, factor: int, small: dict[str, Figures], big: dict[str, Figures]) -> None:
    n, m = f"{rows / 1e6:g}M", f"{rows * factor / 1e6:g}M"
    head = f"{'page':<26} {'':<10} {'first byte ms':>15} {'drawn ms':>15} {'API alone ms':>15}"
    print(f"\n{head}\n{'':<26} {'':<10} {'best median':>15} {'best median':>15} {'best median':>15}")
    for name in small:
        for label, figures in ((n, small[name]), (m, big.get(name))):
            if figures is None:
                continue
            print(f"{name:<26} {label:<10} {best_median(figures.first):>15} {best_median(figures.drawn):>15} "
                  f"{best_median(figures.api):>15}")  # fmt: skip
        if name in big:

            def ratio(attr: str, name: str = name) -> str:
                a, b = getattr(small[name], attr), getattr(big[name], attr)
                return f"{statistics.median(b) / statistics.median(a):15.2f}" if a and b else f"{'—':>15}"

            print(f"{'':<26} {m + '÷' + n:<10} {ratio('first')} {ratio('drawn')} {ratio('api')}")
    slow = [name for name, f in big.items() if statistics.median(f.drawn) >= 1000]
    print(f"\ngoal: drawn < 1000 ms at {m}: " + (f"missed by {', '.join(slow)}" if slow else "met by every page"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--factor", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or `make env` as root)")
    (DATA_DIR / "logs").mkdir(parents=True, exist_ok=True)
    env = {
        "EVALUATION_CONSUME_FEEDS": "false",
        "EVALUATION_RUN_SCANNER": "false",
        "EVALUATION_RUN_WEBHOOKS": "false",
        "EVALUATION_ROLLUP_TIMEZONE": "Asia/Shanghai",
        "CONSOLE_TIMEZONE": "Asia/Shanghai",
        "PLEDGE_LOG_LEVEL": "WARNING",
    }
    log_dir = DATA_DIR / "logs" / "bench-console"
    with fresh_database("test") as url, running_suite(url, extra_env=env, log_dir=log_dir) as suite:
        results = []
        for first, last in ((1, args.rows), (args.rows + 1, args.rows * args.factor)):
            took = asyncio.run(generate(url, first, last)) + asyncio.run(add_alerts(url))
            print(f"generated up to {last:,} node runs, their rollups and alerts in {took:.0f} s", flush=True)
            results.append(asyncio.run(measure(suite, args.repeat)))
            for name, f in results[-1].items():  # the figures so far, should a later step fail
                print(f"  {name:<26} first byte {best_median(f.first)}  drawn {best_median(f.drawn)}  "
                      f"API {best_median(f.api)}  (ms, best median)", flush=True)  # fmt: skip
    table(args.rows, args.factor, *results)


if __name__ == "__main__":
    main()
