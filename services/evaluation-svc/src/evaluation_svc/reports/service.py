"""Reports: pivot the counts of the repository into seven-state tables and achievement rates."""

import math
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

from fastapi import FastAPI
from pledge_common.db import unit_of_work
from pledge_common.pagination import decode_cursor, encode_cursor
from pledge_common.problems import NotFound, invalid
from pledge_deadlines import Calendar, State
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from evaluation_svc.kinds import service as kinds_service
from evaluation_svc.readmodel.repository import ReadModelRepository
from evaluation_svc.reports.instants import Reached, reached
from evaluation_svc.reports.populations import POPULATIONS, Population, counts_as_exempted, populations_in
from evaluation_svc.reports.query import ReportQuery, coverage, covered_by_any, narrow_to_agreement
from evaluation_svc.reports.repository import AGREEMENT, POPULATION, Covered, ReportFilter, ReportRepository, Window
from evaluation_svc.reports.schemas import (
    AchievementGroup,
    AchievementReport,
    AgreementRef,
    BucketPublic,
    DurationBounds,
    DurationStats,
    NodeRunPage,
    Rate,
    ReportRunPublic,
    StatusReport,
    StatusRow,
)
from evaluation_svc.rules import (
    STATES,
    UNJUDGED,
    BucketCell,
    Percentile,
    StateCounts,
    bucket_percentile,
    calendar_from_payload,
    histogram_mean,
    wilson_interval,
)

Db = AsyncSession | AsyncConnection
GroupKey = tuple[int, tuple[str, ...]]
Histogram = dict[int, tuple[int, Decimal]]  # bucket -> (runs, sum of their counted seconds)


async def with_agreement(db: Db, flt: ReportFilter, agreement_id: str | None) -> ReportFilter:
    """Narrow a filter to the runs an agreement covers (its commitments, segments, customers)."""
    if agreement_id is None:
        return flt
    agreement = await ReportRepository(db).agreement(agreement_id)
    if agreement is None:
        raise invalid("query.agreement", f"no agreement {agreement_id!r}")
    return narrow_to_agreement(flt, agreement)


async def group_agreements(db: Db, q: ReportQuery) -> list[dict[str, Any]]:
    """The agreements of a report grouped by agreement: the one `agreement=` names (the report's filter is
    already narrowed to it, and narrowing again changes nothing), else every agreement not terminated."""
    if AGREEMENT not in q.group_by:
        return []
    repo = ReportRepository(db)
    if q.agreement is not None:
        named = await repo.agreement(q.agreement)
        return [] if named is None else [named]
    return await repo.agreements()


def _bucket(window: Window) -> BucketPublic:
    return BucketPublic(start=window.start, end=window.end, as_of=window.as_of)


def _group(names: Sequence[str], values: tuple[str, ...]) -> dict[str, str | None]:
    return {n: (v or None) for n, v in zip(names, values, strict=True)}


def _row_order(key: GroupKey) -> tuple[int, tuple[str, ...], int]:
    """Rows by bucket, then group, then population (node runs before the end-to-end run)."""
    idx, values = key
    return idx, values[1:], POPULATIONS.index(values[0])  # type: ignore[arg-type]


async def status_report(db: Db, q: ReportQuery) -> StatusReport:
    repo = ReportRepository(db)
    agreements = await group_agreements(db, q)
    # every row and total holds one population: it is the first value of every group key
    grouping = (POPULATION, *q.group_by)
    counts: dict[GroupKey, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATES, 0))
    exempted: dict[GroupKey, int] = defaultdict(int)
    # one statement whatever the number of agreements: each run counts in the group of every agreement covering it
    for values, idx, state, is_exempt, n in await repo.state_counts(
        q.windows, q.filter, grouping, coverage=coverage(agreements)
    ):
        key = (idx, values)
        counts[key][state] += n
        if counts_as_exempted(state, is_exempt):
            exempted[key] += n
    windows = {w.idx: w for w in q.windows}

    def row(key: GroupKey, names: Sequence[str]) -> StatusRow:
        idx, values = key
        population = cast(Population, values[0])
        group = _group(names, values[1:])
        cell = counts[key]
        return StatusRow(
            bucket=_bucket(windows[idx]),
            population=population,
            group=group,
            counts=cell,
            total=sum(cell.values()),
            exempted=exempted[key],
            links={s: q.cell_link(windows[idx], group, population, s) for s, n in cell.items() if n}
            | {"all": q.cell_link(windows[idx], group, population, None)},
        )

    rows = [row(key, q.group_by) for key in sorted(counts, key=_row_order)]
    totals: list[StatusRow] = []
    # per process and population; per agreement, process and population when grouped by agreement (a run may be
    # in several agreements)
    kept = [i for i, g in enumerate(grouping) if g in (POPULATION, "process", AGREEMENT)]
    if "process" in q.group_by and len(grouping) > len(kept):
        sums: dict[GroupKey, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATES, 0))
        sum_exempt: dict[GroupKey, int] = defaultdict(int)
        for (idx, values), cell in counts.items():
            key = (idx, tuple(values[i] for i in kept))
            for s, n in cell.items():
                sums[key][s] += n
            sum_exempt[key] += exempted[idx, values]
        counts, exempted = sums, sum_exempt
        totals = [row(key, [grouping[i] for i in kept[1:]]) for key in sorted(sums, key=_row_order)]
    return StatusReport(
        as_of=q.as_of,
        from_=q.start,
        to=q.end,
        bucket=q.bucket,
        timezone=q.timezone,
        group_by=list(q.group_by),
        states=list(STATES),
        rows=rows,
        totals=totals,
        agreements=[AgreementRef.from_payload(a) for a in agreements],
        services=await kinds_service.status_rows(db, q) if isinstance(db, AsyncSession) else [],
    )


def _rate(count: int, judged: int) -> Rate:
    return Rate(count=count, share=count / judged if judged else None, interval=wilson_interval(count, judged))


def _seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=round(value))


def _bounds(p: Percentile | None) -> DurationBounds | None:
    """The bucket's bounds in whole seconds, widened outward (floor, ceiling): they still hold the true value."""
    if p is None:
        return None
    return DurationBounds(from_=timedelta(seconds=math.floor(p.low)), to=timedelta(seconds=math.ceil(p.high)))


def duration_stats(hist: Histogram) -> DurationStats:
    """Mean (exact), median and P90 (each the mean of its bucket, with the bucket's bounds) of a histogram."""
    cells = {b: BucketCell(n=n, seconds=float(seconds)) for b, (n, seconds) in hist.items()}
    median = bucket_percentile(cells, 0.5)
    p90 = bucket_percentile(cells, 0.9)
    mean = histogram_mean(cells)
    return DurationStats(
        completed=sum(n for n, _ in hist.values()),
        mean=_seconds(mean),
        median=_seconds(None if median is None else median.value),
        p90=_seconds(None if p90 is None else p90.value),
        mean_seconds=None if mean is None else round(mean, 1),
        median_seconds=None if median is None else round(median.value, 1),
        p90_seconds=None if p90 is None else round(p90.value, 1),
        median_bounds=_bounds(median),
        p90_bounds=_bounds(p90),
    )


def achievement_group(
    window: Window, population: Population, group: dict[str, str | None], sc: StateCounts, hist: Histogram
) -> AchievementGroup:
    judged = sc.judged
    return AchievementGroup(
        bucket=_bucket(window),
        population=population,
        group=group,
        runs=sum(sc.counts.values()) + sc.exempted,
        judged=judged,
        normal=_rate(sc.level("normal"), judged),
        acceptable=_rate(sc.level("acceptable"), judged),
        warning=_rate(sc.level("warning"), judged),
        completed=sum(n for s, n in sc.counts.items() if s.startswith("completed_")),
        in_progress=sum(n for s, n in sc.counts.items() if s.startswith("in_progress_")),
        cancelled=sc.counts.get(State.CANCELLED.value, 0),
        exempted=sc.exempted,
        unjudged=sc.counts.get(UNJUDGED, 0),
        counted_duration=duration_stats(hist),
    )


async def _achievement_counts(
    db: Db, windows: Sequence[Window], flt: ReportFilter, group: Sequence[str], covered: Sequence[Covered] = ()
) -> tuple[dict[GroupKey, StateCounts], dict[GroupKey, Histogram]]:
    repo = ReportRepository(db)
    counts: dict[GroupKey, StateCounts] = defaultdict(StateCounts)
    hists: dict[GroupKey, Histogram] = defaultdict(dict)
    for values, idx, state, is_exempt, n in await repo.state_counts(windows, flt, group, coverage=covered):
        counts[idx, values].add(state, n, exempted=counts_as_exempted(state, is_exempt))
    for values, idx, bucket, n, seconds in await repo.duration_histograms(windows, flt, group, coverage=covered):
        _add(hists[idx, values], bucket, n, seconds)
    return counts, hists


def _add(hist: Histogram, bucket: int, n: int, seconds: Decimal) -> None:
    had_n, had_seconds = hist.get(bucket, (0, Decimal(0)))
    hist[bucket] = (had_n + n, had_seconds + seconds)


async def achievement_data(db: Db, q: ReportQuery) -> tuple[dict[GroupKey, StateCounts], dict[GroupKey, Histogram]]:
    covered = coverage(await group_agreements(db, q))
    return await _achievement_counts(db, q.windows, q.filter, q.group_by, covered)


async def achievement_report(db: Db, q: ReportQuery) -> AchievementReport:
    agreements = await group_agreements(db, q)
    grouping = (POPULATION, *q.group_by)  # populations apart: the first value of every group key
    counts, hists = await _achievement_counts(db, q.windows, q.filter, grouping, coverage(agreements))
    every, every_hists = counts, hists
    if AGREEMENT in q.group_by:  # a run in the groups of several agreements counts once overall
        every, every_hists = await _achievement_counts(db, q.windows, covered_by_any(q, agreements), (POPULATION,))
    windows = {w.idx: w for w in q.windows}
    groups = [
        achievement_group(
            windows[idx],
            cast(Population, values[0]),
            _group(q.group_by, values[1:]),
            counts[idx, values],
            hists.get((idx, values), {}),
        )
        for idx, values in sorted(set(counts) | set(hists), key=_row_order)
    ]
    overall: list[AchievementGroup] = []
    for w in q.windows:
        for population in populations_in(q.filter.scope):
            total = StateCounts()
            merged: Histogram = {}
            for (idx, values), sc in every.items():
                if idx == w.idx and values[0] == population:
                    for s, n in sc.counts.items():
                        total.add(s, n, exempted=False)
                    total.exempted += sc.exempted
            for (idx, values), hist in every_hists.items():
                if idx == w.idx and values[0] == population:
                    for b, (n, seconds) in hist.items():
                        _add(merged, b, n, seconds)
            overall.append(achievement_group(w, population, {}, total, merged))
    return AchievementReport(
        from_=q.start,
        to=q.end,
        as_of=q.as_of,
        bucket=q.bucket,
        timezone=q.timezone,
        group_by=list(q.group_by),
        groups=groups,
        overall=overall,
        agreements=[AgreementRef.from_payload(a) for a in agreements],
    )


async def _reached(db: Db, rows: Sequence[dict[str, Any]]) -> dict[str, Reached]:
    """The deadlines a person reads, per judged run of a page (a page's versions and calendars read once)."""
    if not isinstance(db, AsyncSession):
        return {}
    repo = ReadModelRepository(db)
    judged = [r for r in rows if r.get("commitment_id") and r.get("started_at")]
    versions = {v.id: v for v in await repo.commitment_versions({r["commitment_id"] for r in judged})}
    stored = await repo.calendars({v.calendar_key for v in versions.values() if v.calendar_key})
    found: dict[str, Reached] = {}
    for r in judged:
        version = versions.get(r["commitment_id"])
        if version is None:
            continue
        try:
            raw = stored.get(version.calendar_key or "")
            # a judged run whose calendar is not stored was judged on the built-in round-the-clock calendar
            calendar = Calendar.always() if raw is None else calendar_from_payload(raw)
            found[r["id"]] = reached(version, calendar, r["started_at"], r.get("pauses") or ())
        except (ValueError, TypeError, KeyError, OverflowError):
            continue  # facts the deadline arithmetic refuses: the run was left unjudged, or is shown without them
    return found


async def runs_page(db: Db, q: ReportQuery, state: str | None, cursor: str | None, limit: int) -> NodeRunPage:
    if state is not None and state not in STATES:
        raise invalid("query.state", f"unknown state {state!r}; use one of {', '.join(STATES)}")
    if not q.windows:
        raise NotFound("the period has not started yet")
    window = q.windows[0]
    after = decode_cursor(cursor, str, field="query.cursor")
    repo = ReportRepository(db)
    rows = await repo.runs_page(window, q.filter, state, after[0] if after else None, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    reached_at = await _reached(db, rows)
    return NodeRunPage(
        items=[ReportRunPublic.from_row(r, window.as_of, reached_at.get(r["id"])) for r in rows],
        next_cursor=encode_cursor(rows[-1]["id"]) if more and rows else None,
        ended_by_ticket=await repo.ended_by_ticket(window, q.filter, state),
    )


RUN_COLUMNS = tuple(ReportRunPublic.model_fields)


@dataclass(frozen=True, slots=True)
class RunsExport:
    """What an export of a status cell streams: its runs from `after`, at most `limit`."""

    window: Window
    filter: ReportFilter
    state: str | None
    after: str | None
    limit: int
    next_cursor: str | None


async def runs_export(db: Db, q: ReportQuery, state: str | None, cursor: str | None, limit: int) -> RunsExport:
    """The bounds of an export of a cell, checked before anything is sent (the next cursor is known then)."""
    if state is not None and state not in STATES:
        raise invalid("query.state", f"unknown state {state!r}; use one of {', '.join(STATES)}")
    if not q.windows:
        raise NotFound("the period has not started yet")
    window = q.windows[0]
    after = decode_cursor(cursor, str, field="query.cursor")
    start = after[0] if after else None
    last = await ReportRepository(db).last_of_page(window, q.filter, state, start, limit)
    return RunsExport(window, q.filter, state, start, limit, encode_cursor(last) if last else None)


async def stream_runs(app: FastAPI, export: RunsExport, chunk: int) -> AsyncIterator[ReportRunPublic]:
    """The runs of an export, read a chunk at a time in a session of their own (the request's has ended by the
    time the body is sent): memory holds one chunk, whatever the export's size."""
    after, remaining = export.after, export.limit
    async with unit_of_work(app) as db:
        while remaining > 0:
            rows = await ReportRepository(db).runs_page(
                export.window, export.filter, export.state, after, min(chunk, remaining)
            )
            reached_at = await _reached(db, rows)
            for r in rows:
                yield ReportRunPublic.from_row(r, export.window.as_of, reached_at.get(r["id"]))
            if len(rows) < min(chunk, remaining):
                return
            after, remaining = rows[-1]["id"], remaining - len(rows)
