"""The scorecard page's pure parts: a KPI's figures as read, its 12-month line, its row, the messages in both
languages, and the template rendered with hostile API text (every value escaped, no inline script)."""

import re
from pathlib import Path
from typing import Any

import pledge_console
from jinja2 import Environment, FileSystemLoader
from pledge_console import charts
from pledge_console.i18n import MESSAGES, SCORECARD_MESSAGES, Translator
from pledge_console.web.scorecards import change_text, figure, kpi_label, row_of

HOSTILE = '<img src=x onerror="alert(1)">'
ESCAPED = "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"
SIX = (
    "connection_time",
    "first_time_fix_rate",
    "on_time_rate",
    "complaint_first_time_resolution_rate",
    "csat",
    "commitment_fulfilment_rate",
)


def item(kpi: str = "on_time_rate", unit: str = "rate", **over: Any) -> dict[str, Any]:
    trend = [{"period": f"2026-{m:02d}", "value": None if m < 10 else 0.8 + m / 100} for m in range(1, 13)]
    return {
        "kpi": kpi, "name": kpi, "unit": unit, "direction": "higher", "value": 0.92, "target": 0.95, "met": False,
        "change": 0.01, "rank": 2, "ranked": 5, "trend": trend, "adjustment": None, "unavailable": None, **over,
    }  # fmt: skip


def test_figures_are_read_in_their_unit() -> None:
    assert figure(0.9333, "rate") == "93.3%"
    assert figure(1.75, "working_days") == "1.75"
    assert figure(10.0, "hours") == "10.00"
    assert figure(3.0, "count") == "3"
    assert figure(None, "rate") == "—"
    assert change_text(0.03, "rate") == "+3.0 pp"
    assert change_text(-0.5, "working_days") == "-0.50"
    assert change_text(-2.0, "count") == "-2"
    assert change_text(None, "rate") == "—"


def test_the_sparkline_scales_to_its_own_range_with_gaps() -> None:
    line = charts.sparkline([None, 2.0, 4.0, None, 3.0])
    assert [d.index for d in line.dots] == [1, 2, 4]
    top, bottom = charts.SPARK_PAD, charts.SPARK_HEIGHT - charts.SPARK_PAD
    assert [d.y for d in line.dots] == [bottom, top, (top + bottom) / 2]  # lowest at the bottom, highest on top
    assert line.path.count("M") == 2  # a gap between the runs
    assert charts.sparkline([0.5, 0.5]).dots[0].y == (top + bottom) / 2  # flat: the middle
    assert charts.sparkline([None, None]).path == ""


def test_a_row_tells_value_target_met_change_and_rank() -> None:
    t = Translator("zh")
    row = row_of(t, item())
    assert (row.label, row.value, row.target, row.met) == ("工单处理及时率", "92.0%", "95.0%", False)
    assert (row.change, row.change_sign, row.better) == ("+1.0 pp", 1, True)
    assert (row.rank, row.ranked) == (2, 5)
    assert len(row.trend.dots) == 3
    assert row.trend_labels[-1] == "2026-12: 92.0%"
    lower = row_of(t, item("connection_time", "working_days", direction="lower", change=0.5))
    assert lower.better is False  # a longer connection time is worse
    assert kpi_label(t, {"kpi": "my_custom", "name": "Mine"}) == "Mine"


def test_every_scorecard_message_is_in_both_languages_and_merged() -> None:
    assert SCORECARD_MESSAGES["en"].keys() == SCORECARD_MESSAGES["zh"].keys()
    for lang in ("en", "zh"):
        assert SCORECARD_MESSAGES[lang].items() <= MESSAGES[lang].items()
        assert all(f"kpi_{k}" in SCORECARD_MESSAGES[lang] for k in SIX)


def test_the_page_escapes_every_value_and_has_no_inline_script() -> None:
    templates = Path(pledge_console.__file__).parent / "templates"
    env = Environment(loader=FileSystemLoader(templates), autoescape=True)  # as main.create_app makes it
    t = Translator("en")
    hostile = item("custom_x", name=HOSTILE, unavailable=HOSTILE)
    rows = [row_of(t, item()), row_of(t, hostile)]
    utility = [{"department": HOSTILE, "cells": {"on_time_rate": rows[0]}}]
    html = env.get_template("scorecards.html").render(
        t=t, lang="en", local=str, path="/console/scorecards", query="", csrf="token",
        me={"username": "viewer", "role": "viewer", "department": None}, period="2026-03", segment="",
        department=HOSTILE, departments=[HOSTILE], closed=True, frozen_at="2026-04-01T00:00:00Z",
        timezone="Asia/Shanghai", scorecard={"kpis": []}, rows=rows,
        utility_kpis=[("on_time_rate", "Work-order on-time rate")], utility_rows=utility,
    )  # fmt: skip
    assert HOSTILE not in html
    assert ESCAPED in html
    assert "Work-order on-time rate" in html
    assert 'class="spark"' in html
    assert "met-cell-no" in html
    assert not re.search(r"<script(?![^>]*\ssrc=)", html)
    assert " style=" not in html
    assert " on" + "click=" not in html
