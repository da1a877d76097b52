"""Settlement rules: pure functions on typed values, no I/O.

An agreement is settled per billing period (its `billing.period`, monthly unless it says otherwise, on the
calendar of `billing.timezone`):
- each covered run is charged in exactly one period, the one in which it ended; a run still open and past
  its tolerance limit when a period closes is listed as *pending* in that period (0 charged) and charged in
  the period in which it ends;
- the achievement of a period is the share of normal runs among the covered runs that ended in it (judged
  under the agreement's exemptions; cancelled and force-majeure runs apart): each run counts in one period;
- `per_warning_run`: `amount` for each covered run that ended in the period beyond its tolerance limit;
- `under_target` with a commitment key: charged once in a period whose achievement of that commitment is
  under its target rate; without a key: charged once in a period in which any covered commitment is under
  its target (the reason names each), never once per commitment;
- the amount of `under_target` is `amount`, else `fee_share` x `fee` (or x the billing base fee);
- the period's credit is its penalties, at most `billing.cap`; the credits of a settlement are that credit
  plus the adjustments of earlier approved periods; what the customer owes is the base fee less the credits.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from evaluation_svc.insights.rules import quoted

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
PERIOD_KINDS = ("month", "quarter")
_LABEL = {"month": re.compile(r"^(\d{4})-(\d{2})$"), "quarter": re.compile(r"^(\d{4})-Q([1-4])$")}
_MONTHS = {"month": 1, "quarter": 3}


def money(value: Any) -> Decimal | None:
    """A clause's amount as a Decimal to the cent (None if absent or not a number)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount.quantize(CENT) if amount.is_finite() else None


# --- billing periods --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Billing:
    period: str = "month"
    timezone: str = "UTC"
    currency: str | None = None
    base_fee: Decimal | None = None
    cap: Decimal | None = None

    @classmethod
    def of_agreement(cls, agreement: Mapping[str, Any]) -> "Billing":
        raw = agreement.get("billing") or {}
        period = str(raw.get("period") or "month")
        zone = str(raw.get("timezone") or "UTC")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = "UTC"  # commitment-svc refuses unknown zones; a copy from before that rule reads as UTC
        return cls(
            period=period if period in PERIOD_KINDS else "month",
            timezone=zone,
            currency=raw.get("currency"),
            base_fee=money(raw.get("base_fee")),
            cap=money(raw.get("cap")),
        )


@dataclass(frozen=True, slots=True, order=True)
class BillingPeriod:
    start: datetime
    end: datetime
    label: str


def _period(billing: Billing, year: int, first_month: int) -> BillingPeriod:
    zone = ZoneInfo(billing.timezone)
    months = _MONTHS[billing.period]
    end_month = first_month + months
    end_year = year + (end_month - 1) // 12
    end_month = (end_month - 1) % 12 + 1
    start = datetime(year, first_month, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(end_year, end_month, 1, tzinfo=zone).astimezone(UTC)
    label = f"{year}-{first_month:02d}" if billing.period == "month" else f"{year}-Q{(first_month - 1) // 3 + 1}"
    return BillingPeriod(start, end, label)


def period_containing(billing: Billing, instant: datetime) -> BillingPeriod:
    local = instant.astimezone(ZoneInfo(billing.timezone))
    months = _MONTHS[billing.period]
    return _period(billing, local.year, (local.month - 1) // months * months + 1)


def period_named(billing: Billing, label: str) -> BillingPeriod:
    """`2026-11` for a monthly agreement, `2026-Q4` for a quarterly one; ValueError otherwise."""
    match = _LABEL[billing.period].match(label)
    example = "2026-11" if billing.period == "month" else "2026-Q4"
    if match is None:
        raise ValueError(f"this agreement is billed per {billing.period}: name the period like {example}")
    year, number = int(match.group(1)), int(match.group(2))
    if not 1 <= number <= 12 or not 1900 <= year <= 9998:
        raise ValueError(f"no such {billing.period}: {label}")
    return _period(billing, year, number if billing.period == "month" else (number - 1) * 3 + 1)


def next_period(billing: Billing, period: BillingPeriod) -> BillingPeriod:
    return period_containing(billing, period.end)


def periods_overlapping(billing: Billing, start: datetime, end: datetime) -> list[BillingPeriod]:
    """The billing periods that [start, end) overlaps, in order."""
    periods = []
    period = period_containing(billing, start)
    while period.start < end:
        periods.append(period)
        period = next_period(billing, period)
    return periods


# --- clauses ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cover:
    commitment_key: str
    target_rate: float


@dataclass(frozen=True, slots=True)
class PerWarningRun:
    clause: int
    amount: Decimal
    currency: str
    kind: str = "per_warning_run"


@dataclass(frozen=True, slots=True)
class UnderTarget:
    clause: int
    commitment_key: str | None
    amount: Decimal | None
    fee_share: Decimal | None
    fee: Decimal | None
    currency: str
    kind: str = "under_target"

    def charge(self, base_fee: Decimal | None) -> Decimal:
        """`amount`, else `fee_share` x `fee` (or x the billing base fee), to the cent; 0 when neither is known."""
        if self.amount is not None:
            return self.amount
        fee = self.fee if self.fee is not None else base_fee
        if self.fee_share is None or fee is None:
            return ZERO
        return (self.fee_share * fee).quantize(CENT)


Clause = PerWarningRun | UnderTarget


def covers_of(agreement: Mapping[str, Any]) -> list[Cover]:
    return [Cover(str(c["commitment_key"]), float(c.get("target_rate") or 0)) for c in agreement.get("covers") or ()]


def clauses_of(agreement: Mapping[str, Any]) -> list[Clause]:
    clauses: list[Clause] = []
    for index, raw in enumerate(agreement.get("penalties") or ()):
        currency = str(raw.get("currency") or "")
        if raw.get("kind") == "per_warning_run":
            clauses.append(PerWarningRun(index, money(raw.get("amount")) or ZERO, currency))
        elif raw.get("kind") == "under_target":
            share = raw.get("fee_share")
            clauses.append(
                UnderTarget(
                    clause=index,
                    commitment_key=raw.get("commitment_key"),
                    amount=money(raw.get("amount")),
                    fee_share=None if share is None else Decimal(str(share)),
                    fee=money(raw.get("fee")),
                    currency=currency,
                )
            )
    return clauses


def settlement_currency(billing: Billing, clauses: "Sequence[Clause | KindClause]") -> str | None:
    """The one currency a settlement is in: the billing currency, else the clauses' (ValueError if several)."""
    if billing.currency is not None:
        return billing.currency
    currencies = sorted({c.currency for c in clauses})
    if len(currencies) > 1:
        raise ValueError(f"the penalty clauses use several currencies ({', '.join(currencies)}); give billing.currency")
    return currencies[0] if currencies else None


# --- runs and charges -------------------------------------------------------------------------------


def level(state: str | None) -> str | None:
    """normal / acceptable / warning of a state; None for cancelled, unjudged or not started."""
    if state is None or not state.startswith(("completed_", "in_progress_")):
        return None
    return state.rsplit("_", 1)[1]


@dataclass(frozen=True, slots=True)
class SettledRun:
    """One covered run as a settlement sees it: its state as of the period's close, under the agreement's
    exemptions, and whether a force-majeure window excludes it."""

    node_run_id: str
    ticket_id: str
    source: str
    external_id: str | None
    kind: str  # node | ticket (end to end)
    commitment_key: str
    ended_at: datetime | None
    state: str | None
    stored_state: str | None = None  # the state judged without the agreement's exemptions
    excluded: str | None = None  # the force-majeure reason

    def ended_in(self, period: BillingPeriod) -> bool:
        return self.ended_at is not None and period.start <= self.ended_at < period.end

    def open_at_close(self, period: BillingPeriod) -> bool:
        return self.ended_at is None or self.ended_at >= period.end


@dataclass(frozen=True, slots=True)
class Achievement:
    """One covered commitment in one period: the runs that ended in it."""

    commitment_key: str
    target_rate: float
    runs: int
    judged: int
    normal: int
    acceptable: int
    warning: int
    cancelled: int
    excluded: int
    pending: int
    relieved: int  # runs the agreement's exemptions moved to a better level

    @property
    def share(self) -> float | None:
        return None if self.judged == 0 else self.normal / self.judged

    @property
    def met(self) -> bool | None:
        share = self.share
        return None if share is None else share >= self.target_rate


@dataclass(frozen=True, slots=True)
class Line:
    """One charge: a clause applied to a run (per_warning_run) or to a period's achievement (under_target)."""

    clause: int
    kind: str
    commitment_key: str | None
    amount: Decimal
    reason: str
    node_run_id: str | None = None
    ticket_id: str | None = None
    source: str | None = None
    external_id: str | None = None
    outage_id: str | None = None  # a per_outage_over_limit line: the outage charged
    service_key: str | None = None  # the lines of availability commitments: the service

    @property
    def key(self) -> tuple[int, str, str]:
        unit = self.node_run_id or self.outage_id or (f"service:{self.service_key}" if self.service_key else "")
        return self.clause, self.commitment_key or "", unit


@dataclass(frozen=True, slots=True)
class PeriodCharges:
    period: BillingPeriod
    currency: str | None
    achievements: list[Achievement]
    lines: list[Line]
    pending: list[SettledRun]
    excluded: list[SettledRun]
    penalties: Decimal
    cap: Decimal | None
    credit: Decimal  # penalties, at most the cap
    availability: list["AvailabilityFigures"] = field(default_factory=list)  # a population of its own

    @property
    def capped_off(self) -> Decimal:
        return self.penalties - self.credit


_LEVELS = {"normal": 0, "acceptable": 1, "warning": 2}


def achievements(period: BillingPeriod, covers: Sequence[Cover], runs: Iterable[SettledRun]) -> list[Achievement]:
    by_key: dict[str, list[SettledRun]] = {c.commitment_key: [] for c in covers}
    for run in runs:
        if run.commitment_key in by_key:
            by_key[run.commitment_key].append(run)
    out = []
    for cover in covers:
        members = by_key[cover.commitment_key]
        ended = [r for r in members if r.ended_in(period)]
        counted = [r for r in ended if r.excluded is None]
        levels = [level(r.state) for r in counted]
        relieved = sum(
            1
            for r in counted
            if (now := level(r.state)) is not None
            and (before := level(r.stored_state)) is not None
            and _LEVELS[now] < _LEVELS[before]
        )
        out.append(
            Achievement(
                commitment_key=cover.commitment_key,
                target_rate=cover.target_rate,
                runs=len(counted),
                judged=sum(1 for lv in levels if lv is not None),
                normal=levels.count("normal"),
                acceptable=levels.count("acceptable"),
                warning=levels.count("warning"),
                cancelled=sum(1 for r in counted if r.state == "cancelled"),
                excluded=len(ended) - len(counted),
                pending=sum(1 for r in members if r.excluded is None and _pending(r, period)),
                relieved=relieved,
            )
        )
    return out


def _pending(run: SettledRun, period: BillingPeriod) -> bool:
    return run.open_at_close(period) and run.state == "in_progress_warning"


def settle(
    period: BillingPeriod,
    covers: Sequence[Cover],
    clauses: Sequence[Clause],
    billing: Billing,
    runs: Sequence[SettledRun],
) -> PeriodCharges:
    """What one billing period charges (see the module's rules). `runs`: the covered runs active in the
    period, each judged as of min(period end, now)."""
    currency = settlement_currency(billing, clauses)
    covered = {c.commitment_key for c in covers}
    runs = sorted((r for r in runs if r.commitment_key in covered), key=lambda r: (r.commitment_key, r.node_run_id))
    table = achievements(period, covers, runs)
    missed = [a for a in table if a.met is False]
    lines: list[Line] = []
    for clause in clauses:
        if isinstance(clause, PerWarningRun):
            for run in runs:
                if run.ended_in(period) and run.excluded is None and level(run.state) == "warning":
                    lines.append(
                        Line(
                            clause=clause.clause,
                            kind=clause.kind,
                            commitment_key=run.commitment_key,
                            amount=clause.amount,
                            reason=f"ended beyond the tolerance limit ({run.state})",
                            node_run_id=run.node_run_id,
                            ticket_id=run.ticket_id,
                            source=run.source,
                            external_id=run.external_id,
                        )
                    )
        else:
            hit = [a for a in missed if clause.commitment_key in (None, a.commitment_key)]
            if hit:
                lines.append(
                    Line(
                        clause=clause.clause,
                        kind=clause.kind,
                        commitment_key=clause.commitment_key,
                        amount=clause.charge(billing.base_fee),
                        reason="; ".join(
                            f"{a.commitment_key}: achievement {quoted(a.share or 0.0, [a.target_rate])} under the"
                            f" target {quoted(a.target_rate)} ({a.normal} of {a.judged} runs normal)"
                            for a in hit
                        ),
                    )
                )
    penalties = sum((line.amount for line in lines), ZERO)
    credit = penalties if billing.cap is None else min(penalties, billing.cap)
    return PeriodCharges(
        period=period,
        currency=currency,
        achievements=table,
        lines=lines,
        pending=[r for r in runs if r.excluded is None and _pending(r, period)],
        excluded=[r for r in runs if r.excluded is not None and r.ended_in(period)],
        penalties=penalties,
        cap=billing.cap,
        credit=credit,
    )


# --- adjustments and totals -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settled:
    """What has been settled for one period so far: its approved credit and lines, or those of its latest
    approved adjustment."""

    label: str
    credit: Decimal
    lines: Sequence[Line]


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A late change to an approved period, carried by a later period: the period recomputed now against
    what was settled for it."""

    period: str
    settled_credit: Decimal
    recomputed_credit: Decimal
    added: list[Line] = field(default_factory=list)
    removed: list[Line] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)  # the recomputed lines (what is settled for it from now on)

    @property
    def amount(self) -> Decimal:
        return self.recomputed_credit - self.settled_credit


def adjustment(settled: Settled, recomputed: PeriodCharges) -> Adjustment | None:
    """The difference between a period as settled and as recomputed; None when nothing changed."""
    before = {line.key: line for line in settled.lines}
    after = {line.key: line for line in recomputed.lines}
    added = [line for key, line in after.items() if key not in before or before[key].amount != line.amount]
    removed = [line for key, line in before.items() if key not in after or after[key].amount != line.amount]
    if recomputed.credit == settled.credit and not added and not removed:
        return None
    return Adjustment(
        period=settled.label,
        settled_credit=settled.credit,
        recomputed_credit=recomputed.credit,
        added=added,
        removed=removed,
        lines=list(recomputed.lines),
    )


@dataclass(frozen=True, slots=True)
class Totals:
    penalties: Decimal
    capped_off: Decimal
    credit: Decimal
    adjustments: Decimal
    credits: Decimal
    base_fee: Decimal | None
    amount_due: Decimal | None


def totals(charges: PeriodCharges, adjustments: Sequence[Adjustment], base_fee: Decimal | None) -> Totals:
    """The period's credit plus the adjustments of earlier periods; the base fee less them is what is due."""
    adjusted = sum((a.amount for a in adjustments), ZERO)
    credits = charges.credit + adjusted
    return Totals(
        penalties=charges.penalties,
        capped_off=charges.capped_off,
        credit=charges.credit,
        adjustments=adjusted,
        credits=credits,
        base_fee=base_fee,
        amount_due=None if base_fee is None else base_fee - credits,
    )


# --- availability commitments (docs/kinds.md "Settlement of availability") ------------------------------


@dataclass(frozen=True, slots=True)
class CreditTier:
    below: float  # the tier applies to a period whose availability is under this share
    fee_share: Decimal


@dataclass(frozen=True, slots=True)
class AvailabilityCredit:
    """`availability_credit`: per period, the tier with the lowest `below` the availability is under."""

    clause: int
    commitment_key: str
    tiers: tuple[CreditTier, ...]
    fee: Decimal | None
    currency: str
    kind: str = "availability_credit"


@dataclass(frozen=True, slots=True)
class PerOutageOverLimit:
    """`per_outage_over_limit`: `amount` per outage in warning, charged in the period the outage ended."""

    clause: int
    commitment_key: str
    amount: Decimal
    currency: str
    kind: str = "per_outage_over_limit"


KindClause = AvailabilityCredit | PerOutageOverLimit


def kind_clauses_of(agreement: Mapping[str, Any]) -> list[KindClause]:
    """The penalty clauses of availability commitments (the others are read by `clauses_of`)."""
    clauses: list[KindClause] = []
    for index, raw in enumerate(agreement.get("penalties") or ()):
        currency = str(raw.get("currency") or "")
        key = str(raw.get("commitment_key") or "")
        if raw.get("kind") == "availability_credit":
            tiers = tuple(
                CreditTier(float(t["below"]), Decimal(str(t["fee_share"])))
                for t in raw.get("tiers") or ()
                if t.get("below") is not None and t.get("fee_share") is not None
            )
            clauses.append(AvailabilityCredit(index, key, tiers, money(raw.get("fee")), currency))
        elif raw.get("kind") == "per_outage_over_limit":
            clauses.append(PerOutageOverLimit(index, key, money(raw.get("amount")) or ZERO, currency))
    return clauses


def credit_tier(tiers: Iterable[CreditTier], availability: float) -> CreditTier | None:
    """The tier with the lowest `below` that the availability is under (tiers are never summed); a boundary
    value is within (exactly 99.9 % is not under 0.999). Availability is compared to 9 decimals, so that
    1 - 43.2 min / 30 days reads as 0.999."""
    value = round(availability, 9)
    applicable = [t for t in tiers if value < t.below]
    return min(applicable, key=lambda t: t.below, default=None)


def availability_credit(
    clause: AvailabilityCredit, availability: float | None, base_fee: Decimal | None, service_key: str | None = None
) -> Line | None:
    """The credit of one period: `fee_share` of the applicable tier x `fee` (or the billing base fee); None
    when no tier applies, the period had no service time, or no fee is known."""
    if availability is None:
        return None
    tier = credit_tier(clause.tiers, availability)
    fee = clause.fee if clause.fee is not None else base_fee
    if tier is None or fee is None:
        return None
    return Line(
        clause=clause.clause,
        kind=clause.kind,
        commitment_key=clause.commitment_key,
        amount=(tier.fee_share * fee).quantize(CENT),
        reason=f"availability {quoted(availability, [tier.below])} under {quoted(tier.below)}:"
        f" {quoted(float(tier.fee_share))} of the fee",
        service_key=service_key,
    )


@dataclass(frozen=True, slots=True)
class SettledOutage:
    """One outage of a covered availability commitment, judged as of the period's close (min(end, now))."""

    outage_id: str
    outage_ref: str
    service_key: str
    commitment_key: str
    ended_at: datetime | None
    state: str | None  # its state against the max single outage (None: not judged)
    exempt: bool = False  # planned maintenance exempted by the commitment's objective

    def ended_in(self, period: BillingPeriod) -> bool:
        return self.ended_at is not None and period.start <= self.ended_at < period.end


def per_outage_over_limit(
    clause: PerOutageOverLimit, period: BillingPeriod, outages: Iterable[SettledOutage]
) -> tuple[list[Line], list[SettledOutage]]:
    """(lines, pending): `amount` for each non-exempt outage of the clause's commitment that ended in the period
    in warning; those still open in warning at the period's close are pending (charged when they end)."""
    lines: list[Line] = []
    pending: list[SettledOutage] = []
    for outage in sorted(outages, key=lambda o: (o.ended_at is None, o.ended_at or period.end, o.outage_id)):
        if outage.commitment_key != clause.commitment_key or outage.exempt or level(outage.state) != "warning":
            continue
        if outage.ended_in(period):
            lines.append(
                Line(
                    clause=clause.clause,
                    kind=clause.kind,
                    commitment_key=outage.commitment_key,
                    amount=clause.amount,
                    reason=f"outage {outage.outage_ref} of {outage.service_key} longer than the tolerance limit",
                    outage_id=outage.outage_id,
                    external_id=outage.outage_ref,
                    service_key=outage.service_key,
                )
            )
        elif (outage.ended_at is None or outage.ended_at >= period.end) and outage.state == "in_progress_warning":
            pending.append(outage)  # judged as of the close: still open there, past its tolerance
    return lines, pending


@dataclass(frozen=True, slots=True)
class AvailabilityFigures:
    """One covered availability commitment and service in one period (never summed with runs)."""

    commitment_key: str
    service_key: str
    availability: float | None
    target: float | None
    outages: int
    warning: int  # outages in warning, whatever period they end in
    pending: list[SettledOutage]

    @property
    def met(self) -> bool | None:
        if self.availability is None or self.target is None:
            return None
        return self.availability >= self.target


def with_kind_lines(
    charges: PeriodCharges, lines: Sequence[Line], figures: Sequence[AvailabilityFigures], currency: str | None
) -> PeriodCharges:
    """The period's charges with those of its availability commitments: one penalty sum, one cap."""
    every = [*charges.lines, *lines]
    penalties = sum((line.amount for line in every), ZERO)
    credit = penalties if charges.cap is None else min(penalties, charges.cap)
    return replace(
        charges, currency=currency, lines=every, penalties=penalties, credit=credit, availability=list(figures)
    )
