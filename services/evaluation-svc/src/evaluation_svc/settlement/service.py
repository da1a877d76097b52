"""Settling an agreement per billing period: computing a period, recording a draft, approving it."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pledge_common.identity import Caller
from pledge_common.pagination import decode_cursor, encode_cursor
from pledge_common.problems import Conflict, NotFound, field_error, invalid
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.insights.replay import calendars_by_key, load_runs, replay, versions_by_id
from evaluation_svc.kinds.repository import KindsRepository
from evaluation_svc.kinds.service import judge_availability_commitments, latest_versions
from evaluation_svc.reports.populations import counts_as_exempted
from evaluation_svc.reports.query import agreement_key, narrow_to_agreement
from evaluation_svc.reports.repository import ReportFilter, ReportRepository, Window
from evaluation_svc.reports.schemas import Rate
from evaluation_svc.rules import force_majeure_of, wilson_interval
from evaluation_svc.settlement.repository import SettlementRecord, SettlementRepository
from evaluation_svc.settlement.rules import (
    Adjustment,
    AvailabilityCredit,
    AvailabilityFigures,
    Billing,
    BillingPeriod,
    Cover,
    KindClause,
    Line,
    PeriodCharges,
    Settled,
    SettledOutage,
    SettledRun,
    adjustment,
    availability_credit,
    clauses_of,
    covers_of,
    kind_clauses_of,
    level,
    per_outage_over_limit,
    period_named,
    settle,
    settlement_currency,
    totals,
    with_kind_lines,
)
from evaluation_svc.settlement.satisfaction import FeedbackClient, SatisfactionUnavailable
from evaluation_svc.settlement.schemas import (
    AdjustmentOut,
    AvailabilityAchievement,
    Charge,
    CommitmentAchievement,
    PendingOutage,
    Satisfaction,
    SettledRunOut,
    Settlement,
    SettlementList,
    SettlementTotals,
)

# approved periods looked back at for late changes when a period is settled
ADJUSTMENT_LOOKBACK = 12
AGREEMENT_SUMMARY = ("id", "key", "version", "kind", "title", "provider", "customer", "status")


@dataclass(frozen=True, slots=True)
class Settling:
    """What settling needs besides the database: the instant, the run bound, and feedback-svc."""

    now: datetime
    max_runs: int
    feedback: FeedbackClient | None


async def agreement_named(session: AsyncSession, agreement_ref: str) -> dict[str, Any]:
    agreement = await ReportRepository(session).agreement(agreement_ref)
    if agreement is None:
        raise NotFound(f"no agreement {agreement_ref}")
    return agreement


def summary(agreement: Mapping[str, Any]) -> dict[str, object]:
    return {k: agreement.get(k) for k in AGREEMENT_SUMMARY}


def rate(count: int, judged: int) -> Rate:
    return Rate(count=count, share=count / judged if judged else None, interval=wilson_interval(count, judged))


async def settled_runs(
    session: AsyncSession, agreement: Mapping[str, Any], period: BillingPeriod, ctx: Settling, flt: ReportFilter
) -> list[SettledRun]:
    """The covered runs active in the period, judged as of min(end, now) under the agreement's exemptions."""
    t = min(period.end, ctx.now)
    window = Window(0, period.start, period.end, t)
    rows = await load_runs(session, window, narrow_to_agreement(flt, agreement), ctx.max_runs)
    versions = await versions_by_id(session, [r.commitment_id for r in rows])
    calendars = await calendars_by_key(session, [v.calendar_key for v in versions.values()])
    pause_reasons = frozenset((agreement.get("exemptions") or {}).get("pause_reasons") or ())
    windows = force_majeure_of({**agreement, "status": "signed"})  # settled as if binding (drafts too)
    out = []
    for r in replay(rows, t, versions, calendars, extra_pause_reasons=pause_reasons):
        facts, key = r.row.facts, r.row.commitment_key
        if key is None:
            continue
        hit = next((w for w in windows if w.exempts(facts, key, facts.ended_at)), None)
        if not counts_as_exempted(r.replayed, hit is not None):  # the rule every report uses: cancelled first
            hit = None
        out.append(
            SettledRun(
                node_run_id=facts.id,
                ticket_id=facts.ticket_id,
                source=facts.source,
                external_id=facts.external_id,
                kind=facts.kind,
                commitment_key=key,
                ended_at=facts.ended_at,
                state=r.replayed,
                stored_state=r.actual,
                excluded=None if hit is None else f"force majeure: {hit.reason}",
            )
        )
    return out


async def charges_of(
    session: AsyncSession,
    agreement: Mapping[str, Any],
    period: BillingPeriod,
    ctx: Settling,
    flt: ReportFilter | None = None,
) -> PeriodCharges:
    runs = await settled_runs(session, agreement, period, ctx, flt or ReportFilter())
    billing = Billing.of_agreement(agreement)
    clauses, kind_clauses = clauses_of(agreement), kind_clauses_of(agreement)
    try:
        currency = settlement_currency(billing, [*clauses, *kind_clauses])
        charges = settle(period, await run_covers(session, agreement), clauses, billing, runs)
    except ValueError as err:
        raise Conflict(str(err), errors=[field_error("billing.currency", str(err))]) from None
    if flt is not None and flt != ReportFilter():
        return charges  # a review of part of the runs: the services' figures belong to the whole agreement
    lines, figures = await availability_charges(session, agreement, period, ctx, kind_clauses, billing)
    return with_kind_lines(charges, lines, figures, currency)


async def run_covers(session: AsyncSession, agreement: Mapping[str, Any]) -> list[Cover]:
    """The covers of commitments on runs (the other kinds are judged apart: never an achievement of runs)."""
    covers = covers_of(agreement)
    kinds = await KindsRepository(session).kind_keys(c.commitment_key for c in covers)
    return [c for c in covers if c.commitment_key not in kinds]


async def availability_charges(
    session: AsyncSession,
    agreement: Mapping[str, Any],
    period: BillingPeriod,
    ctx: Settling,
    clauses: Sequence[KindClause],
    billing: Billing,
) -> tuple[list[Line], list[AvailabilityFigures]]:
    """The availability commitments the agreement covers, judged over the period as of min(end, now) for the
    services in its scope, and the lines of their clauses (docs/kinds.md "Settlement of availability")."""
    covers = {c.commitment_key: c.target_rate for c in covers_of(agreement)}
    t = min(period.end, ctx.now)
    found = latest_versions(await KindsRepository(session).commitments(["availability"], period.start, period.end))
    commitments = [c for c in found if c.commitment_key in covers]
    if not commitments:
        return [], []
    scope = agreement.get("scope") or {}
    customers, segments = set(scope.get("customer_refs") or ()), set(scope.get("segments") or ())
    services = await KindsRepository(session).services(c.service_key for c in commitments)
    commitments = [
        c
        for c in commitments
        if (not customers or (c.service_key in services and services[c.service_key].customer_ref in customers))
        and (not segments or (c.service_key in services and services[c.service_key].segment in segments))
    ]
    judged = await judge_availability_commitments(session, commitments, covers, period.start, period.end, t)
    lines: list[Line] = []
    figures = []
    for j in judged:
        c, p = j.commitment, j.period
        outages = [
            SettledOutage(
                j.outage_ids.get(o.ref, o.ref),
                o.ref,
                c.service_key,
                c.commitment_key,
                o.ended_at,
                o.state.value,
                o.exempt,
            )
            for o in (p.outages if p is not None else ())
        ]
        pending: list[SettledOutage] = []
        for clause in clauses:
            if clause.commitment_key != c.commitment_key:
                continue
            if isinstance(clause, AvailabilityCredit):
                line = availability_credit(
                    clause, None if p is None else p.availability, billing.base_fee, c.service_key
                )
                if line is not None:  # judged as of now: downtime only grows, the final credit is not less
                    lines.append(line)
            else:
                charged, open_past = per_outage_over_limit(clause, period, outages)
                lines += charged
                pending = open_past
        figures.append(
            AvailabilityFigures(
                commitment_key=c.commitment_key,
                service_key=c.service_key,
                availability=None if p is None else p.availability,
                target=covers.get(c.commitment_key),
                outages=0 if p is None else len(p.judged),
                warning=sum(1 for o in outages if not o.exempt and level(o.state) == "warning"),
                pending=pending,
            )
        )
    return lines, figures


def _charge(line: Line) -> Charge:
    return Charge(
        clause=line.clause,
        kind=line.kind,
        commitment_key=line.commitment_key,
        node_run_id=line.node_run_id,
        ticket_id=line.ticket_id,
        source=line.source,
        work_order=line.external_id,
        outage_id=line.outage_id,
        service=line.service_key,
        amount=line.amount,
        reason=line.reason,
    )


def _line(charge: Charge) -> Line:
    return Line(
        clause=charge.clause,
        kind=charge.kind,
        commitment_key=charge.commitment_key,
        amount=charge.amount,
        reason=charge.reason,
        node_run_id=charge.node_run_id,
        ticket_id=charge.ticket_id,
        source=charge.source,
        external_id=charge.work_order,
        outage_id=charge.outage_id,
        service_key=charge.service,
    )


def _availability(a: AvailabilityFigures) -> AvailabilityAchievement:
    return AvailabilityAchievement(
        commitment_key=a.commitment_key,
        service=a.service_key,
        availability=a.availability,
        target=a.target,
        met=a.met,
        outages=a.outages,
        warning=a.warning,
        pending=[PendingOutage(id=o.outage_id, ref=o.outage_ref, state=o.state or "") for o in a.pending],
    )


def _run(run: SettledRun) -> SettledRunOut:
    return SettledRunOut(
        node_run_id=run.node_run_id,
        ticket_id=run.ticket_id,
        source=run.source,
        work_order=run.external_id,
        kind=run.kind,
        commitment_key=run.commitment_key,
        ended_at=run.ended_at,
        state=run.state,
        reason=run.excluded,
    )


async def adjustments_for(
    session: AsyncSession, agreement: Mapping[str, Any], period: BillingPeriod, ctx: Settling
) -> list[Adjustment]:
    """Late changes to the approved periods before `period`: each recomputed now against what was settled
    for it (its approved credit, or the latest adjustment an approved period carried for it)."""
    records = await SettlementRepository(session).approved_before(
        agreement_key(agreement), period.start, ADJUSTMENT_LOOKBACK
    )
    settled: dict[str, Settled] = {}
    periods: dict[str, BillingPeriod] = {}
    for record in records:  # oldest first: a later record's adjustment supersedes what came before
        doc = Settlement.model_validate(record.document)
        periods[doc.period] = BillingPeriod(doc.from_, doc.to, doc.period)
        settled[doc.period] = Settled(doc.period, doc.totals.credit, [_line(c) for c in doc.charges])
        for adj in doc.adjustments:
            settled[adj.period] = Settled(adj.period, adj.recomputed_credit, [_line(c) for c in adj.lines])
    out = []
    for label, earlier in sorted(periods.items(), key=lambda kv: kv[1].start):
        change = adjustment(settled[label], await charges_of(session, agreement, earlier, ctx))
        if change is not None:
            out.append(change)
    return out


async def satisfaction_of(
    session: AsyncSession, agreement: Mapping[str, Any], period: BillingPeriod, ctx: Settling
) -> tuple[Satisfaction | None, str | None]:
    if ctx.feedback is None:
        return None, "feedback-svc is not configured"
    processes = await SettlementRepository(session).covered_processes([c.commitment_key for c in covers_of(agreement)])
    segments = [str(s) for s in (agreement.get("scope") or {}).get("segments") or ()]
    try:
        figures = await ctx.feedback.satisfaction(period.start, min(period.end, ctx.now), processes, segments)
    except SatisfactionUnavailable as err:
        return None, str(err)
    return (
        Satisfaction(
            responses=figures.responses,
            csat_responses=figures.csat_responses,
            csat=figures.csat,
            nps_responses=figures.nps_responses,
            nps=figures.nps,
            processes=list(figures.processes),
        ),
        None,
    )


async def compute(
    session: AsyncSession,
    agreement: Mapping[str, Any],
    period: BillingPeriod,
    ctx: Settling,
    *,
    flt: ReportFilter | None = None,
) -> Settlement:
    """The settlement of a period as the data says now (status `preview`); a narrowing filter (a review
    of part of the agreement) leaves out the adjustments, which belong to the whole agreement."""
    billing = Billing.of_agreement(agreement)
    charges = await charges_of(session, agreement, period, ctx, flt)
    adjustments = [] if flt is not None else await adjustments_for(session, agreement, period, ctx)
    sums = totals(charges, adjustments, billing.base_fee)
    satisfaction, unavailable = await satisfaction_of(session, agreement, period, ctx)
    return Settlement(
        agreement=summary(agreement),
        period=period.label,
        from_=period.start,
        to=period.end,
        as_of=min(period.end, ctx.now),
        status="preview",
        currency=charges.currency,
        billing_period=billing.period,
        billing_timezone=billing.timezone,
        computed_at=ctx.now,
        commitments=[
            CommitmentAchievement(
                commitment_key=a.commitment_key,
                target_rate=a.target_rate,
                runs=a.runs,
                judged=a.judged,
                normal=rate(a.normal, a.judged),
                acceptable=a.acceptable,
                warning=a.warning,
                cancelled=a.cancelled,
                excluded=a.excluded,
                pending=a.pending,
                relieved_by_exemptions=a.relieved,
                met=a.met,
            )
            for a in charges.achievements
        ],
        satisfaction=satisfaction,
        satisfaction_unavailable=unavailable,
        charges=[_charge(line) for line in charges.lines],
        availability=[_availability(a) for a in charges.availability],
        pending=[_run(r) for r in charges.pending],
        excluded=[_run(r) for r in charges.excluded],
        adjustments=[
            AdjustmentOut(
                period=a.period,
                settled_credit=a.settled_credit,
                recomputed_credit=a.recomputed_credit,
                amount=a.amount,
                added=[_charge(line) for line in a.added],
                removed=[_charge(line) for line in a.removed],
                lines=[_charge(line) for line in a.lines],
            )
            for a in adjustments
        ],
        totals=SettlementTotals(
            penalties=sums.penalties,
            cap=charges.cap,
            capped_off=sums.capped_off,
            credit=sums.credit,
            adjustments=sums.adjustments,
            credits=sums.credits,
            base_fee=sums.base_fee,
            amount_due=sums.amount_due,
        ),
    )


def _period(agreement: Mapping[str, Any], label: str) -> BillingPeriod:
    try:
        return period_named(Billing.of_agreement(agreement), label)
    except ValueError as err:
        raise invalid("path.period", str(err)) from None


def _document(settlement: Settlement) -> dict[str, Any]:
    return settlement.model_dump(mode="json", by_alias=True)


def _stored(record: SettlementRecord) -> Settlement:
    return Settlement.model_validate(record.document)


async def settlement(session: AsyncSession, agreement_ref: str, label: str, ctx: Settling) -> Settlement:
    """The recorded settlement of a period (draft or approved), else a preview computed now."""
    agreement = await agreement_named(session, agreement_ref)
    period = _period(agreement, label)
    record = await SettlementRepository(session).get(agreement_key(agreement), period.start)
    if record is not None:
        return _stored(record)
    if period.start > ctx.now:
        raise invalid("path.period", f"{label} has not started yet")
    return await compute(session, agreement, period, ctx)


async def settlements(session: AsyncSession, agreement_ref: str, cursor: str | None, limit: int) -> SettlementList:
    """One page of an agreement's recorded settlements, latest period first."""
    after = decode_cursor(cursor, _aware)
    agreement = await agreement_named(session, agreement_ref)
    records = await SettlementRepository(session).listed(
        agreement_key(agreement), after[0] if after else None, limit + 1
    )
    more = len(records) > limit
    records = records[:limit]
    return SettlementList(
        agreement=summary(agreement),
        items=[_stored(r) for r in records],
        next_cursor=encode_cursor(records[-1].period_start) if more and records else None,
    )


def _aware(value: str) -> datetime:
    """A cursor kind: an ISO 8601 instant with its offset (a naive one cannot be compared to a timestamptz)."""
    instant = datetime.fromisoformat(value)
    if instant.tzinfo is None:
        raise ValueError(f"{value!r} has no offset")
    return instant


def _approved_conflict(record: SettlementRecord) -> Conflict:
    doc = record.document
    return Conflict(
        f"{record.period} was approved on {doc.get('approved_at')} by {doc.get('approved_by')} and never changes;"
        " late events appear as an adjustment in the next period",
        errors=[field_error("path.period", "is approved")],
    )


async def draft(session: AsyncSession, agreement_ref: str, label: str, caller: Caller, ctx: Settling) -> Settlement:
    """Computes the period now and records it as its draft (replacing an earlier draft)."""
    agreement = await agreement_named(session, agreement_ref)
    period = _period(agreement, label)
    if period.start > ctx.now:
        raise invalid("path.period", f"{label} has not started yet")
    repo = SettlementRepository(session)
    key = agreement_key(agreement)
    existing = await repo.get(key, period.start, for_update=True)
    if existing is not None and existing.status == "approved":
        raise _approved_conflict(existing)
    computed = await compute(session, agreement, period, ctx)
    recorded = computed.model_copy(update={"status": "draft", "drafted_at": ctx.now, "drafted_by": caller.sub})
    saved = await repo.save_draft(
        agreement_key=key,
        agreement_id=str(agreement["id"]),
        period=period.label,
        period_start=period.start,
        period_end=period.end,
        currency=recorded.currency,
        credits=recorded.totals.credits,
        document=_document(recorded),
        at=ctx.now,
        by=caller.sub,
    )
    if not saved:  # approved meanwhile
        record = await repo.get(key, period.start)
        assert record is not None
        raise _approved_conflict(record)
    return recorded


async def approve(
    session: AsyncSession,
    agreement_ref: str,
    label: str,
    caller: Caller,
    now: datetime,
    expected_credits: Decimal | None,
) -> Settlement:
    """Freezes the recorded draft as it stands (what the approver read): who and when are recorded."""
    agreement = await agreement_named(session, agreement_ref)
    period = _period(agreement, label)
    repo = SettlementRepository(session)
    record = await repo.get(agreement_key(agreement), period.start, for_update=True)
    if record is None:
        raise Conflict(
            f"{label} has no draft: record one with POST …/settlements/{label}",
            errors=[field_error("path.period", "has no draft")],
        )
    if record.status == "approved":
        raise _approved_conflict(record)
    doc = _stored(record)
    if doc.computed_at < period.end:
        raise Conflict(
            f"the draft of {label} was computed before the period ended: draft it again after {period.end.isoformat()}",
            errors=[field_error("path.period", "draft computed before the period's end")],
        )
    if expected_credits is not None and expected_credits != doc.totals.credits:
        raise Conflict(
            f"the draft credits {doc.totals.credits}, not {expected_credits}: read it again before approving",
            errors=[field_error("expected_credits", f"the draft credits {doc.totals.credits}")],
        )
    approved = doc.model_copy(update={"status": "approved", "approved_at": now, "approved_by": caller.sub})
    await repo.approve(record.agreement_key, record.period_start, _document(approved), now, caller.sub)
    return approved


async def approved_by_start(
    session: AsyncSession, agreement: Mapping[str, Any], periods: Sequence[BillingPeriod]
) -> dict[datetime, Settlement]:
    records = await SettlementRepository(session).approved_in(agreement_key(agreement), [p.start for p in periods])
    return {start: _stored(r) for start, r in records.items()}
