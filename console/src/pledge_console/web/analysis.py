"""The console's analysis pages: trends of achievement per week or month; rankings, recommendations, what-if.

Every figure comes from the gateway's public API (`/v1/reports/achievement` with buckets,
`/v1/reports/rankings`, `/v1/recommendations`, `POST /v1/what-if`), Wilson intervals included: the console
only arranges and draws them. Next to each `improve` recommendation, the practices of the knowledge base linked
to its process and node (`/v1/practices`), for a user who may read them. The what-if replay changes nothing (the
gateway asks `reports:read` for it), so every role that reads reports may run it, through a form carrying the
CSRF token like the console's other POSTs.
"""

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pledge_common.scopes import Scope

from pledge_console import charts
from pledge_console.accounts.repository import SessionRow
from pledge_console.accounts.rules import Role, can
from pledge_console.clients.gateway import GatewayClient, GatewayError
from pledge_console.i18n import Translator
from pledge_console.web.pages import (
    PageError,
    SignedIn,
    SignInRequired,
    gateway_of,
    lang_of,
    render,
    upstream,
    user_context,
    zone,
)
from pledge_console.web.security import read_form, same_token

router = APIRouter(prefix="/console", include_in_schema=False)

# ---- trends ----------------------------------------------------------------------------------------------

TREND_GROUPS = {"process": ("process",), "node": ("process", "node"), "department": ("department",)}
# periods shown by default, and at most (a year: the API's longest report spans 366 days); days for a short look
TREND_PERIODS = {"week": (8, 52), "month": (6, 12), "day": (14, 92)}
POPULATIONS = ("node", "end_to_end")
SHARES = ("normal", "acceptable", "warning")  # normal is the achievement (DESIGN: achievement rate)


def trend_window(now: datetime, bucket: str, periods: int, tz: ZoneInfo) -> list[datetime]:
    """The starts of the last `periods` local days, weeks (from Monday) or months up to the one holding `now`,
    and the end of that one: periods + 1 boundaries, the same the API divides the period by."""
    local = now.astimezone(tz)
    if bucket == "day":
        days = [local.date() - timedelta(days=k) for k in range(periods - 1, -2, -1)]
    elif bucket == "week":
        monday = date.fromordinal(local.date().toordinal() - local.weekday())
        days = [monday - timedelta(weeks=k) for k in range(periods - 1, -2, -1)]
    else:
        index = local.year * 12 + local.month - 1
        days = [date(i // 12, i % 12 + 1, 1) for i in range(index - periods + 1, index + 2)]
    return [datetime(d.year, d.month, d.day, tzinfo=tz) for d in days]


def period_label(start: datetime, bucket: str) -> str:
    """A day by itself and a week by its Monday (11-30), a month by itself (2026-11)."""
    return start.strftime("%Y-%m") if bucket == "month" else start.strftime("%m-%d")


@dataclass(frozen=True)
class ShareAt:
    share: float | None
    interval: tuple[float, float] | None
    count: int
    change: float | None  # percentage points since the previous period (both with judged runs), else None
    apart: bool  # the two periods' 95 % intervals do not overlap


@dataclass(frozen=True)
class TrendPoint:
    start: str
    label: str
    partial: bool  # the period is not over yet (judged as of now)
    runs: int
    judged: int
    shares: dict[str, ShareAt]


@dataclass(frozen=True)
class Series:
    group: dict[str, str | None]
    points: list[TrendPoint]
    latest: TrendPoint | None = None  # the last period with judged runs
    chart: charts.TrendChart | None = field(default=None, compare=False)


def _instant(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _interval(rate: dict[str, Any]) -> tuple[float, float] | None:
    interval = rate.get("interval")
    return (float(interval[0]), float(interval[1])) if interval else None


def _share_at(rate: dict[str, Any] | None, before: ShareAt | None) -> ShareAt:
    share = None if rate is None or rate.get("share") is None else float(rate["share"])
    interval = None if rate is None else _interval(rate)
    change = apart = None
    if share is not None and before is not None and before.share is not None:
        change = round((share - before.share) * 100, 1)
        if interval and before.interval:
            apart = interval[0] > before.interval[1] or interval[1] < before.interval[0]
    return ShareAt(share, interval, int(rate["count"]) if rate else 0, change, bool(apart))


def trend_points(
    entries: list[dict[str, Any]], starts: list[datetime], bucket: str, tz: ZoneInfo, now: datetime
) -> list[TrendPoint]:
    """One point per period that has begun (an achievement group per bucket, or none: no judged run), each
    share with its change from the period before."""
    by_start = {_instant(e["bucket"]["start"]): e for e in entries}
    points: list[TrendPoint] = []
    before: dict[str, ShareAt] = {}
    for start, end in pairwise(starts):
        if start > now:
            break
        entry = by_start.get(start)
        judged = int(entry["judged"]) if entry else 0
        shares = {s: _share_at(entry[s] if entry and judged else None, before.get(s)) for s in SHARES}
        points.append(
            TrendPoint(
                start=start.isoformat(),
                label=period_label(start.astimezone(tz), bucket),
                partial=end > now,
                runs=int(entry["runs"]) if entry else 0,
                judged=judged,
                shares=shares,
            )
        )
        before = shares
    return points


def trend_series(
    report: dict[str, Any], population: str, starts: list[datetime], bucket: str, tz: ZoneInfo, now: datetime
) -> list[Series]:
    """The report's `overall` first (group {}), then each group by its keys; one population."""
    grouped: dict[tuple[tuple[str, str | None], ...], list[dict[str, Any]]] = {}
    for entry in report["groups"]:
        if entry["population"] == population:
            grouped.setdefault(tuple(entry["group"].items()), []).append(entry)
    overall = [e for e in report["overall"] if e["population"] == population]
    found: list[tuple[dict[str, str | None], list[dict[str, Any]]]] = [({}, overall)] + [
        (dict(k), v) for k, v in sorted(grouped.items(), key=lambda kv: str(kv[0]))
    ]
    series = []
    for group, entries in found:
        points = trend_points(entries, starts, bucket, tz, now)
        latest = next((p for p in reversed(points) if p.judged), None)
        series.append(Series(group, points, latest))
    return series


def draw(series: Series) -> Series:
    labels = [p.label for p in series.points]
    lines = {s: [p.shares[s].share for p in series.points] for s in SHARES}
    band = [p.shares["normal"].interval for p in series.points]
    return Series(series.group, series.points, series.latest, charts.trend(labels, lines, band))


def _choice(value: str, choices: Any, field: str) -> str:
    if value not in choices:
        raise PageError(422, f"{field}: one of {', '.join(choices)}")
    return value


async def trends_data(
    request: Request,
    me: SessionRow,
    bucket: str,
    periods_given: str | None,
    by: str,
    population: str,
    department: str | None,
) -> tuple[dict[str, Any], list[Series]]:
    _choice(bucket, TREND_PERIODS, "query.bucket")
    _choice(by, TREND_GROUPS, "query.by")
    _choice(population, POPULATIONS, "query.population")
    default, most = TREND_PERIODS[bucket]
    try:  # empty: the bucket's default (the form sends the field empty unless one was typed)
        periods = int(periods_given) if periods_given else default
    except ValueError:
        periods = 0
    if not 1 <= periods <= most:
        raise PageError(422, f"query.periods: from 1 to {most} {bucket}s")
    tz, now = zone(request), datetime.now(ZoneInfo("UTC"))
    starts = trend_window(now, bucket, periods, tz)
    department = me.account.department if department is None else department
    params: list[tuple[str, str]] = [
        ("from", starts[0].isoformat()),
        ("to", starts[-1].isoformat()),
        ("bucket", bucket),
        ("tz", str(tz)),
        ("scope", population),
        *(("group_by", g) for g in TREND_GROUPS[by]),
    ]
    if department:
        params.append(("department", department))
    report = await upstream(request, me, "/v1/reports/achievement", params)
    series = trend_series(report, population, starts, bucket, tz, now)
    data = {
        "bucket": bucket,
        "periods": periods,
        "periods_given": periods_given or "",
        "by": by,
        "population": population,
        "department": department or "",
        "from": report["from"],
        "to": report["to"],
        "as_of": report["as_of"],
        "series": [
            {"group": s.group, "latest": _plain(s.latest), "points": [_plain(p) for p in s.points]} for s in series
        ],
    }
    return data, series


def _plain(point: TrendPoint | None) -> dict[str, Any] | None:
    if point is None:
        return None
    shares = {
        name: {"share": s.share, "interval": s.interval, "count": s.count, "change_pp": s.change, "apart": s.apart}
        for name, s in point.shares.items()
    }
    return {
        "start": point.start,
        "label": point.label,
        "partial": point.partial,
        "runs": point.runs,
        "judged": point.judged,
        **shares,
    }


@router.get("/trends")
async def trends_page(
    request: Request,
    me: SignedIn,
    bucket: Annotated[str, Query()] = "week",
    periods: Annotated[str | None, Query()] = None,
    by: Annotated[str, Query()] = "process",
    population: Annotated[str, Query()] = "node",
    department: Annotated[str | None, Query()] = None,
) -> Response:
    data, series = await trends_data(request, me, bucket, periods, by, population, department)
    context = {
        **user_context(me),
        **data,
        "period_from": data["from"],
        "period_to": data["to"],
        "charts": [draw(s) for s in series],
        "shares": SHARES,
        "groupings": TREND_GROUPS,
        "buckets": TREND_PERIODS,
        "populations": POPULATIONS,
    }
    return render(request, "trends.html", context)


@router.get("/trends.json")
async def trends_json(
    request: Request,
    me: SignedIn,
    bucket: Annotated[str, Query()] = "week",
    periods: Annotated[str | None, Query()] = None,
    by: Annotated[str, Query()] = "process",
    population: Annotated[str, Query()] = "node",
    department: Annotated[str | None, Query()] = None,
) -> Response:
    """The trends page's JSON twin."""
    data, _ = await trends_data(request, me, bucket, periods, by, population, department)
    return JSONResponse(data)


# ---- rankings, recommendations, what-if ------------------------------------------------------------------

RANK_BY = ("department", "position")
VERDICTS = ("raise", "improve", "keep", "insufficient_data")
WHAT_IF_GROUPS = ("node", "department", "position", "segment", "process", "source")
LIMIT_UNITS = ("duration", "business_days")
DEFAULT_DAYS = 30
MAX_DAYS = 366
MAX_MIN_SAMPLE = 100_000
MAX_FIELD = 64  # a what-if field longer than this is refused before the API is asked


def day_period(first: str | None, last: str | None, today: date, tz: ZoneInfo) -> tuple[date, date, datetime, datetime]:
    """Whole local days from `first` through `last` (default: the 30 days up to today), as [start, end)."""
    try:
        last_day = date.fromisoformat(last) if last else today
    except ValueError:
        raise PageError(422, "query.to: a date as YYYY-MM-DD") from None
    try:
        first_day = date.fromisoformat(first) if first else last_day - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        raise PageError(422, "query.from: a date as YYYY-MM-DD") from None
    if first_day > last_day:
        raise PageError(422, "query.from: on or before `to`")
    if (last_day - first_day).days + 1 > MAX_DAYS:
        raise PageError(422, f"query.to: at most {MAX_DAYS} days after `from`")
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=tz)
    after = last_day + timedelta(days=1)
    return first_day, last_day, start, datetime(after.year, after.month, after.day, tzinfo=tz)


@dataclass(frozen=True)
class RankingsQuery:
    by: str
    population: str
    first: date
    last: date
    start: datetime
    end: datetime
    min_sample: int
    cursor: str | None

    def link(self, **changes: str) -> str:
        params = {
            "by": self.by,
            "population": self.population,
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "min_sample": str(self.min_sample),
            **changes,
        }
        return "/console/rankings?" + urlencode(params)


def rankings_query(
    request: Request, by: str, population: str, first: str | None, last: str | None, min_sample: int, cursor: str | None
) -> RankingsQuery:
    _choice(by, RANK_BY, "query.by")
    _choice(population, POPULATIONS, "query.population")
    if not 1 <= min_sample <= MAX_MIN_SAMPLE:
        raise PageError(422, f"query.min_sample: from 1 to {MAX_MIN_SAMPLE}")
    tz = zone(request)
    first_day, last_day, start, end = day_period(first, last, datetime.now(tz).date(), tz)
    return RankingsQuery(by, population, first_day, last_day, start, end, min_sample, cursor)


def _rate_row(rate: dict[str, Any]) -> tuple[float, tuple[float, float]] | None:
    interval = _interval(rate)
    if rate.get("share") is None or interval is None:
        return None
    return float(rate["share"]), interval


MAX_PRACTICES = 3  # practices shown per improve recommendation
MAX_PRACTICE_NODES = 10  # distinct (process, node) asked about per page; the others show none


def practice_nodes(improve: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The distinct (process, node) of the improve recommendations, in their order, at most MAX_PRACTICE_NODES
    (an end-to-end recommendation has no node: no practice is asked for it)."""
    nodes: list[tuple[str, str]] = []
    for r in improve:
        key = (str(r["process"]), str(r["node"]))
        if r.get("node") is not None and key not in nodes:
            nodes.append(key)
    return nodes[:MAX_PRACTICE_NODES]


async def node_practices(
    gateway: GatewayClient, api_key: str, nodes: list[tuple[str, str]]
) -> tuple[list[dict[str, Any]], bool]:
    """The newest practices linked to each node (one request per node, all at once), and whether any request
    failed (feedback-svc down: the page says so and shows the rest)."""

    async def one(process: str, node: str) -> dict[str, Any]:
        params = [("process", process), ("node", node), ("limit", str(MAX_PRACTICES))]
        page = await gateway.get("/v1/practices", api_key, params)
        practices = [{"id": p["id"], "title": p["title"], "tags": p["tags"]} for p in page["items"][:MAX_PRACTICES]]
        return {"process": process, "node": node, "practices": practices}

    answers = await asyncio.gather(*(one(p, n) for p, n in nodes), return_exceptions=True)
    found = [a for a in answers if isinstance(a, dict)]
    failed = [a for a in answers if isinstance(a, BaseException)]
    for err in failed:
        if not isinstance(err, GatewayError):
            raise err
    # a key without the complaints scope is refused (403): nothing to show, nothing went wrong
    return found, any(isinstance(e, GatewayError) and e.status != 403 for e in failed)


def may_read_practices(me: SessionRow) -> bool:
    return me.may(Scope.complaints_read) or me.may(Scope.complaints_manage)


async def rankings_data(request: Request, me: SessionRow, q: RankingsQuery) -> dict[str, Any]:
    period = [("from", q.start.isoformat()), ("to", q.end.isoformat())]
    ranked = [*period, ("by", q.by), ("scope", q.population), ("n", "5"), ("min_sample", str(q.min_sample))]
    page = [*period, ("limit", "100"), *([("cursor", q.cursor)] if q.cursor else [])]
    rankings, recommendations = await asyncio.gather(
        upstream(request, me, "/v1/reports/rankings", ranked), upstream(request, me, "/v1/recommendations", page)
    )
    items = recommendations["items"]
    practices: list[dict[str, Any]] = []
    unavailable = False
    if may_read_practices(me):
        improve = [r for r in items if r["recommendation"] == "improve"]
        practices, unavailable = await node_practices(gateway_of(request), me.api_key, practice_nodes(improve))
    return {
        "by": q.by,
        "population": q.population,
        "from": q.first.isoformat(),
        "to": q.last.isoformat(),
        "min_sample": q.min_sample,
        "rankings": rankings,
        "recommendations": {
            "thresholds": {
                k: recommendations[k]
                for k in ("raise_at", "improve_at", "min_sample", "target_rate", "tolerance_target_rate")
            },
            **{verdict: [r for r in items if r["recommendation"] == verdict] for verdict in VERDICTS},
            "next": q.link(cursor=recommendations["next_cursor"]) if recommendations.get("next_cursor") else None,
        },
        "suggested_practices": practices,
        "practices_unavailable": unavailable,
    }


def forest(rankings: dict[str, Any], name: Any) -> charts.IntervalChart | None:
    rows = [(name(g), drawn[0], drawn[1]) for g in rankings["ranked"] if (drawn := _rate_row(g["normal"])) is not None]
    return charts.intervals(rows) if rows else None


def try_link(q: RankingsQuery, recommendation: dict[str, Any]) -> str:
    """The what-if form filled with a recommendation's suggested limits (the user still presses Run)."""
    changes = {"wi_commitment": str(recommendation["commitment"])}
    for mine, theirs in (("wi_commitment_limit", "suggested_commitment_limit"),
                         ("wi_tolerance_limit", "suggested_tolerance_limit")):  # fmt: skip
        if recommendation.get(theirs):
            changes[mine] = str(recommendation[theirs])
    return q.link(**changes) + "#what-if"


def _what_if_form(values: dict[str, str]) -> dict[str, str]:
    return {
        "commitment": values.get("commitment", "")[:MAX_FIELD],
        "commitment_limit": values.get("commitment_limit", "")[:MAX_FIELD],
        "tolerance_limit": values.get("tolerance_limit", "")[:MAX_FIELD],
        "limit_unit": values.get("limit_unit", "") if values.get("limit_unit") in LIMIT_UNITS else "",
        "group_by": values.get("group_by", "node") if values.get("group_by") in WHAT_IF_GROUPS else "node",
    }


def what_if_body(form: dict[str, str], start: datetime, end: datetime) -> dict[str, Any]:
    """The body of `POST /v1/what-if` from the form (empty fields: today's value); a bad field is a PageError."""
    for name in ("commitment", "commitment_limit", "tolerance_limit", "limit_unit", "group_by"):
        if len(form.get(name, "")) > MAX_FIELD:
            raise PageError(422, f"body.{name}: at most {MAX_FIELD} characters")
    commitment = form.get("commitment", "").strip()
    if not commitment:
        raise PageError(422, "body.commitment: the commitment whose runs to replay")
    body: dict[str, Any] = {"from": start.isoformat(), "to": end.isoformat(), "commitment": commitment}
    for name in ("commitment_limit", "tolerance_limit"):
        value = form.get(name, "").strip()
        if value:
            body[name] = value
    unit = form.get("limit_unit", "")
    if unit:
        body["limit_unit"] = _choice(unit, LIMIT_UNITS, "body.limit_unit")
    body["group_by"] = [_choice(form.get("group_by") or "node", WHAT_IF_GROUPS, "body.group_by")]
    return body


async def render_rankings(
    request: Request,
    me: SessionRow,
    q: RankingsQuery,
    form: dict[str, str],
    result: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    t = Translator(lang_of(request))
    data = await rankings_data(request, me, q)

    def name(group: dict[str, Any]) -> str:
        return str(group.get("name") or group.get("key") or t("none_key"))

    recommendations = data["recommendations"]
    keys = sorted({str(r["commitment"]) for v in VERDICTS for r in recommendations[v]})
    by_node = {(g["process"], g["node"]): g["practices"] for g in data["suggested_practices"]}
    context = {
        **user_context(me),
        **data,
        "period_from": data["from"],
        "period_to": data["to"],
        "forest": forest(data["rankings"], name),
        "group_name": name,
        "try_link": lambda r: try_link(q, r),
        "practices_of": lambda r: by_node.get((str(r["process"]), str(r["node"])), []),
        "verdicts": VERDICTS,
        "rank_by": RANK_BY,
        "populations": POPULATIONS,
        "commitment_keys": keys,
        "what_if_groups": WHAT_IF_GROUPS,
        "limit_units": LIMIT_UNITS,
        "form": _what_if_form(form),
        "result": result,
        "what_if_error": error,
        "can_what_if": can(Role(me.account.role), Scope.reports_read),
    }
    return render(request, "rankings.html", context, status)


@router.get("/rankings")
async def rankings_page(
    request: Request,
    me: SignedIn,
    by: Annotated[str, Query()] = "department",
    population: Annotated[str, Query()] = "node",
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: Annotated[str | None, Query()] = None,
    min_sample: Annotated[int, Query()] = 30,
    cursor: Annotated[str | None, Query()] = None,
    wi_commitment: Annotated[str, Query()] = "",
    wi_commitment_limit: Annotated[str, Query()] = "",
    wi_tolerance_limit: Annotated[str, Query()] = "",
) -> Response:
    q = rankings_query(request, by, population, from_, to, min_sample, cursor)
    prefill = {
        "commitment": wi_commitment,
        "commitment_limit": wi_commitment_limit,
        "tolerance_limit": wi_tolerance_limit,
    }
    return await render_rankings(request, me, q, prefill)


@router.get("/rankings.json")
async def rankings_json(
    request: Request,
    me: SignedIn,
    by: Annotated[str, Query()] = "department",
    population: Annotated[str, Query()] = "node",
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: Annotated[str | None, Query()] = None,
    min_sample: Annotated[int, Query()] = 30,
    cursor: Annotated[str | None, Query()] = None,
) -> Response:
    """The rankings page's JSON twin (the rankings and recommendations as the API gave them, by verdict)."""
    q = rankings_query(request, by, population, from_, to, min_sample, cursor)
    return JSONResponse(await rankings_data(request, me, q))


@router.post("/rankings/what-if")
async def what_if(request: Request, me: SignedIn) -> Response:
    """Replays the period's runs under the proposed limits (`POST /v1/what-if`, which changes nothing)."""
    t = Translator(lang_of(request))
    form = await read_form(request)
    if form is None or not same_token(form.get("csrf"), me.csrf_token):
        raise PageError(403, t("csrf"))
    if not can(Role(me.account.role), Scope.reports_read):
        raise PageError(403, t("forbidden"))
    try:
        min_sample = int(form.get("min_sample") or 30)
    except ValueError:
        raise PageError(422, "body.min_sample: a whole number") from None
    try:
        q = rankings_query(
            request,
            form.get("by") or "department",
            form.get("population") or "node",
            form.get("from") or None,
            form.get("to") or None,
            min_sample,
            None,
        )
    except PageError as err:  # the page's own fields, posted back with the form
        raise PageError(err.status, err.detail.replace("query.", "body.", 1)) from None
    result, error, status = None, "", 200
    try:
        body = what_if_body(form, q.start, q.end)
        result = await gateway_of(request).post("/v1/what-if", me.api_key, body)
    except PageError as err:
        error, status = err.detail, err.status
    except GatewayError as err:
        if err.status == 401:
            raise SignInRequired from None
        if err.status >= 500:
            raise PageError(err.status, err.detail) from None
        error, status = err.detail, err.status
    return await render_rankings(request, me, q, form, result, error, status)
