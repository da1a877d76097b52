"""The console's agreement review in a real browser, and sign-in with a user token of the gateway's issuer.

A work order of the demo's enterprise customer Hengda Steel whose crew arrives 3 hours after dispatch is
beyond `fr-arrive`'s tolerance and charged 500 CNY by the demo SLA: the review page of its month lists the
charge under its work-order number, and the PDF and XLSX downloaded from the page say the same. The e2e
gateway accepts tokens signed by the suite's test key pair (conftest.py), so a token signs a user in too.
"""

import asyncio
import csv
import io
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import openpyxl
import pytest
from conftest import USER_TOKEN_AUDIENCE, USER_TOKEN_ISSUER
from pledge_dev.demo_org import load_demo_org
from pledge_dev.suite import Suite
from pypdf import PdfReader
from support import bearer, eventually, ok, post_event
from test_console import WIDTHS, admin, browser, needs_browser, page_factory, sign_in  # noqa: F401 (fixtures)
from test_exports import events

AGREEMENT = "sla-hengda-steel"
REVIEW = f"/v1/reports/agreements/{AGREEMENT}"


@pytest.fixture(scope="module")
async def late_work_order(suite: Suite) -> dict[str, Any]:
    """A late and an on-time arrival of Hengda Steel, judged; the late one charged; their month (UTC, the
    demo agreement's billing zone)."""
    async with httpx.AsyncClient(base_url=suite.gateway_url, headers=bearer(suite.admin_key or ""), timeout=60) as c:
        await load_demo_org(c)
        now = datetime.now(UTC)
        late, on_time = f"WO-LATE-{uuid.uuid4().hex[:6]}", f"WO-OK-{uuid.uuid4().hex[:6]}"
        arrived = now - timedelta(hours=1)
        start = arrived.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (start + timedelta(days=32)).replace(day=1)
        period = {"from": start.isoformat(), "to": end.isoformat()}
        for body in events(late, now - timedelta(hours=4), arrived) + events(
            on_time, now - timedelta(hours=2), now - timedelta(hours=1, minutes=40)
        ):
            await post_event(c, body)

        async def charged() -> Any:
            response = await c.get(REVIEW, params=period)
            if response.status_code == 404:
                return None
            review = ok(response)
            return review if any(p["work_order"] == late for p in review["penalties"]) else None

        review = await eventually(charged, "evaluation-svc to charge the late arrival")
    return {"late": late, "on_time": on_time, "month": start.strftime("%Y-%m"), "review": review}


@needs_browser
@pytest.mark.parametrize("width", WIDTHS)
async def test_the_review_lists_penalties_by_work_order_and_downloads_pdf_and_xlsx(
    suite: Suite,
    late_work_order: dict[str, Any],
    page_factory: Any,  # noqa: F811 (the fixture imported above)
    width: str,
    tmp_path: Path,
) -> None:
    late, month = late_work_order["late"], late_work_order["month"]
    p = await page_factory(width)
    await p.sign_in(*admin(suite))
    await p.page.click("header nav >> text=Agreement review")
    await p.page.wait_for_url(re.compile(r".*/console/review$"))
    await p.page.select_option("select[name=agreement]", AGREEMENT)
    await p.page.fill("input[name=month]", month)
    await p.page.click("#review-picker button[type=submit]")
    await p.page.wait_for_url(re.compile(rf".*/console/review\?agreement={AGREEMENT}&month={month}$"))
    assert "Hengda Steel" in await p.page.locator("#review-title").inner_text()
    penalties = p.page.locator("#review-penalties")
    row = penalties.locator("tbody tr", has_text=late)
    assert await row.count() == 1
    cells = await row.locator("td").all_inner_texts()
    assert cells[0] == late
    assert cells[2:5] == ["fr-arrive", "per_warning_run", "500.00 CNY"]
    assert late_work_order["on_time"] not in await penalties.inner_text()
    commitments = await p.page.locator("#review-commitments tbody td:first-child").all_inner_texts()
    assert commitments == [c["commitment"] for c in late_work_order["review"]["commitments"]]
    status = await p.page.locator("#review-periods tbody tr").first.locator("td").nth(1).inner_text()
    assert status in {"preview (not recorded)", "draft", "approved"}
    assert "awaiting-customer" in await p.page.locator("#review-exemptions").inner_text()
    await p.fits()
    await p.shot("review", width)

    async with p.page.expect_download() as pdf_download:
        await p.page.click("#download-pdf")
    pdf = await pdf_download.value
    assert pdf.suggested_filename == f"review-{AGREEMENT}-{month}.pdf"
    await pdf.save_as(tmp_path / "review.pdf")
    text = "\n".join(page.extract_text() for page in PdfReader(tmp_path / "review.pdf").pages)
    assert "供电服务协议" in text
    # one row of the penalties table, whatever line breaks the table's column widths put inside its cells
    assert re.search(rf"{late}\s+fr-arrive\s+per_warning_run\s+500\.00\s+CNY", text), text

    async with p.page.expect_download() as xlsx_download:
        await p.page.click("#download-xlsx")
    xlsx = await xlsx_download.value
    assert xlsx.suggested_filename == f"review-{AGREEMENT}-{month}.xlsx"
    await xlsx.save_as(tmp_path / "review.xlsx")
    book = openpyxl.load_workbook(tmp_path / "review.xlsx", read_only=True)
    header, *rows = book.worksheets[0].iter_rows(values_only=True)
    lines = [dict(zip(header, r, strict=True)) for r in rows]
    [charge] = [r for r in lines if r["section"] == "penalty" and r["work_order"] == late]
    assert (charge["commitment"], charge["kind"], charge["amount"], charge["currency"]) == (
        "fr-arrive",
        "per_warning_run",
        "500.00",
        "CNY",
    )
    assert p.errors == []


async def test_the_review_json_twin_and_csv_download_carry_the_work_order(
    suite: Suite, late_work_order: dict[str, Any]
) -> None:
    late, month = late_work_order["late"], late_work_order["month"]
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=60) as client:
        assert (await sign_in(client, *admin(suite))).status_code == 303
        twin = ok(await client.get("/console/review.json", params={"agreement": AGREEMENT, "month": month}))
        assert twin["agreement"] == AGREEMENT
        assert twin["downloads"]["csv"] == f"/console/review.csv?agreement={AGREEMENT}&month={month}"
        [line] = [p for p in twin["review"]["penalties"] if p["work_order"] == late]
        assert (line["amount"], line["currency"]) == ("500.00", "CNY")
        exported = await client.get(twin["downloads"]["csv"])
        assert exported.status_code == 200, exported.text
        assert exported.headers["content-type"].startswith("text/csv")
        assert exported.headers["content-disposition"] == f'attachment; filename="review-{AGREEMENT}-{month}.csv"'
        rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert [r["amount"] for r in rows if r["section"] == "penalty" and r["work_order"] == late] == ["500.00"]
        refused = [
            await client.get("/console/review.json", params={"agreement": "Not A Key", "month": month}),
            await client.get("/console/review.json", params={"agreement": AGREEMENT, "month": "2026-13"}),
            await client.get("/console/review.json", params={"agreement": "no-such-agreement", "month": month}),
            await client.get("/console/review.docx", params={"agreement": AGREEMENT, "month": month}),
        ]
        assert [r.status_code for r in refused] == [422, 422, 404, 404]
    async with httpx.AsyncClient(base_url=suite.gateway_url) as anonymous:
        assert (
            await anonymous.get("/console/review.pdf", params={"agreement": AGREEMENT, "month": month})
        ).status_code == 303


# ---- sign-in with a user token of the gateway's issuer ----------------------------------------------------------


def user_token(key: Any, **overrides: Any) -> str:
    claims = {
        "sub": f"ana-{uuid.uuid4().hex[:6]}",
        "iss": USER_TOKEN_ISSUER,
        "aud": USER_TOKEN_AUDIENCE,
        "exp": int(time.time()) + 600,
        "realm_access": {"roles": ["pledge-viewer"]},
        "department": "grid-ops",
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="RS256")


async def token_sign_in(client: httpx.AsyncClient, token: str, **headers: str) -> httpx.Response:
    form = await client.get("/console/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    return await client.post("/console/session/token", data={"csrf": csrf.group(1), "token": token}, headers=headers)


@needs_browser
async def test_a_user_token_signs_in_and_reads_the_review_with_its_own_scopes(
    suite: Suite,
    late_work_order: dict[str, Any],
    page_factory: Any,  # noqa: F811 (the fixture imported above)
    user_token_key: Any,
) -> None:
    p = await page_factory("wide")
    await p.page.goto(suite.gateway_url + "/console/sign-in")
    await p.page.click("#token-sign-in summary")
    await p.page.fill("textarea[name=token]", user_token(user_token_key, sub="ana"))
    await p.page.click("#sign-in-token")
    await p.page.wait_for_url(re.compile(r".*/console/status$"))
    assert "ana (token)" in await p.page.locator("header .user").inner_text()
    assert await p.page.locator("input[name=department]").input_value() == "grid-ops"  # the token's department
    await p.page.goto(f"{suite.gateway_url}/console/review?agreement={AGREEMENT}&month={late_work_order['month']}")
    assert await p.page.locator("#review-penalties tbody tr", has_text=late_work_order["late"]).count() == 1
    await p.page.goto(f"{suite.gateway_url}/console/alerts?state=open")
    assert await p.page.locator("button.ack").count() == 0  # a viewer's token may not acknowledge
    await p.page.click("header form button[type=submit]")  # sign out
    await p.page.wait_for_url(re.compile(r".*/console/sign-in$"))
    await p.page.goto(f"{suite.gateway_url}/console/status")
    await p.page.wait_for_url(re.compile(r".*/console/sign-in\?next="))
    assert p.errors == []


async def test_a_token_session_calls_the_api_with_the_token_and_ends_when_it_expires(
    suite: Suite, user_token_key: Any
) -> None:
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        signed_in = await token_sign_in(client, user_token(user_token_key, exp=int(time.time()) + 4))
        assert signed_in.status_code == 303, signed_in.text
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "Path=/console" in cookie
        twin = await client.get("/console/status.json")
        assert twin.status_code == 200, twin.text
        assert twin.json()["department"] == "grid-ops"
        await asyncio.sleep(5)
        assert (await client.get("/console/status.json")).status_code == 401  # the token expired: so did the session


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"iss": "https://someone-else"}, 401),
        ({"aud": "another-app"}, 401),
        ({"exp": 1}, 401),
        ({"realm_access": {"roles": []}}, 403),
    ],
    ids=["unknown issuer", "another audience", "expired", "no role that reads reports"],
)
async def test_a_token_the_gateway_refuses_opens_no_session(
    suite: Suite, user_token_key: Any, overrides: dict[str, Any], status: int
) -> None:
    async with httpx.AsyncClient(base_url=suite.url("console"), timeout=30) as client:
        address = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
        refused = await token_sign_in(client, user_token(user_token_key, **overrides), **{"X-Forwarded-For": address})
        assert refused.status_code == status, refused.text
        assert "pledge_console_session" not in refused.cookies
        assert 'role="alert"' in refused.text


async def test_token_sign_in_needs_the_csrf_token_and_is_rationed_per_address(
    suite: Suite, user_token_key: Any
) -> None:
    """Straight to the console (the gateway would write its own X-Forwarded-For): two addresses."""
    async with httpx.AsyncClient(base_url=suite.url("console"), timeout=30) as client:
        await client.get("/console/sign-in")
        forged = await client.post(
            "/console/session/token", data={"csrf": "forged", "token": user_token(user_token_key)}
        )
        assert forged.status_code == 403
        bad = user_token(user_token_key, iss="https://someone-else")
        statuses = [
            (await token_sign_in(client, bad, **{"X-Forwarded-For": "203.0.113.9"})).status_code for _ in range(6)
        ]
        assert statuses == [401] * 5 + [429]
        good = user_token(user_token_key)
        assert (await token_sign_in(client, good, **{"X-Forwarded-For": "203.0.113.9"})).status_code == 429
        assert (await token_sign_in(client, good, **{"X-Forwarded-For": "198.51.100.77"})).status_code == 303


# ---- ReDoc, served by the gateway ------------------------------------------------------------------------------


@needs_browser
async def test_redoc_renders_the_merged_openapi_from_the_gateways_own_assets(
    suite: Suite,
    page_factory: Any,  # noqa: F811 (the fixture imported above)
) -> None:
    p = await page_factory("wide")
    requested: list[str] = []
    failed: list[str] = []
    p.page.on("request", lambda r: requested.append(r.url))
    p.page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    await p.page.goto(suite.gateway_url + "/redoc")
    await p.page.locator("h1", has_text="Pledge API").wait_for(timeout=60_000)
    await p.page.get_by_text("Who Am I").first.wait_for(state="attached")  # an operation of the merged document
    elsewhere = [u for u in requested if not u.startswith((suite.gateway_url, "blob:", "data:"))]
    assert elsewhere == []  # nothing from a CDN or any other site
    assert failed == []
    assert p.errors == []  # no script, style or worker refused by the page's CSP
