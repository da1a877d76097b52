"""The reports of the kinds of commitment: the stored facts judged by the pure rules of `rules/kinds.py`.

One row per commitment and service: when several versions of a commitment were in force during the period,
the highest one judges the period (a version change inside a billing period is rare; docs/kinds.md)."""

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pledge_deadlines import Calendar, State
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.kinds.repository import KindsRepository, Service, StoredOutage
from evaluation_svc.kinds.schemas import (
    AvailabilityForecast,
    AvailabilityLimits,
    AvailabilityReport,
    AvailabilityRow,
    BurnRatesPublic,
    CountCheck,
    DowntimeCheck,
    JudgedOutage,
    ObligationRow,
    ObligationsReport,
    ReportedService,
)
from evaluation_svc.readmodel.repository import ReadModelRepository
from evaluation_svc.reports.query import ReportQuery
from evaluation_svc.reports.repository import AGREEMENT
from evaluation_svc.reports.schemas import BucketPublic, ServiceStatusRow
from evaluation_svc.rules.kinds import (
    BURN_WINDOWS,
    KINDS,
    AvailabilityPeriod,
    BurnRates,
    Forecast,
    KindCommitment,
    OutageJudgment,
    burn_rates,
    forecast,
    intervals_in_period,
    judge_availability,
    judge_clause,
    judge_intervals,
    judge_samples,
)
from evaluation_svc.rules.payloads import calendar_from_payload

log = logging.getLogger("evaluation.kinds")
SEVEN = tuple(s.value for s in State)
BUILTIN_CALENDARS = (None, "24x7")
LONGEST_WINDOW = max(BURN_WINDOWS.values())
YIELD_EVERY = 25


def latest_versions(commitments: Iterable[KindCommitment]) -> list[KindCommitment]:
    """Per commitment key and service, the highest version (the list is in key order)."""
    latest: dict[tuple[str, str], KindCommitment] = {}
    for c in commitments:
        key = (c.commitment_key, c.service_key)
        if key not in latest or c.version > latest[key].version:
            latest[key] = c
    return [latest[k] for k in sorted(latest)]


async def calendars_of(session: AsyncSession, commitments: Sequence[KindCommitment]) -> dict[str | None, Calendar]:
    """The usable calendars of the commitments (24x7 for none or the built-in one)."""
    stored = await ReadModelRepository(session).calendars(c.calendar_key for c in commitments if c.calendar_key)
    parsed: dict[str | None, Calendar] = {key: Calendar.always() for key in BUILTIN_CALENDARS}
    for key, value in stored.items():
        try:
            parsed[key] = calendar_from_payload(value)
        except (ValueError, TypeError, KeyError) as err:
            log.warning("calendar %s cannot be used: %s", key, err)
            parsed.pop(key, None)
    return parsed


def _service_ref(key: str, services: Mapping[str, Service]) -> ReportedService:
    s = services.get(key)
    if s is None:  # a commitment whose service.upserted has not arrived yet
        return ReportedService(key=key, name=key, customer_ref=None, segment="default")
    return ReportedService(key=s.key, name=s.name, customer_ref=s.customer_ref, segment=s.segment)


def _wanted(
    commitments: Iterable[KindCommitment],
    services: Mapping[str, Service],
    service_keys: Sequence[str],
    customers: Sequence[str],
) -> list[KindCommitment]:
    out = []
    for c in commitments:
        if service_keys and c.service_key not in service_keys:
            continue
        if customers and (c.service_key not in services or services[c.service_key].customer_ref not in customers):
            continue
        out.append(c)
    return out


# --- availability -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JudgedAvailability:
    commitment: KindCommitment
    period: AvailabilityPeriod | None  # None: the commitment cannot be judged
    burn: BurnRates | None
    forecast: Forecast | None
    outage_ids: Mapping[str, str]  # outage ref -> id


async def judge_availability_commitments(
    session: AsyncSession,
    commitments: Sequence[KindCommitment],
    targets: Mapping[str, float],
    start: datetime,
    end: datetime,
    t: datetime,
) -> list[JudgedAvailability]:
    """Each availability commitment over [start, end) as of t (t <= end), with its burn and forecast."""
    repo = KindsRepository(session)
    calendars = await calendars_of(session, commitments)
    outages: dict[str, list[StoredOutage]] = {}
    for o in await repo.outages({c.service_key for c in commitments}, min(start, t - LONGEST_WINDOW), end):
        outages.setdefault(o.service_key, []).append(o)
    judged = []
    for i, c in enumerate(commitments):
        if i % YIELD_EVERY == YIELD_EVERY - 1:
            await asyncio.sleep(0)  # judging is CPU work: let the other requests of this process through
        calendar = calendars.get(c.calendar_key)
        stored = outages.get(c.service_key, [])
        ids = {o.outage.ref: o.id for o in stored}
        if calendar is None:
            judged.append(JudgedAvailability(c, None, None, None, ids))
            continue
        target = targets.get(c.commitment_key)
        try:
            objective = c.availability_objective()
            commitment, tolerance = c.limits(calendar, start)
            facts = [o.outage for o in stored]
            period = judge_availability(facts, calendar, commitment, tolerance, objective, start, end, t, target=target)
        except (ValueError, TypeError, KeyError, OverflowError) as err:
            log.warning("availability commitment %s cannot be judged: %s", c.id, err)
            judged.append(JudgedAvailability(c, None, None, None, ids))
            continue
        burn = predicted = None
        if target is not None:
            burn = burn_rates(facts, calendar, target, t)
            if t < end:
                elapsed = period.service_so_far
                predicted = forecast(period.downtime, elapsed, period.service_time, target, burn.rates["3d"])
        judged.append(JudgedAvailability(c, period, burn, predicted, ids))
    return judged


def _outage(j: OutageJudgment, ids: Mapping[str, str]) -> JudgedOutage:
    return JudgedOutage(
        id=ids.get(j.ref, j.ref),
        ref=j.ref,
        started_at=j.started_at,
        ended_at=j.ended_at,
        counted=j.counted,
        state=j.state.value,
        planned=j.planned,
        exempt=j.exempt,
        weight=j.weight,
    )


def _availability_row(
    j: JudgedAvailability, services: Mapping[str, Service], targets: Mapping[str, float]
) -> AvailabilityRow:
    c, p = j.commitment, j.period
    base: dict[str, Any] = {
        "commitment_key": c.commitment_key,
        "commitment_id": c.id,
        "version": c.version,
        "service": _service_ref(c.service_key, services),
        "calendar": c.calendar_key,
        "target": targets.get(c.commitment_key),
    }
    if p is None:
        return AvailabilityRow(
            **base,
            judged=False,
            service_time=None,
            downtime=None,
            availability=None,
            target_met=None,
            outages=0,
            exempted=0,
            states={},
            longest_outage=None,
            mttr=None,
            mtbf=None,
            error_budget=None,
            budget_remaining_seconds=None,
            limits=None,
            burn=None,
            forecast=None,
        )
    limits = AvailabilityLimits(
        max_outages=CountCheck(
            limit=None if p.max_outages.limit is None else float(p.max_outages.limit),  # type: ignore[arg-type]
            actual=float(p.max_outages.actual),  # type: ignore[arg-type]
            met=p.max_outages.met,
        ),
        max_downtime=DowntimeCheck(limit=p.max_downtime.limit, actual=p.max_downtime.actual, met=p.max_downtime.met),
        max_single_outage=DowntimeCheck(
            limit=p.max_single_outage.limit, actual=p.max_single_outage.actual, met=p.max_single_outage.met
        ),
    )
    burn = None if j.burn is None else BurnRatesPublic(rates=j.burn.rates, alert=j.burn.alert, reason=j.burn.reason)
    predicted = None
    if j.forecast is not None:
        f = j.forecast
        predicted = AvailabilityForecast(
            downtime=f.downtime, availability=f.availability, meets_target=f.meets_target, certain=f.certain
        )
    return AvailabilityRow(
        **base,
        judged=True,
        service_time=p.service_time,
        downtime=p.downtime,
        availability=p.availability,
        target_met=p.target_met,
        outages=len(p.judged),
        exempted=p.exempted,
        states=p.states,
        longest_outage=None if p.longest is None else _outage(p.longest, j.outage_ids),
        mttr=p.mttr,
        mtbf=p.mtbf,
        error_budget=p.budget,
        budget_remaining_seconds=None if p.budget_remaining is None else p.budget_remaining.total_seconds(),
        limits=limits,
        burn=burn,
        forecast=predicted,
    )


async def availability_report(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    now: datetime,
    service_keys: Sequence[str] = (),
    customers: Sequence[str] = (),
) -> AvailabilityReport:
    repo = KindsRepository(session)
    t = min(end, now)
    found = latest_versions(await repo.commitments(["availability"], start, end))
    services = await repo.services(c.service_key for c in found)
    commitments = _wanted(found, services, service_keys, customers)
    targets = await repo.targets(c.commitment_key for c in commitments)
    judged = await judge_availability_commitments(session, commitments, targets, start, end, t)
    rows = [_availability_row(j, services, targets) for j in judged]
    return AvailabilityReport(from_=start, to=end, as_of=t, rows=rows)


# --- count, frequency, clause -----------------------------------------------------------------------------


def _obligation_row(
    c: KindCommitment,
    services: Mapping[str, Service],
    targets: Mapping[str, float],
    **figures: Any,
) -> ObligationRow:
    target = targets.get(c.commitment_key)
    share = figures.get("share_within_limit")
    return ObligationRow(
        commitment_key=c.commitment_key,
        commitment_id=c.id,
        version=c.version,
        kind=c.kind,  # type: ignore[arg-type]
        service=_service_ref(c.service_key, services),
        obligation=c.obligation_key,
        target=target,
        target_met=None if target is None or share is None else share >= target,
        **{"judged": True, "units": 0, "states": {}, "share_within_limit": None, **figures},
    )


def _count(n: Mapping[str, int], key: str) -> int:
    return n.get(key, 0)


async def obligations_report(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    now: datetime,
    service_keys: Sequence[str] = (),
    customers: Sequence[str] = (),
) -> ObligationsReport:
    repo = KindsRepository(session)
    t = min(end, now)
    found = latest_versions(await repo.commitments(["count", "frequency", "clause"], start, end))
    services = await repo.services(c.service_key for c in found)
    commitments = _wanted(found, services, service_keys, customers)
    targets = await repo.targets(c.commitment_key for c in commitments)
    samples = await repo.samples(_pairs(commitments, "count"), start, t)
    occurrences = await repo.occurrences(_pairs(commitments, "frequency"), start, t)
    deliverables = await repo.deliverables(_pairs(commitments, "clause"))
    calendars = await calendars_of(session, [c for c in commitments if c.kind == "frequency"])
    rows = []
    for i, c in enumerate(commitments):
        if i % YIELD_EVERY == YIELD_EVERY - 1:
            await asyncio.sleep(0)
        pair = (c.service_key, c.obligation_key or "")
        try:
            if c.kind == "count":
                objective = c.count_objective()
                p = judge_samples(samples.get(pair, []), objective)
                rows.append(
                    _obligation_row(
                        c,
                        services,
                        targets,
                        units=p.samples,
                        states=p.states,
                        share_within_limit=p.share_within_limit,
                        worst=p.worst,
                        unit=objective.unit,
                    )
                )
            elif c.kind == "frequency":
                facts = occurrences.get(pair, (None, []))
                rows.append(_frequency_row(c, calendars, facts, services, targets, start, end, t))
            else:
                clause = c.clause_objective()
                d = deliverables.get(pair)
                delivered = None if d is None else d.delivered_at
                j = judge_clause(clause, delivered, None if d is None else d.signed_off_at, t)
                rows.append(
                    _obligation_row(
                        c,
                        services,
                        targets,
                        units=1,
                        states={j.state.value: 1},
                        share_within_limit=1.0 if j.state.level == "normal" else 0.0,
                        due_at=clause.due_at,
                        outcome=j.outcome,
                        delivered_at=delivered if delivered is not None and delivered <= t else None,
                        signed_off=j.signed_off,
                        awaiting_sign_off=j.awaiting_sign_off,
                    )
                )
        except (ValueError, TypeError, KeyError, OverflowError) as err:
            log.warning("%s commitment %s cannot be judged: %s", c.kind, c.id, err)
            rows.append(_obligation_row(c, services, targets, judged=False))
    return ObligationsReport(from_=start, to=end, as_of=t, rows=rows)


def _pairs(commitments: Iterable[KindCommitment], kind: str) -> set[tuple[str, str]]:
    return {(c.service_key, c.obligation_key or "") for c in commitments if c.kind == kind}


def _frequency_row(
    c: KindCommitment,
    calendars: Mapping[str | None, Calendar],
    facts: tuple[datetime | None, list[datetime]],
    services: Mapping[str, Service],
    targets: Mapping[str, float],
    start: datetime,
    end: datetime,
    t: datetime,
) -> ObligationRow:
    calendar = calendars.get(c.calendar_key)
    if calendar is None:
        return _obligation_row(c, services, targets, judged=False)
    previous, inside = facts
    origin = c.effective_from or start
    first_due = c.first_due_at
    if previous is not None and previous > origin:  # the interval open at the period's start began there
        origin, first_due = previous, None
    intervals = intervals_in_period(
        judge_intervals(inside, calendar, c.gap_limits(), origin, t, first_due_at=first_due), start, end
    )
    states: dict[str, int] = {}
    for i in intervals:
        states[i.state.value] = states.get(i.state.value, 0) + 1
    judged = len(intervals)
    normal = _count(states, "completed_normal") + _count(states, "in_progress_normal")
    open_interval = next((i for i in intervals if i.ended_at is None), None)
    return _obligation_row(
        c,
        services,
        targets,
        units=judged,
        states=states,
        share_within_limit=normal / judged if judged else None,
        next_due_at=None if open_interval is None else open_interval.commitment_due_at,
    )


# --- the status table's service rows -----------------------------------------------------------------------


def serves_status(q: ReportQuery) -> bool:
    """Whether a status table holds the service commitments: only filters that mean something for a service
    (segment, department, commitment) and no agreement grouping; a key bound to source systems never."""
    f = q.filter
    run_only = (f.process, f.node, f.position, f.source, f.version, f.customer_ref, f.ticket_id)
    return (
        not any(run_only)
        and f.scope == "all"
        and f.caller_sources is None
        and q.agreement is None
        and AGREEMENT not in q.group_by
    )


async def status_rows(session: AsyncSession, q: ReportQuery) -> list[ServiceStatusRow]:
    """Per period bucket, each service commitment's units per state (availability: its outages)."""
    if not serves_status(q):
        return []
    rows: list[ServiceStatusRow] = []
    repo = KindsRepository(session)
    f = q.filter
    for window in q.windows:
        if window.start is None or window.end is None:
            continue  # the kinds are judged over periods
        start, end, t = window.start, window.end, window.as_of
        found = latest_versions(await repo.commitments(KINDS, start, end))
        services = await repo.services(c.service_key for c in found)
        chosen = [
            c
            for c in found
            if (not f.commitment or c.commitment_key in f.commitment)
            and (not f.department or c.owner_department in f.department)
            and (
                not f.segment
                or (services[c.service_key].segment if c.service_key in services else "default") in f.segment
            )
        ]
        bucket = BucketPublic(start=start, end=end, as_of=t)
        availability = [c for c in chosen if c.kind == "availability"]
        judged = await judge_availability_commitments(session, availability, {}, start, end, t)
        for j in judged:
            p = j.period
            counts = dict.fromkeys(SEVEN, 0) | (p.states if p is not None else {})
            rows.append(_status_row(bucket, j.commitment, counts, 0 if p is None else p.exempted))
        others = [c for c in chosen if c.kind != "availability"]
        if others:
            report = await obligations_report(session, start, end, t, [c.service_key for c in others])
            wanted = {c.id for c in others}
            for r in report.rows:
                if r.commitment_id in wanted:
                    counts = dict.fromkeys(SEVEN, 0) | r.states
                    rows.append(
                        ServiceStatusRow(
                            bucket=bucket,
                            population=r.kind,
                            group={"commitment": r.commitment_key, "service": r.service.key},
                            counts=counts,
                            total=sum(counts.values()),
                            exempted=0,
                        )
                    )
    rows.sort(
        key=lambda r: (r.bucket.start or start, r.population, r.group["commitment"] or "", r.group["service"] or "")
    )
    return rows


def _status_row(bucket: BucketPublic, c: KindCommitment, counts: dict[str, int], exempted: int) -> ServiceStatusRow:
    return ServiceStatusRow(
        bucket=bucket,
        population="availability",
        group={"commitment": c.commitment_key, "service": c.service_key},
        counts=counts,
        total=sum(counts.values()),
        exempted=exempted,
    )
