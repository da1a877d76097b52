"""How the four other kinds of commitment are judged: availability, count, frequency and clause. Pure: no I/O.

Each kind has a judged unit that takes one of the seven states of `pledge_deadlines.State`, as of an
instant T (now, or a period's end):

- **availability** — the unit is an *outage* of a service, judged like a run against the max single outage
  (`commitment_limit` / `tolerance_limit`, counted on the commitment's calendar = the service hours); the
  period is judged by its availability and its shape:
  - service time = counted time of the period on the calendar, less the time of planned outages when the
    objective exempts planned maintenance (ITIL's agreed service time);
  - downtime = counted time of each unplanned outage clipped to the period (and to T) x its weight;
    overlapping outages count once, at the highest weight then in force (as overlapping pauses count once);
  - availability = 1 - downtime / service time (None when the period has no service time);
  - an outage belongs to every period it overlaps (as a run belongs to every period it was active in);
    its state is by its whole counted duration as of T, never clipped; a degradation's weight scales its
    downtime, not its duration (a 6 h degradation at weight 0.5 is a 6 h outage costing 3 h of downtime);
  - MTTR = mean counted duration of the period's outages ended by T; MTBF = (service time - downtime) /
    number of outages;
  - error budget = (1 - target) x service time; remaining = budget - downtime (negative: overspent);
  - burn rate of a window [T - w, T) = (downtime / service time in it) / (1 - target), 0 when the window
    has no service time; the SRE workbook's multi-window alerts: *page* when 1 h and 5 min both burn at
    ≥ 14.4 or 6 h and 30 min both at ≥ 6; otherwise *ticket* when 3 d and 6 h both burn at ≥ 1;
  - forecast: the downtime so far is certain; the rest of the period's service time is assumed to burn at
    the 3-day burn rate (the slowest window, least swayed by one incident). Projected downtime = downtime
    so far + burn(3 d) x (1 - target) x remaining service time. `certain` when the budget is already spent
    (downtime never shrinks, so the target cannot be met any more).
- **count** — the unit is a *sample*, always completed: at_most: value ≤ limit normal, ≤ tolerance
  acceptable, else warning (at_least mirrored). A period: share of samples within the limit (normal) and
  the worst sample.
- **frequency** — the unit is an *interval* between consecutive occurrences, judged like a run: it starts
  at the previous occurrence (the first at `effective_from`), its due instants are the commitment and
  tolerance limits counted on the calendar from that start (the first interval's commitment due is
  `first_due_at` when given, else effective_from + commitment limit); it is completed by the next
  occurrence. The open interval as of T is in progress; a missing-occurrence alert fires as its
  commitment due instant passes (and escalates at its tolerance due instant).
- **clause** — the unit is a *deliverable*: delivered by T → completed (normal when on or before `due_at`,
  acceptable within `tolerance_due_at`, warning after); not delivered → in progress (normal until due,
  acceptable until the tolerance due, then warning: missing). Sign-off is reported beside the state.

A boundary value is within the limit, as everywhere.
"""

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pledge_common import durations
from pledge_deadlines import Calendar, State, classify, classify_by_deadline, counted_time, due_at

from evaluation_svc.rules.payloads import GOVERNING_STATUSES, limits_at, parse_instant
from evaluation_svc.upstream import CommitmentIn

ZERO = timedelta(0)

# --- availability ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outage:
    """An outage of a service as tracking knows it (started_at None: its end arrived before its start)."""

    ref: str
    started_at: datetime | None
    ended_at: datetime | None
    planned: bool = False
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class AvailabilityObjective:
    max_outages: int | None = None
    max_downtime: timedelta | None = None
    planned_maintenance_exempt: bool = True


@dataclass(frozen=True, slots=True)
class OutageJudgment:
    ref: str
    started_at: datetime
    ended_at: datetime | None  # None: not ended by T
    counted: timedelta  # its whole counted duration as of T (service hours only)
    state: State
    commitment_due_at: datetime | None
    tolerance_due_at: datetime | None
    planned: bool
    exempt: bool  # planned maintenance, exempted by the objective: no state counts, no penalty
    weight: float


def judge_outage(
    outage: Outage,
    calendar: Calendar,
    commitment: timedelta,
    tolerance: timedelta,
    as_of: datetime,
    *,
    planned_maintenance_exempt: bool = True,
) -> OutageJudgment | None:
    """The state of one outage as of T against the max single outage (None: not started by T, or its start
    is not known yet). Judged by counted time; the due instants agree with it."""
    start = outage.started_at
    if start is None or start > as_of:
        return None
    ended = outage.ended_at if outage.ended_at is not None and outage.ended_at <= as_of else None
    end = max(ended, start) if ended is not None else as_of
    counted = counted_time(calendar, start, end)
    return OutageJudgment(
        ref=outage.ref,
        started_at=start,
        ended_at=None if ended is None else end,
        counted=counted,
        state=classify(counted, commitment, tolerance, completed=ended is not None),
        commitment_due_at=due_at(calendar, start, commitment),
        tolerance_due_at=due_at(calendar, start, tolerance),
        planned=outage.planned,
        exempt=outage.planned and planned_maintenance_exempt,
        weight=outage.weight,
    )


def _clipped(outage: Outage, start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
    if outage.started_at is None:
        return None
    lo = max(outage.started_at, start)
    hi = end if outage.ended_at is None else min(outage.ended_at, end)
    return (lo, hi) if lo < hi else None


def service_and_downtime(
    outages: Iterable[Outage],
    calendar: Calendar,
    start: datetime,
    end: datetime,
    *,
    planned_maintenance_exempt: bool = True,
) -> tuple[timedelta, timedelta]:
    """(service time, downtime) of [start, end) on the calendar: a sweep over the outages' bounds, each
    elementary interval counted once — exempt planned time leaves the service time, otherwise the interval
    costs its counted time x the highest weight of the unplanned (or non-exempt) outages in force."""
    if end <= start:
        return ZERO, ZERO
    spans: list[tuple[datetime, datetime, float, bool]] = []
    for outage in outages:
        clipped = _clipped(outage, start, end)
        if clipped is not None:
            exempt = outage.planned and planned_maintenance_exempt
            spans.append((clipped[0], clipped[1], min(max(outage.weight, 0.0), 1.0), exempt))
    service = counted_time(calendar, start, end)
    if not spans:
        return service, ZERO
    # a sweep in time order: the spans in force over each elementary interval between two bounds
    spans.sort(key=lambda span: span[0])
    bounds = sorted({b for span in spans for b in (span[0], span[1])})
    exempted = ZERO
    down = 0.0  # microseconds x weight
    active: list[tuple[datetime, datetime, float, bool]] = []
    following = 0
    for lo, hi in itertools.pairwise(bounds):
        while following < len(spans) and spans[following][0] <= lo:
            active.append(spans[following])
            following += 1
        active = [span for span in active if span[1] > lo]
        if not active:
            continue
        counted = counted_time(calendar, lo, hi)
        if any(span[3] for span in active):
            exempted += counted
        else:
            down += counted / timedelta(microseconds=1) * max(span[2] for span in active)
    return service - exempted, timedelta(microseconds=round(down))


def availability_of(service: timedelta, downtime: timedelta) -> float | None:
    return None if service <= ZERO else 1 - downtime / service


@dataclass(frozen=True, slots=True)
class Check:
    """One shape limit of a period: the limit, the actual figure and whether it is met (None: no limit)."""

    limit: float | timedelta | None
    actual: float | timedelta
    met: bool | None


@dataclass(frozen=True, slots=True)
class BurnRates:
    """Burn rates per window (`1h`, `5m`, `6h`, `30m`, `3d`) as of T and the alert they raise."""

    rates: dict[str, float]
    alert: Literal["page", "ticket"] | None
    reason: str | None


BURN_WINDOWS: dict[str, timedelta] = {
    "5m": timedelta(minutes=5),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "3d": timedelta(days=3),
}
# (long window, short window, threshold, alert), first match wins: the SRE workbook's multi-window table
BURN_RULES: tuple[tuple[str, str, float, Literal["page", "ticket"]], ...] = (
    ("1h", "5m", 14.4, "page"),
    ("6h", "30m", 6.0, "page"),
    ("3d", "6h", 1.0, "ticket"),
)


def burn_rates(outages: Sequence[Outage], calendar: Calendar, target: float, as_of: datetime) -> BurnRates:
    """Burn rate per window ending at T, and the alert of the first multi-window rule both windows meet."""
    allowed = 1 - target
    rates: dict[str, float] = {}
    recent = [o for o in outages if _clipped(o, as_of - max(BURN_WINDOWS.values()), as_of) is not None]
    outages = recent
    for name, width in BURN_WINDOWS.items():
        service, down = service_and_downtime(outages, calendar, as_of - width, as_of)
        if service <= ZERO or allowed <= 0:
            rates[name] = 0.0
        else:
            rates[name] = round((down / service) / allowed, 9)  # 14.4 is met by 14.4, not 14.399999999
    for long, short, threshold, alert in BURN_RULES:
        if rates[long] >= threshold and rates[short] >= threshold:
            return BurnRates(rates, alert, f"{long} and {short} burn at >= {threshold:g}x")
    return BurnRates(rates, None, None)


@dataclass(frozen=True, slots=True)
class Forecast:
    downtime: timedelta
    availability: float | None
    meets_target: bool | None
    certain: bool  # the budget is already spent: the period cannot meet its target any more


def forecast(
    downtime_so_far: timedelta, service_elapsed: timedelta, service_total: timedelta, target: float, burn_3d: float
) -> Forecast:
    """The period-end state if the rest of the period burns at the 3-day rate (see the module's rule)."""
    remaining = max(service_total - service_elapsed, ZERO)
    projected = downtime_so_far + remaining * (burn_3d * (1 - target))
    projected = min(projected, service_total)
    availability = availability_of(service_total, projected)
    budget = service_total * (1 - target)
    return Forecast(
        downtime=projected,
        availability=availability,
        meets_target=None if availability is None else availability >= target,
        certain=downtime_so_far > budget,
    )


@dataclass(frozen=True, slots=True)
class AvailabilityPeriod:
    """The judgment of one service commitment over [start, end) as of T (T ≤ end: the period so far)."""

    service_time: timedelta
    downtime: timedelta
    availability: float | None
    target: float | None
    target_met: bool | None
    outages: tuple[OutageJudgment, ...]  # the period's outages, exempt ones included (flagged)
    longest: OutageJudgment | None  # the longest non-exempt outage
    mttr: timedelta | None
    mtbf: timedelta | None
    budget: timedelta | None
    budget_remaining: timedelta | None
    max_outages: Check
    max_downtime: Check
    max_single_outage: Check  # met: no non-exempt outage longer than the commitment limit
    states: dict[str, int]  # the seven-state counts of the non-exempt outages
    exempted: int
    service_so_far: timedelta = ZERO  # the service time of [start, T): the forecast's elapsed part

    @property
    def judged(self) -> tuple[OutageJudgment, ...]:
        return tuple(o for o in self.outages if not o.exempt)


def judge_availability(
    outages: Sequence[Outage],
    calendar: Calendar,
    commitment: timedelta,
    tolerance: timedelta,
    objective: AvailabilityObjective,
    start: datetime,
    end: datetime,
    as_of: datetime,
    target: float | None = None,
) -> AvailabilityPeriod:
    """Availability, shape checks, MTTR/MTBF and error budget of [start, end) as of T (capped to the end)."""
    t = min(as_of, end)
    exempt = objective.planned_maintenance_exempt
    known = [o for o in outages if _clipped(o, start, t) is not None]
    service_so_far, downtime = service_and_downtime(known, calendar, start, t, planned_maintenance_exempt=exempt)
    service_total = service_so_far
    if t < end:  # the rest of the period: its counted time, less the planned outages already announced
        rest, _ = service_and_downtime(
            [o for o in outages if o.planned], calendar, t, end, planned_maintenance_exempt=exempt
        )
        service_total += rest
    judgments = tuple(
        j
        for o in sorted(known, key=lambda o: (o.started_at, o.ref))
        if (j := judge_outage(o, calendar, commitment, tolerance, t, planned_maintenance_exempt=exempt)) is not None
    )
    judged = [j for j in judgments if not j.exempt]
    longest = max(judged, key=lambda j: (j.counted, -j.started_at.timestamp()), default=None)
    ended = [j.counted for j in judged if j.ended_at is not None]
    availability = availability_of(service_total, downtime)
    budget = None if target is None else service_total * (1 - target)
    states: dict[str, int] = {}
    for j in judged:
        states[j.state.value] = states.get(j.state.value, 0) + 1
    count = len(judged)
    return AvailabilityPeriod(
        service_time=service_total,
        downtime=downtime,
        availability=availability,
        target=target,
        target_met=None if target is None or availability is None else availability >= target,
        outages=judgments,
        longest=longest,
        mttr=sum(ended, ZERO) / len(ended) if ended else None,
        mtbf=(service_total - downtime) / count if count else None,
        budget=budget,
        budget_remaining=None if budget is None else budget - downtime,
        max_outages=Check(
            objective.max_outages,
            float(count),
            None if objective.max_outages is None else count <= objective.max_outages,
        ),
        max_downtime=Check(
            objective.max_downtime,
            downtime,
            None if objective.max_downtime is None else downtime <= objective.max_downtime,
        ),
        max_single_outage=Check(
            commitment, ZERO if longest is None else longest.counted, longest is None or longest.counted <= commitment
        ),
        states=states,
        exempted=len(judgments) - count,
        service_so_far=service_so_far,
    )


# --- count ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CountObjective:
    direction: Literal["at_most", "at_least"]
    limit: float
    tolerance: float
    unit: str = ""


def judge_sample(value: float, objective: CountObjective) -> State:
    """A sample is a completed measurement: within the limit normal, within the tolerance acceptable."""
    if objective.direction == "at_most":
        within_limit, within_tolerance = value <= objective.limit, value <= objective.tolerance
    else:
        within_limit, within_tolerance = value >= objective.limit, value >= objective.tolerance
    if within_limit:
        return State.COMPLETED_NORMAL
    return State.COMPLETED_ACCEPTABLE if within_tolerance else State.COMPLETED_WARNING


@dataclass(frozen=True, slots=True)
class CountPeriod:
    samples: int
    states: dict[str, int]
    share_within_limit: float | None
    worst: float | None
    worst_state: State | None


def judge_samples(values: Iterable[float], objective: CountObjective) -> CountPeriod:
    """A period's samples: the seven-state counts, the share within the limit and the worst sample."""
    states: dict[str, int] = {}
    worst: float | None = None
    n = 0
    for value in values:
        n += 1
        state = judge_sample(value, objective).value
        states[state] = states.get(state, 0) + 1
        if worst is None or (value > worst if objective.direction == "at_most" else value < worst):
            worst = value
    return CountPeriod(
        samples=n,
        states=states,
        share_within_limit=states.get(State.COMPLETED_NORMAL.value, 0) / n if n else None,
        worst=worst,
        worst_state=None if worst is None else judge_sample(worst, objective),
    )


# --- frequency ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GapLimits:
    """The allowed gap between occurrences: ISO 8601 durations, or whole business days (`P2D`)."""

    limit_unit: str
    commitment: str
    tolerance: str

    def due_instants(self, calendar: Calendar, start: datetime) -> tuple[datetime | None, datetime | None]:
        commitment, tolerance = limits_at(calendar, start, self.limit_unit, self.commitment, self.tolerance)
        return due_at(calendar, start, commitment), due_at(calendar, start, tolerance)


@dataclass(frozen=True, slots=True)
class Interval:
    started_at: datetime  # the previous occurrence, or the commitment's effective_from
    ended_at: datetime | None  # the next occurrence; None: open as of T
    commitment_due_at: datetime | None  # an open interval's missing-occurrence alert fires as this passes
    tolerance_due_at: datetime | None
    state: State


def judge_intervals(
    occurrences: Iterable[datetime],
    calendar: Calendar,
    limits: GapLimits,
    origin: datetime,
    as_of: datetime,
    *,
    first_due_at: datetime | None = None,
) -> list[Interval]:
    """Every interval from `origin` up to T: one per occurrence after the origin (completed), then the open
    one (in progress). Occurrences at or before the origin, or after T, are not part of it."""
    intervals: list[Interval] = []
    start = origin
    first = True
    for at in sorted(o for o in occurrences if origin < o <= as_of):
        commitment_due, tolerance_due = _dues(calendar, limits, start, first_due_at if first else None)
        state = classify_by_deadline(at, commitment_due, tolerance_due, completed=True)
        intervals.append(Interval(start, at, commitment_due, tolerance_due, state))
        start, first = at, False
    if start <= as_of:
        commitment_due, tolerance_due = _dues(calendar, limits, start, first_due_at if first else None)
        state = classify_by_deadline(as_of, commitment_due, tolerance_due, completed=False)
        intervals.append(Interval(start, None, commitment_due, tolerance_due, state))
    return intervals


def _dues(
    calendar: Calendar, limits: GapLimits, start: datetime, first_due_at: datetime | None
) -> tuple[datetime | None, datetime | None]:
    commitment_due, tolerance_due = limits.due_instants(calendar, start)
    if first_due_at is None or commitment_due is None:
        return commitment_due, tolerance_due
    # the first interval is due at first_due_at: the tolerance keeps its margin over the commitment
    commitment, tolerance = limits_at(calendar, start, limits.limit_unit, limits.commitment, limits.tolerance)
    return first_due_at, due_at(calendar, first_due_at, tolerance - commitment)


def intervals_in_period(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    """The intervals active at some instant of [start, end): begun before the end, not ended before start."""
    return [i for i in intervals if i.started_at < end and (i.ended_at is None or i.ended_at >= start)]


# --- clause ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClauseObjective:
    due_at: datetime
    tolerance_due_at: datetime | None = None
    requires_sign_off: bool = True


ClauseOutcome = Literal["on_time", "late", "missing", "pending"]


@dataclass(frozen=True, slots=True)
class ClauseJudgment:
    state: State
    outcome: ClauseOutcome  # on_time / late (delivered after due) / missing (not delivered, due passed)
    signed_off: bool
    awaiting_sign_off: bool  # delivered, sign-off required and not given by T


def judge_clause(
    objective: ClauseObjective, delivered_at: datetime | None, signed_off_at: datetime | None, as_of: datetime
) -> ClauseJudgment:
    delivered = delivered_at is not None and delivered_at <= as_of
    tolerance_due = objective.tolerance_due_at or objective.due_at
    instant = delivered_at if delivered and delivered_at is not None else as_of
    state = classify_by_deadline(instant, objective.due_at, max(tolerance_due, objective.due_at), completed=delivered)
    if delivered:
        outcome: ClauseOutcome = "on_time" if state.level == "normal" else "late"
    else:
        outcome = "pending" if state.level == "normal" else "missing"
    signed = signed_off_at is not None and signed_off_at <= as_of
    return ClauseJudgment(
        state=state,
        outcome=outcome,
        signed_off=signed,
        awaiting_sign_off=delivered and objective.requires_sign_off and not signed,
    )


# --- the commitments themselves ---------------------------------------------------------------------------

KINDS = ("availability", "count", "frequency", "clause")


@dataclass(frozen=True, slots=True)
class KindCommitment:
    """A commitment version of kind availability, count, frequency or clause (never one on node runs)."""

    id: str
    commitment_key: str
    version: int
    kind: str
    service_key: str
    obligation_key: str | None
    segment_key: str
    limit_unit: str
    commitment_limit: str | None
    tolerance_limit: str | None
    calendar_key: str | None
    owner_department: str | None
    status: str
    effective_from: datetime | None
    effective_to: datetime | None
    objective: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_feed(cls, c: CommitmentIn) -> "KindCommitment":
        """ValueError for a duration commitment or one that lacks what its kind needs."""
        if c.kind not in KINDS:
            raise ValueError(f"not a kind of service commitment: {c.kind}")
        if not c.service_key:
            raise ValueError(f"a {c.kind} commitment needs a service_key")
        if c.kind in ("availability", "frequency") and (c.commitment_limit is None or c.tolerance_limit is None):
            raise ValueError(f"a {c.kind} commitment needs commitment_limit and tolerance_limit")
        return cls(
            id=c.id,
            commitment_key=c.commitment_key,
            version=c.version,
            kind=c.kind,
            service_key=c.service_key,
            obligation_key=c.obligation_key,
            segment_key=c.segment_key or "default",
            limit_unit=c.limit_unit,
            commitment_limit=c.commitment_limit,
            tolerance_limit=c.tolerance_limit,
            calendar_key=c.calendar_key,
            owner_department=c.owner_department,
            status=c.status,
            effective_from=parse_instant(c.effective_from),
            effective_to=parse_instant(c.effective_to),
            objective=dict(c.objective or {}),
        )

    def in_force_during(self, start: datetime, end: datetime) -> bool:
        """Governing (active or retired) at some instant of [start, end)."""
        if self.status not in GOVERNING_STATUSES:
            return False
        return (self.effective_from is None or self.effective_from < end) and (
            self.effective_to is None or self.effective_to > start
        )

    def limits(self, calendar: Calendar, start: datetime) -> tuple[timedelta, timedelta]:
        if self.commitment_limit is None or self.tolerance_limit is None:
            raise ValueError(f"a {self.kind} commitment has no duration limits")
        return limits_at(calendar, start, self.limit_unit, self.commitment_limit, self.tolerance_limit)

    def availability_objective(self) -> AvailabilityObjective:
        o = self.objective
        downtime = o.get("max_downtime")
        return AvailabilityObjective(
            max_outages=None if o.get("max_outages") is None else int(o["max_outages"]),
            max_downtime=None if downtime is None else durations.parse_duration(str(downtime)),
            planned_maintenance_exempt=bool(o.get("planned_maintenance_exempt", True)),
        )

    def count_objective(self) -> CountObjective:
        o = self.objective
        direction: Literal["at_most", "at_least"] = "at_least" if o.get("direction") == "at_least" else "at_most"
        return CountObjective(direction, float(o["limit"]), float(o["tolerance"]), str(o.get("unit") or ""))

    def gap_limits(self) -> GapLimits:
        if self.commitment_limit is None or self.tolerance_limit is None:
            raise ValueError("a frequency commitment has no gap limits")
        return GapLimits(self.limit_unit, self.commitment_limit, self.tolerance_limit)

    @property
    def first_due_at(self) -> datetime | None:
        return parse_instant(self.objective.get("first_due_at"))

    def clause_objective(self) -> ClauseObjective:
        o = self.objective
        due = parse_instant(o.get("due_at"))
        if due is None:
            raise ValueError("a clause commitment needs objective.due_at")
        return ClauseObjective(due, parse_instant(o.get("tolerance_due_at")), bool(o.get("requires_sign_off", True)))


# --- alerts of the kinds ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceAlert:
    """An alert a service commitment raises, deduplicated by (unit, level): `unit` names what is alerted
    (`occurrence:<commitment id>:<service>:<interval start>`, `burn:<commitment id>:<service>`)."""

    unit: str
    level: str
    kind: str  # availability | frequency
    due_at: datetime  # the instant the level was reached
    commitment_id: str
    commitment_key: str
    service_key: str
    department: str | None = None


def missing_occurrence_alerts(c: KindCommitment, interval: Interval, now: datetime) -> list[ServiceAlert]:
    """The open interval of a frequency commitment alerts `acceptable` once its commitment due instant passed
    (the occurrence is missing) and `warning` once its tolerance due instant passed, as a run's alerts do."""
    if interval.ended_at is not None:
        return []
    unit = f"occurrence:{c.id}:{c.service_key}:{interval.started_at.isoformat()}"
    alerts = []
    for level, due in (("acceptable", interval.commitment_due_at), ("warning", interval.tolerance_due_at)):
        if due is None or due >= now:
            break
        alerts.append(
            ServiceAlert(unit, level, "frequency", due, c.id, c.commitment_key, c.service_key, c.owner_department)
        )
    return alerts


def burn_alert(c: KindCommitment, burn: BurnRates, now: datetime) -> ServiceAlert | None:
    """The burn-rate alert of an availability commitment (`page` or `ticket`), reached at `now`."""
    if burn.alert is None:
        return None
    unit = f"burn:{c.id}:{c.service_key}"
    return ServiceAlert(
        unit, burn.alert, "availability", now, c.id, c.commitment_key, c.service_key, c.owner_department
    )
