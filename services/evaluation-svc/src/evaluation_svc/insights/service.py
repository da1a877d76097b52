"""Rankings and recommendations (from the report rollups); what-if and agreement reviews (replays)."""

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from pledge_common.durations import format_days, format_seconds
from pledge_common.pagination import DEFAULT_LIMIT, decode_cursor, encode_cursor, int32
from pledge_common.problems import invalid
from pledge_deadlines import Calendar, business_days_limit
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.insights.replay import (
    Replayed,
    calendars_by_key,
    latest_version,
    load_runs,
    replay,
    versions_by_id,
)
from evaluation_svc.insights.repository import DurationFigures, InsightsRepository
from evaluation_svc.insights.rules import Thresholds, business_days_needed, nearest_rank, suggest, verdict
from evaluation_svc.insights.schemas import (
    AgreementReview,
    CoveredCommitment,
    ExcludedRun,
    HandlingTime,
    Outcome,
    PenaltyItem,
    RankedGroup,
    Rankings,
    Recommendation,
    Recommendations,
    ReviewedPeriod,
    WhatIfGroup,
    WhatIfReport,
    WhatIfRequest,
)
from evaluation_svc.reports.query import ReportQuery
from evaluation_svc.reports.repository import ReportFilter, ReportRepository, Window
from evaluation_svc.reports.service import achievement_data
from evaluation_svc.rules import (
    UNJUDGED,
    CommitmentVersion,
    calendar_from_payload,
    force_majeure_of,
    parse_duration,
    whole_days,
)
from evaluation_svc.settlement.rules import Billing, periods_overlapping
from evaluation_svc.settlement.service import (
    Settling,
    agreement_named,
    approved_by_start,
    compute,
    rate,
    run_covers,
    summary,
)


def _level(state: str | None) -> str | None:
    if state is None or state in ("cancelled", UNJUDGED):
        return None
    return state.rsplit("_", 1)[1]


async def rankings(session: AsyncSession, q: ReportQuery, by: str, n: int, min_sample: int) -> Rankings:
    counts, _ = await achievement_data(session, replace(q, group_by=(by,)))
    names = await ReportRepository(session).names("ref_departments") if by == "department" else {}
    groups = []
    for (_, (key,)), sc in counts.items():
        groups.append(
            RankedGroup(
                rank=None,
                key=key or None,
                name=names.get(key) if key else None,
                runs=sum(sc.counts.values()) + sc.exempted,
                judged=sc.judged,
                normal=rate(sc.level("normal"), sc.judged),
            )
        )
    eligible = [g for g in groups if g.judged >= min_sample]
    eligible.sort(key=lambda g: (-(g.normal.share or 0), -g.judged, g.key or ""))
    ranked = [g.model_copy(update={"rank": i + 1}) for i, g in enumerate(eligible)]
    return Rankings(
        by=by,
        population=q.filter.scope,  # type: ignore[arg-type]
        from_=q.start or q.as_of,
        to=q.end or q.as_of,
        as_of=q.as_of,
        min_sample=min_sample,
        ranked=ranked,
        top=ranked[:n],
        bottom=list(reversed(ranked))[:n],
        insufficient=sorted((g for g in groups if g.judged < min_sample), key=lambda g: g.key or ""),
    )


async def recommendations(
    session: AsyncSession,
    q: ReportQuery,
    *,
    raise_at: float,
    improve_at: float,
    min_sample: int,
    target_rate: float,
    tolerance_target_rate: float,
    max_runs: int,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Recommendations:
    """One page of recommendations, by process, node, commitment and version (unique): the achievement of every
    version is counted in one query, the duration figures and replays only for the versions of the page."""
    after = decode_cursor(cursor, str, str, str, int32)
    counts, _ = await achievement_data(session, replace(q, group_by=("version",)))
    found = await versions_by_id(session, [values[0] for _, values in counts])
    ordered = sorted(
        (v for v in found.values() if after is None or _recommendation_order(v) > after), key=_recommendation_order
    )
    more = len(ordered) > limit
    versions = {v.id: v for v in ordered[:limit]}
    thresholds = Thresholds(raise_at=raise_at, improve_at=improve_at, min_sample=min_sample)
    window = q.windows[0]
    fractions = (0.5, 0.9, target_rate, tolerance_target_rate)
    repo = InsightsRepository(session)
    figures = await repo.duration_figures(window, q.filter, list(versions), fractions)
    by_days = [v.id for v in versions.values() if v.limit_unit == "business_days"]
    day_runs = await repo.completed_runs(window, q.filter, by_days, max_runs)
    calendars = await calendars_by_key(session, [versions[i].calendar_key for i in by_days])
    items = []
    for (_, (version_id,)), sc in sorted(counts.items(), key=lambda kv: kv[0][1]):
        version = versions.get(version_id)
        if version is None:
            continue
        judged = sc.judged
        decision, reason = verdict(sc.level("normal"), judged, thresholds)
        stats = figures.get(version_id)
        if version.limit_unit == "business_days":
            calendar = calendars.get(version.calendar_key or "") or Calendar.always()
            days = sorted(_days_needed(calendar, start, counted) for start, counted in day_runs.get(version_id, ()))
            values: tuple[float | None, float | None] = (
                nearest_rank(days, target_rate),
                nearest_rank(days, tolerance_target_rate),
            )
            current = (float(whole_days(version.commitment_limit)), float(whole_days(version.tolerance_limit)))
        else:
            values = (None, None) if stats is None else (stats.percentiles[2], stats.percentiles[3])
            current = (
                parse_duration(version.commitment_limit).total_seconds(),
                parse_duration(version.tolerance_limit).total_seconds(),
            )
        suggestion = suggest(
            values[0],
            values[1],
            current_commitment=current[0],
            current_tolerance=current[1],
            decision=decision,
            unit=version.limit_unit,
            fmt=_business_days if version.limit_unit == "business_days" else _duration,
        )
        items.append(
            Recommendation(
                commitment_id=version.id,
                commitment_key=version.commitment_key,
                version=version.version,
                process_key=version.process_key,
                node_key=version.node_key,
                segment_key=version.segment_key,
                limit_unit=version.limit_unit,
                commitment_limit=version.commitment_limit,
                tolerance_limit=version.tolerance_limit,
                judged=judged,
                completed=0 if stats is None else stats.completed,
                achievement=rate(sc.level("normal"), judged),
                within_tolerance=rate(sc.level("normal") + sc.level("acceptable"), judged),
                handling_time=_handling_time(stats),
                recommendation=decision,
                reason=reason,
                suggested_commitment_limit=suggestion.commitment,
                suggested_tolerance_limit=suggestion.tolerance,
                suggestion_capped=suggestion.capped_at_current,
            )
        )
    items.sort(key=lambda r: (r.process_key, r.node_key or "", r.commitment_key, r.version))
    last = ordered[limit - 1] if more else None
    return Recommendations(
        next_cursor=None if last is None else encode_cursor(*_recommendation_order(last)),
        from_=q.start or q.as_of,
        to=q.end or q.as_of,
        as_of=q.as_of,
        raise_at=raise_at,
        improve_at=improve_at,
        min_sample=min_sample,
        target_rate=target_rate,
        tolerance_target_rate=tolerance_target_rate,
        items=items,
    )


def _recommendation_order(version: CommitmentVersion) -> tuple[str, str, str, int]:
    return (version.process_key, version.node_key or "", version.commitment_key, version.version)


def _days_needed(calendar: Calendar, start: datetime, counted: float) -> int:
    return business_days_needed(timedelta(seconds=counted), partial(business_days_limit, calendar, start))


def _duration(seconds: float) -> str:
    return format_seconds(seconds)


def _business_days(days: float) -> str:
    return format_days(int(days))


def _handling_time(stats: DurationFigures | None) -> HandlingTime:
    if stats is None:
        return HandlingTime(
            completed=0, mean=None, median=None, p90=None, mean_seconds=None, median_seconds=None, p90_seconds=None
        )
    median, p90 = stats.percentiles[0], stats.percentiles[1]
    return HandlingTime(
        completed=stats.completed,
        # whole seconds, rounded up as reports round counted time: RFC 3339 durations have no fraction (the
        # exact values are the *_seconds fields)
        mean=timedelta(seconds=math.ceil(stats.mean)),
        median=timedelta(seconds=math.ceil(median)),
        p90=timedelta(seconds=math.ceil(p90)),
        mean_seconds=stats.mean,
        median_seconds=median,
        p90_seconds=p90,
    )


def _outcome(states: Iterable[str | None]) -> Outcome:
    levels = [_level(s) for s in states]
    judged = sum(1 for lv in levels if lv is not None)
    return Outcome(
        judged=judged,
        normal=rate(levels.count("normal"), judged),
        acceptable=rate(levels.count("acceptable"), judged),
        warning=rate(levels.count("warning"), judged),
    )


_ATTR = {
    "process": "process_key",
    "node": "node_key",
    "segment": "segment",
    "source": "source",
}


def _group_value(r: Replayed, dim: str) -> str | None:
    if dim in _ATTR:
        value: str | None = getattr(r.row.facts, _ATTR[dim])
        return value
    return r.row.department if dim == "department" else r.row.position


async def what_if(
    session: AsyncSession, body: WhatIfRequest, window: Window, flt: ReportFilter, max_runs: int
) -> WhatIfReport:
    base = await latest_version(session, body.commitment_key)
    if base is None:
        raise invalid("commitment", f"no active or retired commitment {body.commitment_key!r}")
    overrides: dict[str, Any] = {}
    unit = body.limit_unit or base.limit_unit
    for field in ("commitment_limit", "tolerance_limit"):
        value = getattr(body, field)
        if value is None:
            continue
        try:
            (whole_days if unit == "business_days" else parse_duration)(value)
        except ValueError as err:
            raise invalid(field, f"not a valid {unit} limit: {err}") from None
        overrides[field] = value
    if body.limit_unit is not None:
        overrides["limit_unit"] = body.limit_unit
    if body.allowed_pause_reasons is not None:
        overrides["allowed_pause_reasons"] = frozenset(body.allowed_pause_reasons)
    calendar: Calendar | None = None
    if body.calendar is not None:
        try:
            calendar = calendar_from_payload(body.calendar.model_dump())
        except (ValueError, TypeError) as err:
            raise invalid("calendar", str(err)) from None
    proposed_commitment = overrides.get("commitment_limit", base.commitment_limit)
    proposed_tolerance = overrides.get("tolerance_limit", base.tolerance_limit)
    check = replace(base, limit_unit=unit, commitment_limit=proposed_commitment, tolerance_limit=proposed_tolerance)
    try:
        commitment, tolerance = check.limits(calendar or Calendar.always(), window.as_of)
    except ValueError as err:
        raise invalid("commitment_limit", str(err)) from None
    if tolerance < commitment:
        raise invalid("tolerance_limit", "must not be below the commitment limit")
    rows = await load_runs(session, window, replace(flt, commitment=[body.commitment_key]), max_runs, "to")
    versions = await versions_by_id(session, [r.commitment_id for r in rows])
    calendars = await calendars_by_key(session, [v.calendar_key for v in versions.values()])
    results = [
        r
        for r in replay(rows, window.as_of, versions, calendars, overrides=overrides, calendar_override=calendar)
        if not r.row.exempted
    ]
    by_group: dict[tuple[str | None, ...], list[Replayed]] = defaultdict(list)
    for r in results:
        by_group[tuple(_group_value(r, d) for d in body.group_by)].append(r)

    def group(values: dict[str, str | None], members: Sequence[Replayed]) -> WhatIfGroup:
        return WhatIfGroup(
            group=values,
            runs=len(members),
            actual=_outcome(m.actual for m in members),
            proposed=_outcome(m.replayed for m in members),
        )

    proposal = body.model_dump(mode="json", by_alias=True, exclude={"from_", "to", "group_by"}, exclude_none=True)
    return WhatIfReport(
        from_=body.from_,
        to=body.to,
        as_of=window.as_of,
        commitment_key=body.commitment_key,
        proposal=proposal,
        replayed_runs=len(results),
        groups=[
            group(dict(zip(body.group_by, key, strict=True)), members)
            for key, members in sorted(by_group.items(), key=lambda kv: tuple(v or "" for v in kv[0]))
        ],
        overall=group({}, results),
    )


def _narrows(flt: ReportFilter) -> bool:
    """Whether a review reads part of the agreement only (then approved settlements cannot stand for it)."""
    return replace(flt, caller_sources=None) != ReportFilter() or flt.caller_sources is not None


async def agreement_review(
    session: AsyncSession, agreement_id: str, window: Window, flt: ReportFilter, ctx: Settling
) -> AgreementReview:
    """Each billing period the window overlaps, settled whole (the approved settlement where there is one),
    and their sum: a run is charged in the one period in which it ended."""
    agreement = await agreement_named(session, agreement_id)
    billing = Billing.of_agreement(agreement)
    start, end = window.start or window.as_of, window.end or window.as_of
    periods = [p for p in periods_overlapping(billing, start, end) if p.start <= ctx.now]
    narrowed = _narrows(flt)
    approved = {} if narrowed else await approved_by_start(session, agreement, periods)
    settled = [
        approved.get(p.start) or await compute(session, agreement, p, ctx, flt=flt if narrowed else None)
        for p in periods
    ]
    commitments = []
    for cover in await run_covers(session, agreement):
        rows = [a for s in settled for a in s.commitments if a.commitment_key == cover.commitment_key]
        judged, normal = sum(a.judged for a in rows), sum(a.normal.count for a in rows)
        share = normal / judged if judged else None
        commitments.append(
            CoveredCommitment(
                commitment_key=cover.commitment_key,
                target_rate=cover.target_rate,
                runs=sum(a.runs for a in rows),
                judged=judged,
                cancelled=sum(a.cancelled for a in rows),
                excluded=sum(a.excluded for a in rows),
                relieved_by_exemptions=sum(a.relieved_by_exemptions for a in rows),
                normal=rate(normal, judged),
                met=None if share is None else share >= cover.target_rate,
            )
        )
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for s in settled:
        if s.currency is not None:
            totals[s.currency] += s.totals.credits
    exemptions = agreement.get("exemptions") or {}
    windows = force_majeure_of({**agreement, "status": "signed"})
    return AgreementReview(
        agreement=summary(agreement),
        from_=start,
        to=end,
        as_of=window.as_of,
        billing={
            "period": billing.period,
            "timezone": billing.timezone,
            "currency": billing.currency,
            "base_fee": billing.base_fee,
            "cap": billing.cap,
        },
        periods=[
            ReviewedPeriod(
                period=s.period,
                from_=s.from_,
                to=s.to,
                status=s.status,
                achievement=s.commitments,
                availability=s.availability,
                satisfaction=s.satisfaction,
                satisfaction_unavailable=s.satisfaction_unavailable,
                pending=s.pending,
                penalties=s.totals.penalties,
                credit=s.totals.credit,
                adjustments=s.totals.adjustments,
                credits=s.totals.credits,
                amount_due=s.totals.amount_due,
            )
            for s in settled
        ],
        commitments=commitments,
        exemptions={
            "pause_reasons": sorted(frozenset(exemptions.get("pause_reasons") or ())),
            "force_majeure": [{"from": w.starts_at, "to": w.ends_at, "reason": w.reason} for w in windows],
        },
        excluded=[
            ExcludedRun(
                period=s.period,
                node_run_id=r.node_run_id,
                ticket_id=r.ticket_id,
                work_order=r.work_order,
                commitment_key=r.commitment_key,
                reason=r.reason or "",
            )
            for s in settled
            for r in s.excluded
        ],
        penalties=[
            PenaltyItem(
                period=s.period,
                clause=c.clause,
                kind=c.kind,
                commitment_key=c.commitment_key,
                node_run_id=c.node_run_id,
                ticket_id=c.ticket_id,
                work_order=c.work_order,
                outage_id=c.outage_id,
                service=c.service,
                amount=c.amount,
                currency=s.currency or "",
                reason=c.reason,
            )
            for s in settled
            for c in s.charges
        ],
        totals=dict(totals),
    )
