"""The console's scorecard page: a department's KPIs of a month (value, target, met, the 12-month trend, the
change from the previous month, the rank among departments) and the utility view of document 003's six KPIs
for every department, from the gateway's `/v1/scorecards` and `/v1/scorecards/utility` (docs/kpis.md). The
console only arranges and draws them; every figure is the API's."""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from pledge_console import charts
from pledge_console.accounts.repository import SessionRow
from pledge_console.i18n import Translator
from pledge_console.web.pages import PageError, SignedIn, lang_of, render, upstream, user_context, zone

router = APIRouter(prefix="/console", include_in_schema=False)

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def figure(value: float | None, unit: str) -> str:
    """A KPI's value as read: a rate in percent (1 decimal), working days and hours with 2 decimals, a count
    whole; none: an em dash."""
    if value is None:
        return "—"
    if unit == "rate":
        return f"{value * 100:.1f}%"
    if unit == "count":
        return f"{value:.0f}"
    return f"{value:.2f}"


def change_text(value: float | None, unit: str) -> str:
    """The change from the previous period: percentage points for a rate, the unit's own otherwise."""
    if value is None:
        return "—"
    if unit == "rate":
        return f"{value * 100:+.1f} pp"
    if unit == "count":
        return f"{value:+.0f}"
    return f"{value:+.2f}"


def kpi_label(t: Translator, item: dict[str, Any]) -> str:
    """A built-in KPI's label in the page's language; a custom KPI's own name."""
    key = f"kpi_{item['kpi']}"
    label = t(key)
    return str(item.get("name") or item["kpi"]) if label == key else label


@dataclass(frozen=True)
class Row:
    kpi: str
    label: str
    unit: str
    direction: str
    value: str
    target: str
    met: bool | None
    change: str
    change_sign: int  # -1, 0, 1: which way it moved (not whether that is better)
    better: bool | None  # the change is an improvement in the KPI's direction
    rank: int | None
    ranked: int
    adjustment: str | None
    unavailable: str | None
    trend: charts.Sparkline
    trend_labels: tuple[str, ...]


def row_of(t: Translator, item: dict[str, Any]) -> Row:
    unit = str(item["unit"])
    moved = item.get("change")
    sign = 0 if not moved else (1 if moved > 0 else -1)
    better = None if not moved else (moved > 0) == (item["direction"] == "higher")
    trend = [p.get("value") for p in item.get("trend") or []]
    return Row(
        kpi=str(item["kpi"]),
        label=kpi_label(t, item),
        unit=unit,
        direction=str(item["direction"]),
        value=figure(item.get("value"), unit),
        target=figure(item.get("target"), unit),
        met=item.get("met"),
        change=change_text(moved, unit),
        change_sign=sign,
        better=better,
        rank=item.get("rank"),
        ranked=int(item.get("ranked") or 0),
        adjustment=None if item.get("adjustment") is None else change_text(item["adjustment"], unit),
        unavailable=item.get("unavailable"),
        trend=charts.sparkline([None if v is None else float(v) for v in trend]),
        trend_labels=tuple(f"{p['period']}: {figure(p.get('value'), unit)}" for p in item.get("trend") or []),
    )


def current_month(now: datetime, tz: ZoneInfo) -> str:
    return now.astimezone(tz).strftime("%Y-%m")


def _checked(period: str | None, department: str | None, segment: str | None, default: str) -> tuple[str, str, str]:
    period = period or default
    if not MONTH.match(period):
        raise PageError(422, "query.period: a month as YYYY-MM")
    for name, value in (("query.department", department), ("query.segment", segment)):
        if value and not KEY.match(value):
            raise PageError(422, f"{name}: letters, digits, '.', '_' or '-' (at most 100)")
    return period, department or "", segment or ""


async def scorecard_data(
    request: Request, me: SessionRow, period: str | None, department: str | None, segment: str | None
) -> dict[str, Any]:
    """The department's scorecard (when one is chosen: the asked one, else the account's) and the utility view of
    the month, as the API gives them."""
    tz = zone(request)
    default_department = department if department is not None else (me.account.department or "")
    period, chosen, segment = _checked(period, default_department, segment, current_month(datetime.now(tz), tz))
    params = [("period", period)] + ([("segment", segment)] if segment else [])
    utility = await upstream(request, me, "/v1/scorecards/utility", params)
    departments = [c["department"] for c in utility["scorecards"]]
    card = None
    if chosen:
        try:
            card = await upstream(request, me, "/v1/scorecards", [("department", chosen), *params])
        except PageError as err:
            if err.status != 404 or department is not None:
                raise
            chosen = ""  # the account's own department has no figures yet: the utility view alone
    return {
        "period": period,
        "segment": segment,
        "department": chosen,
        "departments": departments,
        "closed": utility["closed"],
        "frozen_at": utility["frozen_at"],
        "timezone": utility["timezone"],
        "scorecard": card,
        "utility": utility["scorecards"],
    }


@router.get("/scorecards")
async def scorecards_page(
    request: Request,
    me: SignedIn,
    period: Annotated[str | None, Query()] = None,
    department: Annotated[str | None, Query()] = None,
    segment: Annotated[str | None, Query()] = None,
) -> Response:
    data = await scorecard_data(request, me, period, department, segment)
    t = Translator(lang_of(request))
    card = data["scorecard"]
    rows = [row_of(t, k) for k in card["kpis"]] if card else []
    utility_kpis = [(k["kpi"], kpi_label(t, k)) for k in data["utility"][0]["kpis"]] if data["utility"] else []
    utility = [
        {"department": c["department"], "cells": {k["kpi"]: row_of(t, k) for k in c["kpis"]}} for c in data["utility"]
    ]
    context = {
        **user_context(me),
        **data,
        "rows": rows,
        "utility_kpis": utility_kpis,
        "utility_rows": utility,
    }
    return render(request, "scorecards.html", context)


@router.get("/scorecards.json")
async def scorecards_json(
    request: Request,
    me: SignedIn,
    period: Annotated[str | None, Query()] = None,
    department: Annotated[str | None, Query()] = None,
    segment: Annotated[str | None, Query()] = None,
) -> Response:
    """The scorecard page's JSON twin."""
    return JSONResponse(await scorecard_data(request, me, period, department, segment))
