"""The analysis pages' pure parts: the trend and interval charts' geometry, periods, points and their changes,
the what-if form's body, and their messages in both languages."""

import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pledge_console
import pytest
from jinja2 import Environment, FileSystemLoader
from pledge_console import charts
from pledge_console.clients.gateway import GatewayClient
from pledge_console.i18n import ANALYSIS_MESSAGES, MESSAGES, Translator
from pledge_console.web.analysis import (
    MAX_PRACTICE_NODES,
    day_period,
    draw,
    node_practices,
    practice_nodes,
    trend_points,
    trend_series,
    trend_window,
    what_if_body,
)
from pledge_console.web.pages import PageError

SHANGHAI = ZoneInfo("Asia/Shanghai")


def coordinates(path: str) -> list[tuple[float, float]]:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path)]
    return list(zip(numbers[::2], numbers[1::2], strict=True))


class TestTrendChart:
    def test_a_share_of_one_is_at_the_top_and_zero_at_the_bottom(self) -> None:
        chart = charts.trend(["a", "b"], {"normal": [1.0, 0.0]}, [None, None])
        (line,) = chart.lines
        assert [d.y for d in line.dots] == [chart.plot_top, chart.plot_bottom]
        assert line.path.startswith("M ")
        assert line.path.count("M") == 1

    def test_periods_sit_in_the_middle_of_equal_columns(self) -> None:
        chart = charts.trend(["only"], {"normal": [0.5]}, [(0.4, 0.6)])
        assert chart.lines[0].dots[0].x == (chart.plot_left + chart.plot_right) / 2
        assert chart.lines[0].dots[0].y == (chart.plot_top + chart.plot_bottom) / 2

    def test_a_period_without_judged_runs_breaks_the_line_and_the_band(self) -> None:
        chart = charts.trend(
            ["1", "2", "3", "4"], {"normal": [0.9, None, 0.8, 0.7]}, [(0.8, 0.95), None, (0.7, 0.9), (0.6, 0.8)]
        )
        (line,) = chart.lines
        assert line.path.count("M") == 2
        assert [d.index for d in line.dots] == [0, 2, 3]
        assert chart.band.count("M") == 2
        assert chart.band.count("Z") == 2

    def test_the_band_runs_along_the_upper_bounds_and_back_along_the_lower(self) -> None:
        chart = charts.trend(["1", "2"], {"normal": [0.5, 0.5]}, [(0.25, 0.75), (0.0, 1.0)])
        points = coordinates(chart.band)
        height = chart.plot_bottom - chart.plot_top
        y = lambda share: chart.plot_top + (1 - share) * height  # noqa: E731
        xs = [d.x for d in chart.lines[0].dots]
        assert points == [(xs[0], y(0.75)), (xs[1], y(1.0)), (xs[1], y(0.0)), (xs[0], y(0.25))]

    def test_a_lone_period_gets_a_band_of_its_own_width(self) -> None:
        chart = charts.trend(["1", "2", "3"], {"normal": [0.5, None, 0.5]}, [(0.4, 0.6), None, (0.4, 0.6)])
        first = coordinates(chart.band.split("Z")[0])
        assert len(first) == 4
        xs = sorted({x for x, _ in first})
        assert xs[1] - xs[0] == 2 * charts.BAND_HALF

    def test_every_coordinate_stays_inside_the_plot(self) -> None:
        chart = charts.trend(
            [str(i) for i in range(12)],
            {"normal": [i / 11 for i in range(12)], "warning": [1.2, -0.1, *([0.3] * 10)]},
            [(max(0, i / 11 - 0.1), min(1, i / 11 + 0.1)) for i in range(12)],
        )
        for x, y in coordinates(chart.band) + [p for line in chart.lines for p in coordinates(line.path)]:
            assert chart.plot_left <= x <= chart.plot_right
            assert chart.plot_top <= y <= chart.plot_bottom

    def test_at_most_eight_period_labels(self) -> None:
        chart = charts.trend([str(i) for i in range(26)], {"normal": [0.5] * 26}, [None] * 26)
        assert len(chart.x_ticks) <= charts.MAX_X_LABELS
        assert chart.x_ticks[0].label == "0"
        assert [t.label for t in chart.y_ticks] == ["0%", "25%", "50%", "75%", "100%"]

    def test_no_period_no_shape(self) -> None:
        chart = charts.trend([], {"normal": []}, [])
        assert chart.band == ""
        assert chart.lines[0].path == ""


class TestIntervalChart:
    def test_rows_keep_their_order_and_map_shares_onto_the_axis(self) -> None:
        chart = charts.intervals([("a", 0.9, (0.8, 0.95)), ("b", 0.0, (0.0, 0.1))])
        a, b = chart.rows
        width = chart.plot_right - chart.plot_left
        assert (a.label, b.label) == ("a", "b")
        assert a.y < b.y
        assert a.x == round(chart.plot_left + 0.9 * width, 1)
        assert a.low < a.x < a.high
        assert b.x == b.low == chart.plot_left
        assert chart.height > b.y


class TestPeriods:
    def test_weeks_start_on_a_local_monday(self) -> None:
        now = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)  # Fri 04:00 in Shanghai
        starts = trend_window(now, "week", 3, SHANGHAI)
        assert [s.date() for s in starts] == [date(2026, 11, 16), date(2026, 11, 23), date(2026, 11, 30),
                                              date(2026, 12, 7)]  # fmt: skip
        assert all(s.tzinfo == SHANGHAI and s.hour == 0 for s in starts)

    def test_days_end_with_today_and_tomorrow_ends_them(self) -> None:
        starts = trend_window(datetime(2026, 12, 3, 17, tzinfo=UTC), "day", 2, SHANGHAI)  # 01:00 on the 4th
        assert [s.date() for s in starts] == [date(2026, 12, 3), date(2026, 12, 4), date(2026, 12, 5)]

    def test_months_cross_the_year(self) -> None:
        starts = trend_window(datetime(2026, 1, 15, tzinfo=UTC), "month", 3, SHANGHAI)
        assert [s.date() for s in starts] == [date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]

    def test_twelve_months_fit_in_the_longest_report(self) -> None:
        starts = trend_window(datetime(2026, 12, 31, tzinfo=UTC), "month", 12, SHANGHAI)
        assert (starts[-1] - starts[0]).days <= 366

    def test_a_day_period_is_whole_local_days_inclusive(self) -> None:
        first, last, start, end = day_period("2026-11-01", "2026-11-30", date(2026, 12, 3), SHANGHAI)
        assert (first, last) == (date(2026, 11, 1), date(2026, 11, 30))
        assert start == datetime(2026, 11, 1, tzinfo=SHANGHAI)
        assert end == datetime(2026, 12, 1, tzinfo=SHANGHAI)

    def test_the_default_day_period_is_the_30_days_up_to_today(self) -> None:
        first, last, _, _ = day_period(None, None, date(2026, 12, 3), SHANGHAI)
        assert (first, last) == (date(2026, 11, 4), date(2026, 12, 3))

    @pytest.mark.parametrize(
        ("first", "last", "field"),
        [("2026-12-02", "2026-12-01", "query.from"), ("nope", None, "query.from"), (None, "2026-13-01", "query.to"),
         ("2025-01-01", "2026-12-01", "query.to")],
    )  # fmt: skip
    def test_a_bad_day_period_names_its_field(self, first: str | None, last: str | None, field: str) -> None:
        with pytest.raises(PageError) as raised:
            day_period(first, last, date(2026, 12, 3), SHANGHAI)
        assert raised.value.status == 422
        assert raised.value.detail.startswith(field)


def rate(count: int, judged: int, interval: tuple[float, float] | None) -> dict[str, Any]:
    return {"count": count, "share": count / judged if judged else None, "interval": interval}


def entry(start: datetime, judged: int, normal: int, interval: tuple[float, float], group: dict[str, Any]) -> Any:
    return {
        "bucket": {"start": start.astimezone(UTC).isoformat().replace("+00:00", "Z")},
        "population": "node",
        "group": group,
        "runs": judged + 1,
        "judged": judged,
        "normal": rate(normal, judged, interval),
        "acceptable": rate(judged - normal, judged, (0.0, 1.0)),
        "warning": rate(0, judged, (0.0, 0.1)),
    }


class TestTrendPoints:
    starts = trend_window(datetime(2026, 12, 3, 4, tzinfo=UTC), "week", 4, SHANGHAI)
    now = datetime(2026, 12, 3, 4, tzinfo=UTC)

    def test_each_period_has_a_point_and_a_missing_one_has_no_share(self) -> None:
        entries = [entry(self.starts[0], 100, 80, (0.71, 0.87), {}), entry(self.starts[2], 100, 90, (0.83, 0.94), {})]
        points = trend_points(entries, self.starts, "week", SHANGHAI, self.now)
        assert [p.label for p in points] == ["11-09", "11-16", "11-23", "11-30"]
        assert [p.judged for p in points] == [100, 0, 100, 0]
        assert [p.shares["normal"].share for p in points] == [0.8, None, 0.9, None]
        assert [p.partial for p in points] == [False, False, False, True]

    def test_the_change_is_in_points_since_the_previous_period_with_judged_runs_next_to_it(self) -> None:
        normals, intervals = (80, 82, 95), ((0.71, 0.87), (0.73, 0.88), (0.89, 0.98))
        entries = [entry(s, 100, n, iv, {}) for s, n, iv in zip(self.starts, normals, intervals, strict=False)]
        points = trend_points(entries, self.starts, "week", SHANGHAI, self.now)
        normal = [p.shares["normal"] for p in points]
        assert [s.change for s in normal] == [None, 2.0, 13.0, None]
        assert [s.apart for s in normal] == [False, False, True, False]  # 0.89 > 0.88: the intervals part

    def test_periods_not_begun_have_no_point(self) -> None:
        early = datetime(2026, 11, 20, tzinfo=UTC)
        assert len(trend_points([], self.starts, "week", SHANGHAI, early)) == 2

    def test_series_are_overall_first_then_each_group_of_the_population(self) -> None:
        b = {"process": "repair", "node": "visit"}
        a = {"process": "repair", "node": "dispatch"}
        e2e = dict(entry(self.starts[0], 10, 5, (0.2, 0.8), {"process": "repair", "node": None}))
        e2e["population"] = "end_to_end"
        report = {
            "groups": [entry(self.starts[0], 10, 9, (0.6, 0.98), b), entry(self.starts[0], 10, 5, (0.2, 0.8), a), e2e],
            "overall": [entry(self.starts[0], 20, 14, (0.48, 0.85), {})],
        }
        series = trend_series(report, "node", self.starts, "week", SHANGHAI, self.now)
        assert [s.group for s in series] == [{}, a, b]
        assert series[0].latest is not None
        assert series[0].latest.judged == 20
        drawn = draw(series[0])
        assert drawn.chart is not None
        assert drawn.chart.band.startswith("M ")


class TestWhatIfBody:
    start = datetime(2026, 11, 1, tzinfo=SHANGHAI)
    end = datetime(2026, 12, 1, tzinfo=SHANGHAI)

    def test_empty_fields_keep_todays_values(self) -> None:
        body = what_if_body({"commitment": " fr-arrive ", "commitment_limit": "", "group_by": "department"},
                            self.start, self.end)  # fmt: skip
        assert body == {
            "from": "2026-11-01T00:00:00+08:00",
            "to": "2026-12-01T00:00:00+08:00",
            "commitment": "fr-arrive",
            "group_by": ["department"],
        }

    def test_proposed_limits_and_unit_pass_on(self) -> None:
        form = {"commitment": "fr-arrive", "commitment_limit": "PT2H", "tolerance_limit": "PT4H",
                "limit_unit": "duration"}  # fmt: skip
        body = what_if_body(form, self.start, self.end)
        assert (body["commitment_limit"], body["tolerance_limit"], body["limit_unit"]) == ("PT2H", "PT4H", "duration")
        assert body["group_by"] == ["node"]

    @pytest.mark.parametrize(
        ("form", "field"),
        [({}, "body.commitment"), ({"commitment": "x" * 65}, "body.commitment"),
         ({"commitment": "a", "limit_unit": "hours"}, "body.limit_unit"),
         ({"commitment": "a", "group_by": "customer"}, "body.group_by")],
    )  # fmt: skip
    def test_a_bad_field_is_refused_by_name(self, form: dict[str, str], field: str) -> None:
        with pytest.raises(PageError) as raised:
            what_if_body(form, self.start, self.end)
        assert raised.value.detail.startswith(field)


def test_every_analysis_message_is_in_both_languages_and_merged() -> None:
    assert ANALYSIS_MESSAGES["en"].keys() == ANALYSIS_MESSAGES["zh"].keys()
    for lang in ("en", "zh"):
        assert ANALYSIS_MESSAGES[lang].items() <= MESSAGES[lang].items()


class TestPagesRender:
    """The two templates rendered with API-shaped data whose free text is hostile: every value is escaped."""

    HOSTILE = '<img src=x onerror="alert(1)">'

    def env(self) -> Environment:
        templates = Path(pledge_console.__file__).parent / "templates"
        return Environment(loader=FileSystemLoader(templates), autoescape=True)  # as main.create_app makes it

    def base(self) -> dict[str, Any]:
        t = Translator("en")
        me = {"username": "viewer", "role": "viewer", "department": None}
        return {"t": t, "lang": "en", "local": str, "path": "/console/x", "query": "", "me": me, "csrf": "token"}

    def rate(self, share: float) -> dict[str, Any]:
        return {"count": 1, "share": share, "interval": [share / 2, (1 + share) / 2]}

    def test_trends_escape_group_names_and_draw_the_band(self) -> None:
        starts = trend_window(datetime(2026, 12, 3, 4, tzinfo=UTC), "week", 2, SHANGHAI)
        now = datetime(2026, 12, 3, 4, tzinfo=UTC)
        report = {
            "groups": [entry(starts[0], 10, 9, (0.6, 0.98), {"department": self.HOSTILE})],
            "overall": [entry(starts[0], 10, 9, (0.6, 0.98), {}), entry(starts[1], 10, 8, (0.5, 0.94), {})],
        }
        series = [draw(s) for s in trend_series(report, "node", starts, "week", SHANGHAI, now)]
        context = {
            **self.base(),
            "bucket": "week",
            "periods": 2,
            "periods_given": "",
            "by": "department",
            "population": "node",
            "department": self.HOSTILE,
            "period_from": "",
            "period_to": "",
            "as_of": "",
            "charts": series,
            "shares": ("normal", "acceptable", "warning"),
            "groupings": {"process": (), "node": (), "department": ()},
            "buckets": {"day": (14, 92), "week": (8, 52), "month": (6, 12)},
            "populations": ("node", "end_to_end"),
        }
        html = self.env().get_template("trends.html").render(**context)
        assert self.HOSTILE not in html
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
        assert html.count('class="band"') == 2
        assert "-10.0 pp" in html  # 90 % then 80 %
        assert not re.search(r"<script(?![^>]*\ssrc=)", html)
        assert " style=" not in html

    def test_rankings_escape_names_and_reasons(self) -> None:
        group = {"rank": 1, "key": "ops", "name": self.HOSTILE, "runs": 40, "judged": 40, "normal": self.rate(0.9)}
        recommendation = {
            "commitment": "fr-arrive",
            "version": 1,
            "process": "fault-repair",
            "node": "arrive",
            "segment": "default",
            "limit_unit": "duration",
            "commitment_limit": "PT45M",
            "tolerance_limit": "PT90M",
            "judged": 40,
            "completed": 40,
            "achievement": self.rate(0.95),
            "within_tolerance": self.rate(0.99),
            "handling_time": {"completed": 40, "median": "PT20M", "p90": "PT40M"},
            "recommendation": "raise",
            "reason": self.HOSTILE,
            "suggested_commitment_limit": "PT40M",
            "suggested_tolerance_limit": "PT60M",
            "suggestion_capped": False,
        }
        thresholds = {"raise_at": 0.9, "improve_at": 0.1, "min_sample": 30, "target_rate": 0.9,
                      "tolerance_target_rate": 0.98}  # fmt: skip
        context = {
            **self.base(),
            "by": "department",
            "population": "node",
            "period_from": "2026-11-01",
            "period_to": "2026-11-30",
            "min_sample": 30,
            "rankings": {"min_sample": 30, "ranked": [group], "insufficient": []},
            "recommendations": {
                "thresholds": thresholds,
                "raise": [recommendation],
                "improve": [{**recommendation, "recommendation": "improve", "reason": "low"}],
                **{verdict: [] for verdict in ("keep", "insufficient_data")},
                "next": None,
            },
            "practices_of": lambda r: [{"id": "p1", "title": self.HOSTILE, "tags": ["dispatch"]}],
            "practices_unavailable": True,
            "forest": charts.intervals([(self.HOSTILE, 0.9, (0.45, 0.95))]),
            "group_name": lambda g: g["name"],
            "try_link": lambda r: "/console/rankings?wi_commitment=" + r["commitment"],
            "verdicts": ("raise", "improve", "keep", "insufficient_data"),
            "rank_by": ("department", "position"),
            "populations": ("node", "end_to_end"),
            "commitment_keys": ["fr-arrive"],
            "what_if_groups": ("node", "department"),
            "limit_units": ("duration", "business_days"),
            "form": {
                "commitment": self.HOSTILE,
                **{field: "" for field in ("commitment_limit", "tolerance_limit", "limit_unit")},
                "group_by": "node",
            },
            "result": None,
            "what_if_error": self.HOSTILE,
            "can_what_if": True,
        }
        html = self.env().get_template("rankings.html").render(**context)
        assert self.HOSTILE not in html
        escaped = "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"
        # the forest's label and title, the table, the reason, the form, the error, the improve row's practice
        assert html.count(escaped) == 7
        assert html.count('class="practice"') == 1  # under the improve recommendation only
        assert 'id="practices-unavailable"' in html
        assert 'id="what-if-form"' in html
        assert 'name="csrf" value="token"' in html
        assert not re.search(r"<script(?![^>]*\ssrc=)", html)


class TestSuggestedPractices:
    """The practices next to improve recommendations, read from a fake gateway at its HTTP edge (the practices
    list as feedback-svc answers it)."""

    def improve(self, process: str, node: str | None) -> dict[str, Any]:
        return {"process": process, "node": node, "recommendation": "improve"}

    def test_one_question_per_distinct_node_at_most_ten_none_end_to_end(self) -> None:
        rows = [self.improve("p", "a"), self.improve("p", "a"), self.improve("p", None), self.improve("q", "a")]
        rows += [self.improve("r", f"n{i}") for i in range(12)]
        nodes = practice_nodes(rows)
        assert nodes[:2] == [("p", "a"), ("q", "a")]
        assert len(nodes) == MAX_PRACTICE_NODES

    def gateway(self, handler: Any) -> GatewayClient:
        return GatewayClient(httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://gw"), "admin")

    async def test_each_node_gets_its_newest_practices_asked_with_the_users_key(self) -> None:
        asked: list[tuple[str, str | None, str | None, str | None]] = []

        def handler(request: httpx.Request) -> httpx.Response:
            q = request.url.params
            asked.append((request.headers["Authorization"], q.get("process"), q.get("node"), q.get("limit")))
            item = {"id": "0d6f2f4e-0000-4000-8000-000000000001", "title": f"fix {q['node']}", "tags": ["t"],
                    "processes": [q["process"]], "nodes": [q["node"]], "root_causes": [], "from_action": None,
                    "created_at": "2026-12-01T00:00:00Z"}  # fmt: skip
            return httpx.Response(200, json={"items": [item], "next_cursor": None})

        found, unavailable = await node_practices(self.gateway(handler), "user-key", [("p", "a"), ("p", "b")])
        assert sorted(asked) == [("Bearer user-key", "p", "a", "3"), ("Bearer user-key", "p", "b", "3")]
        assert [(g["node"], [x["title"] for x in g["practices"]]) for g in found] == [
            ("a", ["fix a"]),
            ("b", ["fix b"]),
        ]
        assert found[0]["practices"][0]["tags"] == ["t"]
        assert unavailable is False

    async def test_feedback_down_is_a_note_and_a_refusal_is_nothing(self) -> None:
        def down(request: httpx.Request) -> httpx.Response:
            return httpx.Response(503, json={"type": "about:blank", "title": "down", "status": 503, "detail": "down"})

        def refused(request: httpx.Request) -> httpx.Response:
            return httpx.Response(403, json={"type": "about:blank", "title": "no", "status": 403, "detail": "scope"})

        assert await node_practices(self.gateway(down), "k", [("p", "a")]) == ([], True)
        assert await node_practices(self.gateway(refused), "k", [("p", "a")]) == ([], False)
