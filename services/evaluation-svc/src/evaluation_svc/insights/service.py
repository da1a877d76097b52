"""Rankings and recommendations (from the report rollups); what-if and agreement reviews (replays)."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pledge_common.problems import NotFound, invalid
from pledge_deadlines import Calendar
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.insights.replay import (
    Replayed,
    calendars_by_key,
    latest_version,
    load_runs,
    replay,
    versions_by_id,
)
from evaluation_svc.insights.schemas import (
    AgreementReview,
    CoveredCommitment,
    ExcludedRun,
    Outcome,
    PenaltyItem,
    RankedGroup,
    Rankings,
    Recommendation,
    Recommendations,
    WhatIfGroup,
    WhatIfReport,
    WhatIfRequest,
)
from evaluation_svc.reports.query import ReportQuery, narrow_to_agreement
from evaluation_svc.reports.repository import ReportFilter, ReportRepository, Window
from evaluation_svc.reports.service import _rate, achievement_data
from evaluation_svc.rules import (
    UNJUDGED,
    CommitmentVersion,
    calendar_from_payload,
    force_majeure_of,
    histogram_quantile,
    parse_duration,
    whole_days,
)

LEVEL_ORDER = {"normal": 0, "acceptable": 1, "warning": 2}


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
                normal=_rate(sc.level("normal"), sc.judged),
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
) -> Recommendations:
    counts, hists = await achievement_data(session, replace(q, group_by=("version",)))
    versions = await versions_by_id(session, [values[0] for _, values in counts])
    items = []
    for (_, (version_id,)), sc in sorted(counts.items(), key=lambda kv: kv[0][1]):
        version = versions.get(version_id)
        if version is None:
            continue
        hist = hists.get((0, (version_id,)), {})
        judged = sc.judged
        achievement = _rate(sc.level("normal"), judged)
        share = achievement.share
        if judged < min_sample or share is None:
            verdict, reason = "insufficient_data", f"{judged} judged runs; at least {min_sample} are needed"
        elif share >= raise_at:
            verdict = "raise"
            reason = f"{share:.0%} of runs met the commitment (≥ {raise_at:.0%}): promise more"
        elif share <= improve_at:
            verdict = "improve"
            reason = f"only {share:.0%} of runs met the commitment (≤ {improve_at:.0%}): improve the process"
        else:
            verdict, reason = "keep", f"{share:.0%} of runs met the commitment"
        suggested = histogram_quantile(hist, target_rate, upper=True)
        suggested_tolerance = histogram_quantile(hist, tolerance_target_rate, upper=True)
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
                completed=sum(hist.values()),
                achievement=achievement,
                within_tolerance=_rate(sc.level("normal") + sc.level("acceptable"), judged),
                recommendation=verdict,  # type: ignore[arg-type]
                reason=reason,
                suggested_commitment_limit=None if suggested is None else _minutes(suggested),
                suggested_tolerance_limit=None if suggested_tolerance is None else _minutes(suggested_tolerance),
            )
        )
    items.sort(key=lambda r: (r.process_key, r.node_key or "", r.commitment_key, r.version))
    return Recommendations(
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


def _minutes(seconds: float) -> timedelta:
    """A suggested limit, rounded up to the minute (a limit people can write down)."""
    return timedelta(minutes=-(-seconds // 60))


def _outcome(states: Iterable[str | None]) -> Outcome:
    levels = [_level(s) for s in states]
    judged = sum(1 for lv in levels if lv is not None)
    return Outcome(
        judged=judged,
        normal=_rate(levels.count("normal"), judged),
        acceptable=_rate(levels.count("acceptable"), judged),
        warning=_rate(levels.count("warning"), judged),
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
        raise invalid("commitment_key", f"no active or retired commitment {body.commitment_key!r}")
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
    rows = await load_runs(session, window, replace(flt, commitment=[body.commitment_key]), max_runs)
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


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


async def agreement_review(
    session: AsyncSession, agreement_id: str, window: Window, flt: ReportFilter, max_runs: int
) -> AgreementReview:
    agreement = await ReportRepository(session).agreement(agreement_id)
    if agreement is None:
        raise NotFound(f"no agreement {agreement_id}")
    covers = [(str(c["commitment_key"]), float(c.get("target_rate") or 0)) for c in agreement.get("covers") or ()]
    exemptions = agreement.get("exemptions") or {}
    pause_reasons = frozenset(exemptions.get("pause_reasons") or ())
    windows = force_majeure_of({**agreement, "status": "signed"})  # reviewed as if binding (drafts too)
    rows = await load_runs(session, window, narrow_to_agreement(flt, agreement), max_runs)
    versions: dict[str, CommitmentVersion] = await versions_by_id(session, [r.commitment_id for r in rows])
    calendars = await calendars_by_key(session, [v.calendar_key for v in versions.values()])
    results = replay(rows, window.as_of, versions, calendars, extra_pause_reasons=pause_reasons)
    excluded: list[ExcludedRun] = []
    per_key: dict[str, list[Replayed]] = defaultdict(list)
    for r in results:
        window_hit = next(
            (w for w in windows if w.exempts(r.row.facts, r.row.commitment_key, r.row.facts.ended_at)), None
        )
        if window_hit is not None:
            excluded.append(
                ExcludedRun(
                    node_run_id=r.row.facts.id,
                    ticket_id=r.row.facts.ticket_id,
                    commitment_key=r.row.commitment_key,
                    reason=f"force majeure: {window_hit.reason}",
                )
            )
            continue
        per_key[r.row.commitment_key or ""].append(r)
    commitments = []
    missed: dict[str, float] = {}
    for key, target in covers:
        members = per_key.get(key, [])
        outcome = _outcome(m.replayed for m in members)
        relieved = sum(
            1
            for m in members
            if _level(m.actual)
            and _level(m.replayed)
            and LEVEL_ORDER[_level(m.replayed) or ""] < LEVEL_ORDER[_level(m.actual) or ""]
        )
        met = None if outcome.normal.share is None else outcome.normal.share >= target
        if met is False:
            missed[key] = outcome.normal.share or 0.0
        commitments.append(
            CoveredCommitment(
                commitment_key=key,
                target_rate=target,
                runs=len(members),
                judged=outcome.judged,
                cancelled=sum(1 for m in members if m.replayed == "cancelled"),
                excluded=sum(1 for e in excluded if e.commitment_key == key),
                relieved_by_exemptions=relieved,
                normal=outcome.normal,
                met=met,
            )
        )
    penalties: list[PenaltyItem] = []
    for clause, raw in enumerate(agreement.get("penalties") or ()):
        kind = raw.get("kind")
        currency = str(raw.get("currency") or "")
        if kind == "per_warning_run":
            per_run = _decimal(raw.get("amount")) or Decimal(0)
            for key, members in sorted(per_key.items()):
                for m in sorted(members, key=lambda m: m.row.facts.id):
                    if _level(m.replayed) == "warning":
                        penalties.append(
                            PenaltyItem(
                                clause=clause, kind=kind, commitment_key=key or None,
                                node_run_id=m.row.facts.id, ticket_id=m.row.facts.ticket_id,
                                amount=per_run, currency=currency,
                                reason=f"run beyond the tolerance limit ({m.replayed})",
                            )
                        )  # fmt: skip
        elif kind == "under_target":
            wanted = raw.get("commitment_key")
            fixed = _decimal(raw.get("amount"))
            share_of_fee, fee = _decimal(raw.get("fee_share")), _decimal(raw.get("fee"))
            if fixed is not None:
                amount = fixed
            elif share_of_fee is not None and fee is not None:
                amount = share_of_fee * fee
            else:
                amount = Decimal(0)
            for key, share in sorted(missed.items()):
                if wanted is None or wanted == key:
                    target = dict(covers)[key]
                    penalties.append(
                        PenaltyItem(
                            clause=clause, kind=kind, commitment_key=key, amount=amount, currency=currency,
                            reason=f"achievement {share:.1%} under the target {target:.1%}",
                        )
                    )  # fmt: skip
    cent = Decimal("0.01")
    penalties = [p.model_copy(update={"amount": p.amount.quantize(cent)}) for p in penalties]
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for item in penalties:
        totals[item.currency] += item.amount
    summary = {k: agreement.get(k) for k in ("id", "key", "version", "kind", "title", "provider", "customer", "status")}
    return AgreementReview(
        agreement=summary,
        from_=window.start or window.as_of,
        to=window.end or window.as_of,
        as_of=window.as_of,
        commitments=commitments,
        exemptions={
            "pause_reasons": sorted(pause_reasons),
            "force_majeure": [{"from": w.starts_at, "to": w.ends_at, "reason": w.reason} for w in windows],
        },
        excluded=excluded,
        penalties=penalties,
        totals=dict(totals),
    )
