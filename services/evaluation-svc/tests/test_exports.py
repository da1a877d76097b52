"""CSV, XLSX and PDF answers of the report routes through the HTTP API, on real Postgres: the same figures
as the JSON, negotiated with Accept only."""

import csv
import io
from typing import Any

import httpx
import openpyxl
import pytest
from evalfactories import agreement, commitment, process
from evaluation_svc.readmodel.service import Projection
from fastapi import FastAPI
from pledge_common.exports import CSV, PDF, XLSX
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession
from test_settlement import PER_WARNING, run

TITLE = "居民故障抢修服务协议"
PERIOD = {"from": "2025-11-01T00:00:00Z", "to": "2025-12-01T00:00:00Z"}
REVIEW = "/v1/reports/agreements/sla-1"
SETTLEMENT = "/v1/reports/agreements/sla-1/settlements/2025-11"


async def load(session: AsyncSession, *runs: Any) -> None:
    """sla-1 (a Chinese title) covers repair-residential (PT6H / PT10H) at 90 %, 500 CNY per warning run."""
    signed = agreement(penalties=(PER_WARNING,))
    signed.payload["title"] = TITLE
    projection = Projection()
    await projection.handle_commitment(session, [process(), commitment(calendar_key=None), signed])
    await projection.handle_tracking(session, list(runs))


def november() -> list[Any]:
    """Three normal runs (2 h), one acceptable (8 h), two in warning (12 h), in November 2025."""
    return [
        *(run(f"nov-n{i}", "2025-11-10 00:00", 2) for i in range(3)),
        run("nov-a0", "2025-11-11 00:00", 8),
        *(run(f"nov-w{i}", "2025-11-12 00:00", 12) for i in range(2)),
    ]


def table(response: httpx.Response) -> list[dict[str, str]]:
    """A CSV answer as rows of text (its BOM checked and dropped)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body[1:])))


def sheet(response: httpx.Response) -> list[dict[str, Any]]:
    """An XLSX answer's first sheet as rows (None for an empty cell)."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    header, *rows = book.worksheets[0].iter_rows(values_only=True)
    return [dict(zip(header, row, strict=True)) for row in rows]


def pdf_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == PDF
    assert response.content.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)


async def get(client: httpx.AsyncClient, path: str, accept: str | None = None, **params: Any) -> httpx.Response:
    headers = {"Accept": accept} if accept else {}
    return await client.get(path, params={**PERIOD, **params}, headers=headers)


def cell(value: Any) -> str:
    """A JSON value as the CSV writes it."""
    return "" if value is None else "true" if value is True else "false" if value is False else str(value)


class TestStatusTable:
    @pytest.fixture(autouse=True)
    async def data(self, session: AsyncSession) -> None:
        await load(session, *november())

    async def test_csv_holds_one_row_per_json_row_and_total_with_the_same_counts(
        self, client: httpx.AsyncClient
    ) -> None:
        body = (await get(client, "/v1/reports/status")).json()
        response = await get(client, "/v1/reports/status", CSV)
        rows = table(response)
        assert (
            'attachment; filename="status-20251101T0000Z-20251201T0000Z.csv"' in response.headers["content-disposition"]
        )
        expected = [("row", r) for r in body["rows"]] + [("total", r) for r in body["totals"]]
        assert len(rows) == len(expected)
        for got, (part, want) in zip(rows, expected, strict=True):
            assert got["part"] == part
            assert got["group.process"] == cell(want["group"]["process"])
            assert got["bucket.as_of"] == want["bucket"]["as_of"]
            assert {s: int(got[f"counts.{s}"]) for s in want["counts"]} == want["counts"]
            assert (int(got["total"]), int(got["exempted"])) == (want["total"], want["exempted"])
        assert "links.normal" not in rows[0]

    async def test_xlsx_holds_the_same_counts_as_numbers(self, client: httpx.AsyncClient) -> None:
        body = (await get(client, "/v1/reports/status")).json()
        rows = sheet(await get(client, "/v1/reports/status", XLSX))
        [want] = body["rows"]
        assert rows[0]["part"] == "row"
        assert {s: rows[0][f"counts.{s}"] for s in want["counts"]} == want["counts"]
        assert rows[0]["total"] == want["total"] == 6

    async def test_json_stays_the_default_and_is_chosen_by_quality(self, client: httpx.AsyncClient) -> None:
        for accept in (None, "*/*", "application/json", "text/*;q=0.5, application/*", "text/csv;q=0.1, */*"):
            response = await get(client, "/v1/reports/status", accept)
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/json", accept
        response = await get(client, "/v1/reports/status", "application/json;q=0.2, text/csv")
        assert response.headers["content-type"].startswith("text/csv")

    @pytest.mark.parametrize("accept", ["text/html", "application/pdf", "application/xml, text/plain", "text/csv;q=0"])
    async def test_an_accept_the_route_cannot_answer_is_406_naming_the_header(
        self, client: httpx.AsyncClient, accept: str
    ) -> None:
        response = await get(client, "/v1/reports/status", accept)
        assert response.status_code == 406
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "header.Accept"

    async def test_bad_parameters_of_an_export_are_422_not_a_file(self, client: httpx.AsyncClient) -> None:
        response = await get(client, "/v1/reports/status", CSV, group_by="colour")
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"

    async def test_there_is_no_format_parameter_accept_is_the_one_syntax(self, client: httpx.AsyncClient) -> None:
        response = await get(client, "/v1/reports/status", format="csv")
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "query.format"


class TestAchievement:
    async def test_csv_rates_and_intervals_equal_the_json(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await load(session, *november())
        body = (await get(client, "/v1/reports/achievement")).json()
        rows = table(await get(client, "/v1/reports/achievement", CSV))
        assert [r["part"] for r in rows] == ["group"] * len(body["groups"]) + ["overall"] * len(body["overall"])
        got, want = rows[0], body["groups"][0]
        assert got["normal.count"] == "3" == str(want["normal"]["count"])
        assert float(got["normal.share"]) == want["normal"]["share"] == 0.5
        assert float(got["normal.interval.low"]) == want["normal"]["interval"][0]
        assert float(got["normal.interval.high"]) == want["normal"]["interval"][1]
        assert got["counted_duration.median"] == want["counted_duration"]["median"]


class TestStatusRuns:
    @pytest.fixture(autouse=True)
    async def data(self, session: AsyncSession, app: FastAPI) -> None:
        await load(session, *november(), *(run(f"dec-{i}", "2025-11-20 00:00", 1) for i in range(4)))
        # pages of 3 runs: an export of 10 runs is read from the database in several chunks
        app.state.settings = app.state.settings.model_copy(update={"page_max": 3})

    async def json_ids(self, client: httpx.AsyncClient) -> list[str]:
        ids, cursor = [], None
        while True:
            page = await get(client, "/v1/reports/status/runs", limit=3, **({"cursor": cursor} if cursor else {}))
            body = page.json()
            ids += [r["id"] for r in body["items"]]
            if (cursor := body["next_cursor"]) is None:
                return ids

    async def test_a_csv_export_streams_every_run_of_the_cell_past_the_page_size(
        self, client: httpx.AsyncClient
    ) -> None:
        rows = table(await get(client, "/v1/reports/status/runs", CSV))
        assert [r["id"] for r in rows] == await self.json_ids(client)
        assert len(rows) == 10
        first = (await get(client, "/v1/reports/status/runs", limit=1)).json()["items"][0]
        assert rows[0]["external_id"] == first["external_id"]
        assert rows[0]["counted"] == first["counted"]
        assert rows[0]["state"] == first["state"]

    async def test_an_export_with_a_limit_links_the_rest(self, client: httpx.AsyncClient) -> None:
        response = await get(client, "/v1/reports/status/runs", XLSX, limit=7)
        first = sheet(response)
        link = response.headers["link"]
        assert link.endswith('>; rel="next"')
        rest = table(await client.get(link[1 : link.index(">")], headers={"Accept": CSV}))
        assert [r["id"] for r in first] + [r["id"] for r in rest] == await self.json_ids(client)
        assert len(first) == 7

    async def test_a_state_filter_applies_to_the_export(self, client: httpx.AsyncClient) -> None:
        rows = table(await get(client, "/v1/reports/status/runs", CSV, state="completed_warning"))
        assert sorted(r["id"] for r in rows) == ["nov-w0", "nov-w1"]

    async def test_an_export_limit_above_the_export_maximum_is_422(
        self, client: httpx.AsyncClient, app: FastAPI
    ) -> None:
        too_many = app.state.settings.export_max_rows + 1
        response = await get(client, "/v1/reports/status/runs", CSV, limit=too_many)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "query.limit"
        assert (await get(client, "/v1/reports/status/runs", limit=4)).status_code == 422  # JSON: the page size


class TestAgreementReview:
    @pytest.fixture(autouse=True)
    async def data(self, session: AsyncSession, app: FastAPI) -> None:
        await load(session, *november())
        app.state.settings = app.state.settings.model_copy(update={"organisation_name": "国网示范供电公司"})

    async def test_pdf_names_the_organisation_the_chinese_title_the_versions_and_the_figures(
        self, client: httpx.AsyncClient
    ) -> None:
        body = (await get(client, REVIEW)).json()
        response = await get(client, REVIEW, PDF)
        assert 'filename="agreement-sla-1-20251101T0000Z-20251201T0000Z.pdf"' in response.headers["content-disposition"]
        text = pdf_text(response)
        assert "国网示范供电公司" in text
        assert TITLE in text
        assert "version 1" in text  # the agreement's
        assert "repair-residential\n1\nduration\nPT6H\nPT10H" in text  # the commitment version that governed
        [covered] = body["commitments"]
        assert f"{covered['normal']['share'] * 100:.1f} %" in text
        assert [p["work_order"] for p in body["penalties"]] == ["ext-nov-w0", "ext-nov-w1"]
        for line in body["penalties"]:
            assert f"2025-11\n{line['work_order']}\nrepair-residential\nper_warning_run\n{line['amount']} CNY" in text
        assert "2025-11\npreview\n1000.00 CNY\n1000.00 CNY\n0.00 CNY\n1000.00 CNY" in text
        assert body["totals"] == {"CNY": "1000.00"}
        assert "1000.00 CNY" in text

    async def test_csv_sections_hold_the_json_figures(self, client: httpx.AsyncClient) -> None:
        body = (await get(client, REVIEW)).json()
        rows = table(await get(client, REVIEW, CSV))
        sections = [r["section"] for r in rows]
        assert sections == sorted(sections, key=["period", "period_commitment", "commitment", "penalty", "excluded",
                                                 "total"].index)  # fmt: skip
        penalties = [r for r in rows if r["section"] == "penalty"]
        assert [(r["work_order"], r["amount"]) for r in penalties] == [
            (p["work_order"], p["amount"]) for p in body["penalties"]
        ]
        [total] = [r for r in rows if r["section"] == "total"]
        assert (total["currency"], total["credits"]) == ("CNY", body["totals"]["CNY"])
        [period] = [r for r in rows if r["section"] == "period"]
        assert period["credits"] == body["periods"][0]["credits"]
        assert period["satisfaction_unavailable"] == cell(body["periods"][0]["satisfaction_unavailable"])

    async def test_xlsx_keeps_the_chinese_text(self, client: httpx.AsyncClient) -> None:
        rows = sheet(await get(client, REVIEW, XLSX))
        [covered] = [r for r in rows if r["section"] == "commitment"]
        assert covered["commitment"] == "repair-residential"
        assert covered["judged"] == 6

    async def test_an_unknown_agreement_is_404_in_every_format(self, client: httpx.AsyncClient) -> None:
        for accept in (CSV, PDF):
            response = await get(client, "/v1/reports/agreements/nope", accept)
            assert response.status_code == 404
            assert response.headers["content-type"] == "application/problem+json"

    async def test_406_lists_what_the_route_answers(self, client: httpx.AsyncClient) -> None:
        response = await get(client, REVIEW, "image/png")
        assert response.status_code == 406
        assert "application/pdf" in response.json()["detail"]


class TestSettlement:
    async def test_pdf_itemises_the_charges_by_work_order_with_the_totals(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await load(session, *november())
        body = (await client.get(SETTLEMENT)).json()
        text = pdf_text(await client.get(SETTLEMENT, headers={"Accept": PDF}))
        assert TITLE in text
        assert "Settlement 2025-11" in text
        for charge in body["charges"]:
            assert f"{charge['work_order']}\ncrm\nrepair-residential\nper_warning_run\n{charge['amount']} CNY" in text
        assert body["totals"]["credits"] == "1000.00"
        assert "1000.00 CNY" in text

    async def test_csv_charges_and_totals_equal_the_json(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await load(session, *november())
        body = (await client.get(SETTLEMENT)).json()
        response = await client.get(SETTLEMENT, headers={"Accept": CSV})
        rows = table(response)
        assert 'filename="settlement-sla-1-2025-11.csv"' in response.headers["content-disposition"]
        charges = [(r["work_order"], r["amount"]) for r in rows if r["section"] == "charge"]
        assert charges == [(c["work_order"], c["amount"]) for c in body["charges"]]
        [totals] = [r for r in rows if r["section"] == "total"]
        assert {k: totals[k] for k in ("penalties", "credit", "credits")} == {
            k: body["totals"][k] for k in ("penalties", "credit", "credits")
        }


class TestOtherReports:
    async def test_rankings_and_recommendations_export_their_items(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await load(session, *november())
        params = {"min_sample": 1}
        ranked = (await get(client, "/v1/reports/rankings", **params)).json()
        rows = table(await get(client, "/v1/reports/rankings", CSV, **params))
        assert [(r["key"], float(r["normal.share"])) for r in rows] == [
            (g["key"], g["normal"]["share"]) for g in ranked["ranked"]
        ]
        advice = (await get(client, "/v1/recommendations", min_sample=1)).json()
        rows = sheet(await get(client, "/v1/recommendations", XLSX, min_sample=1))
        assert [(r["commitment"], r["recommendation"], r["achievement.share"]) for r in rows] == [
            (i["commitment"], i["recommendation"], i["achievement"]["share"]) for i in advice["items"]
        ]

    @pytest.mark.parametrize("path", ["/v1/reports/rejudgements", "/v1/reports/agreements/sla-1/settlements"])
    async def test_lists_export_a_header_row_even_when_empty(
        self, session: AsyncSession, client: httpx.AsyncClient, path: str
    ) -> None:
        await load(session)
        response = await client.get(path, headers={"Accept": CSV})
        assert response.status_code == 200, response.text
        assert response.content.decode("utf-8").startswith("\ufeff")


def test_csv_cells_that_read_as_formulas_are_quoted_but_negative_figures_are_not() -> None:
    from pledge_common.exports import _csv_text

    assert _csv_text("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _csv_text("-50.00") == "-50.00"
    assert _csv_text(-3) == "-3"
