"""Exports end to end: the demo SLA's review downloaded through the gateway as CSV, XLSX and PDF, with the
figures of its JSON. Work orders of the demo's enterprise customer Hengda Steel are pushed to tracking-svc;
a crew that arrives 3 hours after dispatch is beyond `fr-arrive`'s tolerance (PT90M) and charged 500 CNY.
"""

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openpyxl
from pledge_dev.demo_org import load_demo_org
from pypdf import PdfReader
from support import eventually, ok, post_event

REVIEW = "/v1/reports/agreements/sla-hengda-steel"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def events(number: str, dispatched: datetime, arrived: datetime) -> list[dict[str, Any]]:
    ticket = {"external_id": number, "process": "fault-repair", "segment": "enterprise", "customer": "hengda-steel"}
    return [
        {"event_id": f"{number}-{kind}", "type": kind, "occurred_at": at.isoformat(), "source": "e2e-crm",
         "ticket": ticket, **({"node": "arrive"} if kind.startswith("node.") else {})}
        for kind, at in (("ticket.opened", dispatched), ("node.started", dispatched), ("node.completed", arrived))
    ]  # fmt: skip


def arrivals(review: dict[str, Any]) -> dict[str, Any]:
    [covered] = [c for c in review["commitments"] if c["commitment"] == "fr-arrive"]
    return covered


async def test_the_demo_agreement_review_downloads_as_csv_xlsx_and_pdf_with_the_json_figures(
    gateway: httpx.AsyncClient,
) -> None:
    await load_demo_org(gateway)
    now = datetime.now(UTC)
    late, on_time = f"WO-LATE-{uuid.uuid4().hex[:6]}", f"WO-OK-{uuid.uuid4().hex[:6]}"
    arrived = now - timedelta(hours=1)
    start = arrived.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=32)).replace(day=1)
    period = {"from": start.isoformat(), "to": end.isoformat()}
    before = await gateway.get(REVIEW, params=period)
    judged_before = 0 if before.status_code == 404 else arrivals(ok(before))["judged"]
    for body in events(late, now - timedelta(hours=4), now - timedelta(hours=1)) + events(
        on_time, now - timedelta(hours=2), now - timedelta(hours=1, minutes=40)
    ):
        await post_event(gateway, body)

    async def charged() -> Any:
        response = await gateway.get(REVIEW, params=period)
        if response.status_code == 404:  # the demo agreement has not reached evaluation-svc's read model yet
            return None
        review = ok(response)
        both_judged = arrivals(review)["judged"] >= judged_before + 2
        return review if both_judged and any(p["work_order"] == late for p in review["penalties"]) else None

    review = await eventually(charged, "evaluation-svc to judge both arrivals and charge the late one")
    [line] = [p for p in review["penalties"] if p["work_order"] == late]
    assert (line["kind"], line["amount"], line["currency"]) == ("per_warning_run", "500.00", "CNY")

    response = await gateway.get(REVIEW, params=period, headers={"Accept": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="agreement-sla-hengda-steel-')
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text[1:])))
    [row] = [r for r in rows if r["section"] == "penalty" and r["work_order"] == late]
    assert (row["kind"], row["amount"], row["currency"]) == ("per_warning_run", "500.00", "CNY")
    assert on_time not in {r["work_order"] for r in rows if r["section"] == "penalty"}

    response = await gateway.get(REVIEW, params=period, headers={"Accept": XLSX})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    header, *cells = book.worksheets[0].iter_rows(values_only=True)
    by_section = [dict(zip(header, c, strict=True)) for c in cells]
    covered = {r["commitment"]: r for r in by_section if r["section"] == "commitment"}
    for c in review["commitments"]:
        assert (covered[c["commitment"]]["judged"], covered[c["commitment"]]["normal.count"]) == (
            c["judged"],
            c["normal"]["count"],
        )

    response = await gateway.get(REVIEW, params=period, headers={"Accept": "application/pdf"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    pdf = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "供电服务协议" in pdf  # the demo agreement's Chinese title
    # one row of the penalties table, whatever line breaks the table's column widths put inside its cells
    assert re.search(rf"{late}\s+fr-arrive\s+per_warning_run\s+500\.00\s+CNY", pdf), pdf
    for currency, credits in review["totals"].items():
        assert f"{currency}\n{credits} {currency}" in pdf

    refused = await gateway.get(REVIEW, params=period, headers={"Accept": "text/html"})
    assert refused.status_code == 406
    assert refused.json()["errors"][0]["field"] == "header.Accept"
