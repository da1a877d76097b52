"""Scorecards: every built-in KPI for every department over the 12 months ending with the asked one, their
targets, ranks and trend; a closed month's values frozen at their first computation (docs/kpis.md)."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pledge_deadlines import Calendar
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.insights.replay import calendars_by_key
from evaluation_svc.kpis import feedback as fb
from evaluation_svc.kpis.custom import Definition, from_json, in_force
from evaluation_svc.kpis.repository import KpiRepository
from evaluation_svc.kpis.rules import (
    CATALOGUE,
    Kpi,
    adjustment,
    bounds,
    change,
    closed,
    mean,
    mean_hours,
    met,
    parse_period,
    period_key,
    ranks,
    rate,
    trend_periods,
    working_days,
    working_seconds,
)
from evaluation_svc.kpis.schemas import Scorecard, ScorecardKpi, TrendPoint, UtilityScorecards
from evaluation_svc.settlement.satisfaction import FeedbackClient

# the KPIs whose source keeps no customer segment: a segment's scorecard shows no value and says why, never the
# department-wide figure (two populations are never mixed)
NOT_BY_SEGMENT = {
    "complaint_first_time_resolution_rate": "complaints are not recorded by customer segment (feedback-svc): "
    "no value for a segment's population",
    "complaint_volume": "complaints are not recorded by customer segment (feedback-svc): "
    "no value for a segment's population",
}
FEEDBACK_KPIS = ("csat", "complaint_first_time_resolution_rate", "complaint_volume")

# kpi → department → period → value
Values = dict[str, dict[str, dict[str, float | None]]]


@dataclass
class Computed:
    values: Values
    departments: list[str]
    unavailable: dict[str, str] = field(default_factory=dict)  # kpi → why it has no value
    customs: list[Kpi] = field(default_factory=list)  # the custom KPIs computed (read once with their values)


async def compute(
    session: AsyncSession,
    feedback: FeedbackClient | None,
    periods: list[str],
    first: date,
    zone: ZoneInfo,
    reopen_window: timedelta,
    segment: str | None = None,
) -> Computed:
    """Every built-in KPI of every department in each of `periods` (consecutive months ending with `first`); of
    one customer segment's population only when `segment` is given (never mixed with the others)."""
    start = bounds(date.fromisoformat(periods[0] + "-01"), zone)[0]
    end = bounds(first, zone)[1]
    repo = KpiRepository(session)
    values: Values = {k.key: defaultdict(dict) for k in CATALOGUE}
    tz = zone.key
    for r in await repo.run_counts(start, end, tz, segment):
        values["on_time_rate"][r["department"]][r["period"]] = rate(r["on_time"], r["orders"])
        values["commitment_fulfilment_rate"][r["department"]][r["period"]] = rate(r["fulfilled"], r["runs"])
    for r in await repo.repairs(start, end, tz, reopen_window, segment):
        values["first_time_fix_rate"][r["department"]][r["period"]] = rate(r["fixed"], r["repairs"])
    connections = await repo.connections(start, end, tz, segment)
    calendars = await calendars_by_key(session, {r["calendar_key"] for r in connections})
    days: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in connections:
        calendar = calendars.get(r["calendar_key"] or "") or Calendar.always()
        days[(r["department"], r["period"])].append(working_days(calendar, r["started_at"], r["counted_seconds"]))
    for (department, period), found in days.items():
        values["connection_time"][department][period] = mean(found)
    await _service_measures(session, repo, values, start, end, tz, reopen_window, segment)
    unavailable: dict[str, str] = {}
    if feedback is None:
        for key in FEEDBACK_KPIS:
            unavailable[key] = "feedback-svc is not configured (`feedback_url`)"
    else:
        for key in FEEDBACK_KPIS:
            if key in NOT_BY_SEGMENT and segment is not None:
                unavailable[key] = NOT_BY_SEGMENT[key]
                continue
            try:
                if key == "complaint_volume":
                    months = [(p, *bounds(parse_period(p), zone)) for p in periods]
                    for (department, period), count in (await fb.complaint_volume(feedback, months)).items():
                        values[key][department][period] = float(count)
                    continue
                if key == "csat":
                    counts = await fb.csat(feedback, start, end, zone, segment)
                else:
                    counts = await fb.complaint_resolution(feedback, start, end, zone)
            except fb.FeedbackUnavailable as err:
                unavailable[key] = str(err)
                continue
            for (department, period), (part, whole) in counts.items():
                if period in periods:
                    values[key][department][period] = rate(part, whole)
    custom_rows = await repo.custom_versions()
    await _custom(session, repo, custom_rows, values, periods, zone, segment)
    known = set(await repo.departments())
    for per_department in values.values():
        known.update(per_department)
    if "complaint_volume" not in unavailable:  # a count: no complaint of a known department is 0, not unknown
        for department in known:
            for p in periods:
                values["complaint_volume"][department].setdefault(p, 0.0)
    return Computed({k: dict(v) for k, v in values.items()}, sorted(known), unavailable, customs_of(custom_rows))


async def _service_measures(
    session: AsyncSession,
    repo: KpiRepository,
    values: Values,
    start: datetime,
    end: datetime,
    tz: str,
    reopen_window: timedelta,
    segment: str | None,
) -> None:
    """Document 002's measures on the work orders (end-to-end runs): handling time, problem and resolution
    rates (one query), response time (each on its commitment's calendar), closure rate (by opening month)."""
    for r in await repo.work_orders(start, end, tz, reopen_window, segment):
        seconds = r["mean_seconds"]
        values["handling_time"][r["department"]][r["period"]] = (
            None if seconds is None else mean_hours([float(seconds)])
        )
        values["problem_rate"][r["department"]][r["period"]] = rate(r["problems"], r["orders"])
        values["resolution_rate"][r["department"]][r["period"]] = rate(r["resolved"], r["orders"])
    responses = await repo.responses(start, end, tz, segment)
    calendars = await calendars_by_key(session, {r["calendar_key"] for r in responses})
    waits: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in responses:
        calendar = calendars.get(r["calendar_key"] or "") or Calendar.always()
        waits[(r["department"], r["period"])].append(working_seconds(calendar, r["opened_at"], r["responded_at"]))
    for (department, period), found in waits.items():
        values["response_time"][department][period] = mean_hours(found)
    for r in await repo.closures(start, end, tz, segment):
        values["closure_rate"][r["department"]][r["period"]] = rate(r["closed"], r["opened"])


def customs_of(rows: list[dict[str, Any]]) -> list[Kpi]:
    """The custom KPIs as catalogue entries (their latest version's name, unit, direction), by key."""
    latest: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["key"] not in latest or r["version"] > latest[r["key"]]["version"]:
            latest[r["key"]] = r
    return [
        Kpi(r["key"], r["name"], r["unit"], r["direction"], "runs", f"custom {r['kind']}, version {r['version']}")
        for r in sorted(latest.values(), key=lambda r: r["key"])
    ]


async def _custom(
    session: AsyncSession,
    repo: KpiRepository,
    custom_rows: list[dict[str, Any]],
    values: Values,
    periods: list[str],
    zone: ZoneInfo,
    segment: str | None,
) -> None:
    """Every custom KPI's value per department and month, each month with the version in force at its start:
    the ratios and averages in hours of every version in one pass over the runs; each average in working days
    over its own runs (their calendars)."""
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in custom_rows:
        by_key[r["key"]].append(r)
    counted: list[tuple[str, Definition, list[str]]] = []
    for key, rows in by_key.items():
        values[key] = defaultdict(dict)
        versions = {r["version"]: r for r in rows}
        governed: dict[int, list[str]] = defaultdict(list)
        for p in periods:
            governed[in_force([(r["version"], r["effective_from"]) for r in rows], p)].append(p)
        for number, months in governed.items():
            row = versions[number]
            d = from_json(row["kind"], row["unit"], row["definition"])
            if d.kind == "ratio" or d.unit == "hours":
                counted.append((key, d, months))
                continue
            start, end = bounds(parse_period(months[0]), zone)[0], bounds(parse_period(months[-1]), zone)[1]
            runs = await repo.custom_runs(d, start, end, zone.key, segment)
            calendars = await calendars_by_key(session, {r["calendar_key"] for r in runs})
            days: dict[tuple[str, str], list[float]] = defaultdict(list)
            for r in runs:
                calendar = calendars.get(r["calendar_key"] or "") or Calendar.always()
                days[(r["department"], r["period"])].append(
                    working_days(calendar, r["started_at"], r["counted_seconds"])
                )
            for (department, period), found in days.items():
                if period in months:
                    values[key][department][period] = mean(found)
    items = [
        (d, bounds(parse_period(months[0]), zone)[0], bounds(parse_period(months[-1]), zone)[1])
        for _, d, months in counted
    ]
    for c in await repo.custom_counts(items, zone.key, segment):
        for i, (key, d, months) in enumerate(counted):
            if c["period"] not in months or not c[f"whole_{i}"]:
                continue
            hours = c[f"hours_{i}"]
            figure = rate(c[f"part_{i}"], c[f"whole_{i}"]) if d.kind == "ratio" else None
            if d.kind == "average" and hours is not None:
                figure = round(float(hours), 2)
            values[key][c["department"]][c["period"]] = figure


def _of(values: Values, kpi: str, department: str, period: str) -> float | None:
    return values.get(kpi, {}).get(department, {}).get(period)


async def utility(
    session: AsyncSession,
    feedback: FeedbackClient | None,
    first: date,
    zone: ZoneInfo,
    now: datetime,
    reopen_window: timedelta,
    segment: str | None = None,
) -> UtilityScorecards:
    """The six KPIs of every department for one month, frozen once the month is closed; of one customer segment
    (its population, its targets, its own frozen values, ranked among the departments' figures of the same
    segment) when `segment` is given."""
    periods = [period_key(p) for p in trend_periods(first)]
    period = periods[-1]
    repo = KpiRepository(session)
    fresh = await compute(session, feedback, periods, first, zone, reopen_window, segment)
    stored = await repo.frozen_many(periods, segment)
    catalogue = [*CATALOGUE, *fresh.customs]  # the customs as read with their values: none frozen unseen
    keys = [k.key for k in catalogue]
    answered = [k for k in keys if k not in fresh.unavailable]
    for p in periods:
        if not closed(parse_period(p), zone, now):
            continue
        missing = [k for k in answered if p not in stored or k not in stored[p]["values"]]
        if missing:  # each closed month's KPI is frozen at its first computation whose source answered
            current = {k: {d: _of(fresh.values, k, d, p) for d in fresh.departments} for k in missing}
            stored[p] = await repo.freeze(p, current, now, segment)
    targets = await repo.targets_for(periods, segment)
    departments = sorted(set(fresh.departments) | {d for (_, d, _) in targets})
    shown: Values = {k: {d: dict(fresh.values.get(k, {}).get(d, {})) for d in departments} for k in keys}
    for key in keys:
        for d in departments:
            for p in periods:
                frozen = stored.get(p, {}).get("values", {}).get(key)
                # a closed month reads as frozen (a department it did not know: no value then)
                shown[key][d][p] = frozen.get(d) if frozen is not None else shown[key][d].get(p)
    frozen_now = stored.get(period, {}).get("values", {})
    rank_of = {k.key: ranks({d: shown[k.key][d][period] for d in departments}, k.direction) for k in catalogue}
    cards = []
    for department in departments:
        items = []
        for k in catalogue:
            series = shown[k.key][department]
            value = series[period]
            target = targets.get((k.key, department, period))
            items.append(
                ScorecardKpi(
                    kpi=k.key,
                    name=k.name,
                    unit=k.unit,
                    direction=k.direction,
                    value=value,
                    target=target,
                    met=met(value, target, k.direction),
                    change=change(value, series[periods[-2]]) if len(periods) > 1 else None,
                    rank=rank_of[k.key].get(department),
                    ranked=len(rank_of[k.key]),
                    trend=[TrendPoint(period=p, value=series[p]) for p in periods],
                    adjustment=(
                        adjustment(_of(fresh.values, k.key, department, period), value) if k.key in frozen_now else None
                    ),
                    unavailable=fresh.unavailable.get(k.key),
                )
            )
        cards.append(Scorecard(department=department, period=period, segment=segment, kpis=items))
    return UtilityScorecards(
        period=period,
        segment=segment,
        timezone=zone.key,
        closed=closed(first, zone, now),
        frozen_at=stored[period]["frozen_at"] if period in stored else None,
        scorecards=cards,
    )
