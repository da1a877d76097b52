"""An agreement review or a settlement as a PDF to hand to a customer.

Text is set in reportlab's built-in CID font STSong-Light (Adobe-GB1: Chinese and Latin), which needs no
font file: nothing is downloaded or read from disk at runtime. Figures are written as the JSON writes them
(amounts with their minor digits, shares as percentages with one decimal).
"""

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

from evaluation_svc.insights.schemas import AgreementReview
from evaluation_svc.reports.schemas import Rate
from evaluation_svc.settlement.schemas import Settlement

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
BODY = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12)
CELL = ParagraphStyle("cell", parent=BODY, fontSize=8, leading=10)
HEADING = ParagraphStyle("heading", parent=BODY, fontSize=12, leading=16, spaceBefore=8, spaceAfter=4)
TITLE = ParagraphStyle("title", parent=BODY, fontSize=16, leading=22, spaceAfter=2)
GRID = TableStyle([
    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
])  # fmt: skip


@dataclass(frozen=True, slots=True)
class GoverningVersion:
    """A commitment version in force during the document's period (its definitions govern the figures)."""

    commitment_key: str
    version: int
    limit_unit: str
    commitment_limit: str
    tolerance_limit: str
    effective_from: datetime | None
    effective_to: datetime | None


def text(value: Any) -> str:
    """A value as the document writes it."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def share(rate: Rate) -> str:
    return "-" if rate.share is None else f"{rate.share * 100:.1f} %"


# the page's 180 mm between margins: period, work order, commitment, kind, amount, reason
PENALTY_WIDTHS = tuple(w * mm for w in (20, 36, 28, 30, 26, 40))


def _p(value: Any, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(escape(text(value)), style)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], widths: Sequence[float] | None = None) -> Table:
    data = [[_p(h, CELL) for h in header]] + [[_p(v, CELL) for v in row] for row in rows]
    table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(GRID)
    return table


def _section(
    story: list[Any],
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float] | None = None,
) -> None:
    story.append(Paragraph(escape(title), HEADING))
    story.append(_table(header, rows, widths) if rows else _p("None."))


def _heading(story: list[Any], organisation: str, kind: str, agreement: dict[str, Any]) -> None:
    story.append(_p(organisation, TITLE))
    story.append(_p(kind, HEADING))
    story.append(_p(agreement.get("title") or agreement.get("key"), TITLE))
    facts = [
        ("Agreement", f"{text(agreement.get('key'))} ({text(agreement.get('kind'))}), version"
                      f" {text(agreement.get('version'))}, {text(agreement.get('status'))}"),
        ("Provider", agreement.get("provider")),
        ("Customer", agreement.get("customer")),
    ]  # fmt: skip
    for label, value in facts:
        story.append(_p(f"{label}: {text(value)}"))


def _definitions(story: list[Any], agreement: dict[str, Any], versions: Sequence[GoverningVersion]) -> None:
    story.append(Paragraph("Definitions in force", HEADING))
    story.append(_p(f"Agreement {text(agreement.get('key'))} version {text(agreement.get('version'))}."))
    rows = [(v.commitment_key, v.version, v.limit_unit, v.commitment_limit, v.tolerance_limit, v.effective_from,
             v.effective_to) for v in versions]  # fmt: skip
    header = ("Commitment", "Version", "Unit", "Commitment limit", "Tolerance limit", "In force from", "Until")
    story.append(_table(header, rows) if rows else _p("No commitment version was in force."))


def _money(amount: Decimal | None, currency: str | None) -> str:
    return "-" if amount is None else f"{amount} {currency or ''}".strip()


def _render(story: list[Any], title: str) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, title=title,
                            topMargin=15 * mm, bottomMargin=15 * mm)  # fmt: skip
    doc.build(story)
    return buffer.getvalue()


def review_pdf(
    review: AgreementReview, versions: Sequence[GoverningVersion], organisation: str, generated_at: datetime
) -> bytes:
    """The review of an agreement over a range: per commitment against its target, per billing period, the
    exemptions, the penalties itemised by work order, and the credits."""
    # the billing currency; without one, the penalties' (a review's totals are per currency)
    currency = review.billing.get("currency") or (next(iter(review.totals)) if len(review.totals) == 1 else None)
    story: list[Any] = []
    _heading(story, organisation, "Service agreement review", review.agreement)
    story.append(_p(f"Period: {text(review.from_)} to {text(review.to)} (judged as of {text(review.as_of)})"))
    story.append(_p(f"Billing: {text(review.billing.get('period'))}, time zone"
                    f" {text(review.billing.get('timezone'))}, base fee"
                    f" {_money(review.billing.get('base_fee'), currency)}, cap"
                    f" {_money(review.billing.get('cap'), currency)}"))  # fmt: skip
    story.append(_p(f"Issued {text(generated_at)}"))
    _definitions(story, review.agreement, versions)
    _section(
        story,
        "Commitments against their targets",
        ("Commitment", "Target", "Runs", "Judged", "Normal", "Achieved", "Met", "Excluded", "Relieved"),
        [(c.commitment_key, f"{c.target_rate * 100:.1f} %", c.runs, c.judged, c.normal.count, share(c.normal),
          c.met, c.excluded, c.relieved_by_exemptions) for c in review.commitments],
    )  # fmt: skip
    _section(
        story,
        "Billing periods",
        ("Period", "Status", "Penalties", "Credit", "Adjustments", "Credits", "Amount due"),
        [(p.period, p.status, _money(p.penalties, currency), _money(p.credit, currency),
          _money(p.adjustments, currency), _money(p.credits, currency), _money(p.amount_due, currency))
         for p in review.periods],
    )  # fmt: skip
    reasons = ", ".join(review.exemptions.get("pause_reasons") or ()) or "none"
    story.append(Paragraph("Exemptions", HEADING))
    story.append(_p(f"Pauses for these reasons are not counted: {reasons}."))
    windows = review.exemptions.get("force_majeure") or []
    _section(story, "Force majeure", ("From", "To", "Reason"), [(w["from"], w["to"], w["reason"]) for w in windows])
    _section(
        story,
        "Penalties",
        ("Period", "Work order", "Commitment", "Kind", "Amount", "Reason"),
        [(p.period, p.work_order, p.commitment_key, p.kind, _money(p.amount, p.currency), p.reason)
         for p in review.penalties],
        PENALTY_WIDTHS,  # fixed: a long reason or work order elsewhere never wraps an amount
    )  # fmt: skip
    _section(
        story,
        "Runs excluded (force majeure)",
        ("Period", "Work order", "Commitment", "Reason"),
        [(r.period, r.work_order, r.commitment_key, r.reason) for r in review.excluded],
    )
    _section(story, "Totals", ("Currency", "Credits"), [(c, _money(a, c)) for c, a in review.totals.items()])
    return _render(story, f"Agreement review {text(review.agreement.get('key'))}")


def settlement_pdf(
    settlement: Settlement, versions: Sequence[GoverningVersion], organisation: str, generated_at: datetime
) -> bytes:
    """One billing period's settlement: achievement per commitment, the charges by work order, and totals."""
    currency = settlement.currency
    agreement = dict(settlement.agreement)
    story: list[Any] = []
    _heading(story, organisation, f"Settlement {settlement.period}", agreement)
    story.append(_p(f"Period: {settlement.period}, {text(settlement.from_)} to {text(settlement.to)}"
                    f" ({settlement.billing_period}, time zone {settlement.billing_timezone})"))  # fmt: skip
    story.append(_p(f"Status: {settlement.status}; computed {text(settlement.computed_at)}; approved"
                    f" {text(settlement.approved_at)} by {text(settlement.approved_by)}"))  # fmt: skip
    story.append(_p(f"Issued {text(generated_at)}"))
    _definitions(story, agreement, versions)
    _section(
        story,
        "Commitments against their targets",
        ("Commitment", "Target", "Runs", "Judged", "Normal", "Achieved", "Met", "Excluded", "Pending"),
        [(c.commitment_key, f"{c.target_rate * 100:.1f} %", c.runs, c.judged, c.normal.count, share(c.normal),
          c.met, c.excluded, c.pending) for c in settlement.commitments],
    )  # fmt: skip
    _section(
        story,
        "Charges",
        ("Work order", "Source", "Commitment", "Kind", "Amount", "Reason"),
        [(c.work_order, c.source, c.commitment_key, c.kind, _money(c.amount, currency), c.reason)
         for c in settlement.charges],
    )  # fmt: skip
    _section(
        story,
        "Adjustments of approved periods",
        ("Period", "Settled", "Recomputed", "Amount"),
        [(a.period, _money(a.settled_credit, currency), _money(a.recomputed_credit, currency),
          _money(a.amount, currency)) for a in settlement.adjustments],
    )  # fmt: skip
    _section(
        story,
        "Runs excluded (force majeure)",
        ("Work order", "Commitment", "Ended", "Reason"),
        [(r.work_order, r.commitment_key, r.ended_at, r.reason) for r in settlement.excluded],
    )
    _section(
        story,
        "Runs pending (open past tolerance at the close)",
        ("Work order", "Commitment", "State"),
        [(r.work_order, r.commitment_key, r.state) for r in settlement.pending],
    )
    t = settlement.totals
    _section(
        story,
        "Totals",
        ("Penalties", "Cap", "Above the cap", "Credit", "Adjustments", "Credits", "Base fee", "Amount due"),
        [tuple(_money(v, currency) for v in (t.penalties, t.cap, t.capped_off, t.credit, t.adjustments, t.credits,
                                             t.base_fee, t.amount_due))],
    )  # fmt: skip
    return _render(story, f"Settlement {text(agreement.get('key'))} {settlement.period}")
