"""Each report as flat rows: one row per item or cell, nested values under dotted column names, the figures
exactly as the JSON writes them (each row is the item's JSON, flattened)."""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pledge_common.exports import Cell, flatten
from pydantic import BaseModel

from evaluation_svc.insights.schemas import AgreementReview, Rankings, Recommendations
from evaluation_svc.rejudge.schemas import RejudgedRun, RejudgementPublic
from evaluation_svc.reports.schemas import AchievementReport, ReportRunPublic, StatusReport
from evaluation_svc.settlement.schemas import Settlement, SettlementList

Row = dict[str, Cell]


def _intervals(value: Any) -> Any:
    """A rate's `interval` [low, high] as two columns (`interval.low`, `interval.high`) instead of one text."""
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if k == "interval" and (v is None or (isinstance(v, list) and len(v) == 2)):
                out[k] = {"low": v[0] if v else None, "high": v[1] if v else None}
            else:
                out[k] = _intervals(v)
        return out
    return value


def row_of(item: BaseModel | Mapping[str, Any], *, exclude: set[str] | None = None, **first: Cell) -> Row:
    """One item as a row: `first` columns (a section, a part), then the item's JSON flattened."""
    data = item.model_dump(mode="json", by_alias=True, exclude=exclude) if isinstance(item, BaseModel) else item
    return {**first, **flatten(_intervals(data))}


def _parts(parts: Sequence[tuple[str, Iterable[BaseModel]]], *, exclude: set[str] | None = None) -> list[Row]:
    return [row_of(item, exclude=exclude, part=name) for name, items in parts for item in items]


def status_rows(report: StatusReport) -> list[Row]:
    """One row per cell line (bucket, population, group), then the totals; `links` left out (API paths)."""
    return _parts([("row", report.rows), ("total", report.totals), ("service", report.services)], exclude={"links"})


def achievement_rows(report: AchievementReport) -> list[Row]:
    return _parts([("group", report.groups), ("overall", report.overall)])


def rankings_rows(report: Rankings) -> list[Row]:
    """The ranked groups best first, then those under the minimum sample (`top`/`bottom` are slices of them)."""
    return _parts([("ranked", report.ranked), ("insufficient", report.insufficient)])


def recommendations_rows(report: Recommendations) -> list[Row]:
    return [row_of(item) for item in report.items]


def run_row(run: ReportRunPublic) -> Row:
    return row_of(run)


def rejudgement_rows(items: Iterable[RejudgementPublic]) -> list[Row]:
    return [row_of(item) for item in items]


def rejudged_run_rows(items: Iterable[RejudgedRun]) -> list[Row]:
    return [row_of(item) for item in items]


def _sections(sections: Sequence[tuple[str, Iterable[BaseModel | Mapping[str, Any]]]]) -> Iterator[Row]:
    for name, items in sections:
        for item in items:
            yield row_of(item, section=name)


def review_rows(review: AgreementReview) -> list[Row]:
    """Sections: each period's totals, each period's achievement per commitment, the whole range per
    commitment, the penalties itemised, the runs excluded, and the credits per currency."""
    periods = [p.model_dump(mode="json", by_alias=True, exclude={"achievement", "pending"}) for p in review.periods]
    achievement = [
        {"period": p.period, **a.model_dump(mode="json", by_alias=True)} for p in review.periods for a in p.achievement
    ]
    totals = [{"currency": currency, "credits": str(amount)} for currency, amount in review.totals.items()]
    return list(
        _sections(
            [
                ("period", periods),
                ("period_commitment", achievement),
                ("commitment", review.commitments),
                ("penalty", review.penalties),
                ("excluded", review.excluded),
                ("total", totals),
            ]
        )
    )


def settlement_rows(settlement: Settlement) -> list[Row]:
    """Sections: achievement per commitment, the charges itemised, pending and excluded runs, adjustments of
    earlier periods, then the totals."""
    adjustments = [a.model_dump(mode="json", by_alias=True, exclude={"added", "removed", "lines"})
                   for a in settlement.adjustments]  # fmt: skip
    return list(
        _sections(
            [
                ("commitment", settlement.commitments),
                ("charge", settlement.charges),
                ("pending", settlement.pending),
                ("excluded", settlement.excluded),
                ("adjustment", adjustments),
                ("total", [settlement.totals]),
            ]
        )
    )


def settlement_list_rows(page: SettlementList) -> list[Row]:
    """One row per recorded settlement: its period, status and totals (itemised in each settlement's export)."""
    itemised = {"agreement", "commitments", "charges", "pending", "excluded", "adjustments", "satisfaction"}
    return [row_of(item, exclude=itemised) for item in page.items]
