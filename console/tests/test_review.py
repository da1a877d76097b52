"""The agreement review's pure parts: the agreements to choose from, the download's name, the page's values."""

import re
from pathlib import Path

import pledge_console
import pytest
from jinja2 import Environment, FileSystemLoader
from pledge_console.i18n import Translator
from pledge_console.web.review import EXPORTS, agreement_choices, download_name, review_view


class TestAgreementChoices:
    def test_one_choice_per_key_with_its_latest_versions_title_and_billing_zone(self) -> None:
        items = [
            {"key": "sla-b", "version": 1, "title": "B", "kind": "sla", "billing": {"timezone": "UTC"}},
            {"key": "sla-a", "version": 1, "title": "A old", "kind": "sla", "billing": {"timezone": "UTC"}},
            {"key": "sla-a", "version": 3, "title": "A", "kind": "sla", "billing": {"timezone": "Asia/Shanghai"}},
            {"key": "sla-a", "version": 2, "title": "A mid", "kind": "sla", "billing": {"timezone": "UTC"}},
        ]
        choices = agreement_choices(items)
        assert [(c.key, c.version, c.title, c.billing_timezone) for c in choices] == [
            ("sla-a", 3, "A", "Asia/Shanghai"),
            ("sla-b", 1, "B", "UTC"),
        ]

    def test_an_agreement_without_billing_is_read_in_utc(self) -> None:
        [choice] = agreement_choices([{"key": "ola-x", "version": 1, "title": "X", "kind": "ola"}])
        assert choice.billing_timezone == "UTC"


class TestDownloadName:
    @pytest.mark.parametrize("fmt", EXPORTS)
    def test_the_name_says_agreement_month_and_format(self, fmt: str) -> None:
        assert download_name("sla-hengda-steel", "2026-11", fmt) == f"review-sla-hengda-steel-2026-11.{fmt}"

    @pytest.mark.parametrize(
        ("agreement", "month", "fmt"),
        [
            ('a"b', "2026-11", "pdf"),
            ("sla-a", "2026-13", "pdf"),
            ("sla-a", "2026-11", "docx"),
            ("../x", "2026-11", "csv"),
        ],
    )
    def test_nothing_outside_the_patterns_reaches_the_header(self, agreement: str, month: str, fmt: str) -> None:
        with pytest.raises(ValueError):
            download_name(agreement, month, fmt)


REVIEW = {
    "agreement": {"key": "sla-a", "title": "<b>A</b>", "kind": "sla", "version": 2, "provider": "p", "customer": "c"},
    "from": "2026-11-01T00:00:00Z",
    "to": "2026-12-01T00:00:00Z",
    "as_of": "2026-12-01T00:00:00Z",
    "billing": {"period": "month", "timezone": "UTC"},
    "periods": [
        {
            "period": "2026-11",
            "status": "approved",
            "penalties": "10500.00",
            "credit": "10500.00",
            "adjustments": "0.00",
            "credits": "10500.00",
            "amount_due": None,
            "pending": [{"node_run_id": "r"}],
        }
    ],
    "commitments": [
        {
            "commitment": "fr-arrive",
            "target_rate": 0.95,
            "runs": 20,
            "judged": 20,
            "cancelled": 0,
            "excluded": 1,
            "relieved_by_exemptions": 2,
            "normal": {"count": 18, "share": 0.9, "interval": [0.7, 0.97]},
            "met": False,
        }
    ],
    "exemptions": {"pause_reasons": ["awaiting-customer"], "force_majeure": []},
    "excluded": [],
    "penalties": [
        {
            "period": "2026-11",
            "clause": 0,
            "kind": "per_warning_run",
            "commitment": "fr-arrive",
            "node_run_id": "n1",
            "ticket_id": "t1",
            "work_order": "WO-1",
            "amount": "500.00",
            "currency": "CNY",
            "reason": "ended beyond the tolerance limit",
        }
    ],
    "totals": {"CNY": "10500.00"},
}


class TestReviewView:
    def test_penalties_keep_their_work_order_amount_and_currency(self) -> None:
        view = review_view(REVIEW)
        assert view["penalties"] == [
            {
                "period": "2026-11",
                "work_order": "WO-1",
                "ticket_id": "t1",
                "commitment": "fr-arrive",
                "kind": "per_warning_run",
                "amount": "500.00",
                "currency": "CNY",
                "reason": "ended beyond the tolerance limit",
            }
        ]

    def test_each_commitment_against_its_target(self) -> None:
        [c] = review_view(REVIEW)["commitments"]
        assert (c["target_rate"], c["judged"], c["normal"], c["share"], c["met"]) == (0.95, 20, 18, 0.9, False)
        assert (c["excluded"], c["relieved_by_exemptions"]) == (1, 2)

    def test_the_settlement_status_and_pending_count_of_each_period(self) -> None:
        [p] = review_view(REVIEW)["periods"]
        assert (p["period"], p["status"], p["credits"], p["pending"]) == ("2026-11", "approved", "10500.00", 1)

    def test_values_are_passed_as_they_are_for_the_template_to_escape(self) -> None:
        view = review_view(REVIEW)
        assert view["agreement"]["title"] == "<b>A</b>"
        assert view["exemptions"] == {"pause_reasons": ["awaiting-customer"], "force_majeure": []}
        assert view["totals"] == {"CNY": "10500.00"}


class TestReviewTemplate:
    def render(self, lang: str) -> str:
        templates = Path(pledge_console.__file__).parent / "templates"
        env = Environment(loader=FileSystemLoader(templates), autoescape=True)
        hostile = {**REVIEW, "agreement": {**REVIEW["agreement"], "title": '<script>alert("x")</script>'}}  # type: ignore[dict-item]
        html = env.get_template("review.html").render(
            t=Translator(lang),
            lang=lang,
            local=lambda v: str(v or ""),
            path="/console/review",
            query="",
            me={"username": "ana", "role": "viewer"},
            csrf="c",
            agreements=[{"key": "sla-a", "title": "<i>A</i>", "kind": "sla", "version": 2}],
            agreement="sla-a",
            month="2026-11",
            billing_timezone="UTC",
            review=review_view(hostile),
            downloads={f: f"/console/review.{f}?agreement=sla-a&month=2026-11" for f in EXPORTS},
        )
        assert not re.search(r"<script(?![^>]*\ssrc=)", html)  # escaped: no inline script can appear
        assert " style=" not in html
        return html

    def test_values_are_escaped_and_the_work_order_links_to_its_ticket(self) -> None:
        html = self.render("en")
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
        assert "&lt;i&gt;A&lt;/i&gt;" in html
        assert '<a href="/console/tickets/t1">WO-1</a>' in html
        assert 'id="download-pdf" href="/console/review.pdf?agreement=sla-a&amp;month=2026-11"' in html

    def test_the_page_speaks_chinese(self) -> None:
        html = self.render("zh")
        assert "协议考核" in html
        assert "工单号" in html
        assert "已批准" in html
