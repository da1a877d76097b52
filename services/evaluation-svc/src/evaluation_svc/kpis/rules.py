"""The built-in KPIs of the utility's scorecard (docs/kpis.md): their catalogue and their arithmetic.

Pure functions: counts and durations in, values out. The SQL that counts is in `repository.py`."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Literal
from zoneinfo import ZoneInfo

from pledge_deadlines import Calendar, business_days_limit, counted_time

from evaluation_svc.insights.rules import business_days_needed

Direction = Literal["higher", "lower"]
Source = Literal["runs", "feedback"]
Document = Literal["003", "002"]  # 003: the utility's six (the utility view); 002: the service-quality measures

NEW_CONNECTION = "new-connection"
FAULT_REPAIR = "fault-repair"
REOPEN_WINDOW = timedelta(days=7)  # the default of `kpi_reopen_days`: a repair reopened within it was not fixed
TREND_PERIODS = 12


@dataclass(frozen=True, slots=True)
class Kpi:
    key: str
    name: str
    unit: Literal["working_days", "rate", "hours", "count"]
    direction: Direction  # which way is better
    source: Source
    definition: str
    document: Document = "003"


CATALOGUE: tuple[Kpi, ...] = (
    Kpi(
        "connection_time", "业扩报装平均接电时间 Average connection time of new installations", "working_days",
        "lower", "runs",
        f"mean working days (on the governing commitment's calendar) of the end-to-end `{NEW_CONNECTION}` runs "
        "completed in the period, not exempted, judged",
    ),
    Kpi(
        "first_time_fix_rate", "抢修一次性复电率 One-time restoration rate of repairs", "rate", "higher", "runs",
        f"end-to-end `{FAULT_REPAIR}` runs of cycle 1 completed in the period with no later cycle of the same "
        "ticket started within `kpi_reopen_days` (7) of the completion, over those completed (not exempted, judged)",
    ),
    Kpi(
        "on_time_rate", "工单处理及时率 Work-order on-time rate", "rate", "higher", "runs",
        "end-to-end runs (work orders) completed in the period within their commitment limit (`completed_normal`), "
        "over the judged, non-exempted end-to-end runs completed in the period",
    ),
    Kpi(
        "complaint_first_time_resolution_rate", "客户投诉一次解决率 Complaint first-time resolution rate", "rate",
        "higher", "feedback",
        "complaints resolved at first contact over complaints resolved in the period (feedback-svc)",
    ),
    Kpi(
        "csat", "客户服务满意率 Customer satisfaction rate", "rate", "higher", "feedback",
        "satisfied CSAT answers over CSAT answers of the period (feedback-svc)",
    ),
    Kpi(
        "commitment_fulfilment_rate", "供电服务承诺兑现率 Service-commitment fulfilment rate", "rate", "higher",
        "runs",
        "judged, non-exempted node runs completed in the period within their commitment limit, over the judged, "
        "non-exempted node runs completed in the period (end-to-end runs are `on_time_rate`'s, never summed in)",
    ),
    # document 002's measures (服务效率指标, 服务质量指标) that evaluation-svc has the data of
    Kpi(
        "response_time", "服务响应时间 Service response time", "hours", "lower", "runs",
        "mean working hours, on the calendar of the commitment governing the work order, from a work order's "
        "opening to the end of its first node run (cycle 1, the earliest started), over the judged, non-exempted "
        "end-to-end runs completed in the period that have one",
        "002",
    ),
    Kpi(
        "handling_time", "服务处理时间 Service handling time", "hours", "lower", "runs",
        "mean counted working hours (the governing commitment's calendar; pauses it allows stop the clock) of the "
        "judged, non-exempted end-to-end runs completed in the period",
        "002",
    ),
    Kpi(
        "resolution_rate", "问题解决率 Resolution rate", "rate", "higher", "runs",
        "end-to-end runs completed in the period with no later cycle of their ticket started within "
        "`kpi_reopen_days` (7) of the end of its first cycle, over the judged, non-exempted end-to-end runs "
        "completed in the period (every process)",
        "002",
    ),
    Kpi(
        "closure_rate", "问题关闭率 Closure rate", "rate", "higher", "runs",
        "judged, non-exempted, non-cancelled end-to-end runs opened in the period and completed before its end, "
        "over those opened in the period",
        "002",
    ),
    Kpi(
        "problem_rate", "问题率 Problem rate", "rate", "lower", "runs",
        "end-to-end runs completed past their tolerance limit (`completed_warning`) over the judged, "
        "non-exempted end-to-end runs completed in the period",
        "002",
    ),
    Kpi(
        "complaint_volume", "客诉量 Complaint volume", "count", "lower", "feedback",
        "complaints received in the period by their owning department (feedback-svc)",
        "002",
    ),
)  # fmt: skip
KPIS: Mapping[str, Kpi] = {k.key: k for k in CATALOGUE}
UTILITY: tuple[Kpi, ...] = tuple(k for k in CATALOGUE if k.document == "003")  # the six of document 003


def rate(part: int, whole: int) -> float | None:
    """part / whole, 4 decimals; no population is no value (never 0 %)."""
    return None if whole <= 0 else round(part / whole, 4)


def mean(values: Sequence[float]) -> float | None:
    return None if not values else round(sum(values) / len(values), 2)


def mean_hours(seconds: Sequence[float]) -> float | None:
    """The mean of durations in seconds, in hours (2 decimals); none: no value."""
    return None if not seconds else round(sum(seconds) / len(seconds) / 3600, 2)


def working_seconds(calendar: Calendar, start: datetime, end: datetime) -> float:
    """Working time on the calendar from `start` to `end` (no pause stops it), in seconds."""
    return counted_time(calendar, start, end).total_seconds()


def working_days(calendar: Calendar, start: datetime, counted_seconds: float) -> int:
    """The working days a run took on its calendar: the fewest N whose limit (counted time from its start to
    the end of the N-th working day after its start day) its counted time does not exceed."""
    return business_days_needed(timedelta(seconds=counted_seconds), partial(business_days_limit, calendar, start))


def first_time_fixed(completed_at: datetime, next_cycle_started_at: datetime | None, window: timedelta) -> bool:
    """A repair completed is fixed the first time unless another cycle of its ticket started within `window`
    after the completion (a reopen after the window is a new fault)."""
    return next_cycle_started_at is None or next_cycle_started_at - completed_at > window


def met(value: float | None, target: float | None, direction: Direction) -> bool | None:
    """Whether the value reaches its target (None when either is missing)."""
    if value is None or target is None:
        return None
    return value >= target if direction == "higher" else value <= target


def change(value: float | None, previous: float | None) -> float | None:
    return None if value is None or previous is None else round(value - previous, 4)


def ranks(values: Mapping[str, float | None], direction: Direction) -> dict[str, int]:
    """Competition rank (1 = best; ties share, the next skips) of the departments that have a value."""
    known = {k: v for k, v in values.items() if v is not None}
    ordered = sorted(known.values(), reverse=direction == "higher")
    return {k: 1 + ordered.index(v) for k, v in known.items()}


def parse_period(value: str) -> date:
    """`YYYY-MM` → the first day of the month (ValueError otherwise)."""
    if len(value) != 7 or value[4] != "-":
        raise ValueError("a month as YYYY-MM")
    return date(int(value[:4]), int(value[5:]), 1)


def period_key(first: date) -> str:
    return f"{first.year:04d}-{first.month:02d}"


def shift(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def bounds(first: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a month in the organisation's time zone."""
    nxt = shift(first, 1)
    return (
        datetime(first.year, first.month, 1, tzinfo=zone),
        datetime(nxt.year, nxt.month, 1, tzinfo=zone),
    )


def trend_periods(first: date, count: int = TREND_PERIODS) -> list[date]:
    """The `count` months ending with this one, oldest first."""
    return [shift(first, k) for k in range(1 - count, 1)]


def closed(first: date, zone: ZoneInfo, now: datetime) -> bool:
    """A month is closed once its end has passed."""
    return bounds(first, zone)[1] <= now


def adjustment(fresh: float | None, frozen: float | None) -> float | None:
    """Late events of a frozen period: the fresh value minus the frozen one (None when equal or unknown)."""
    if fresh is None or frozen is None:
        return None
    delta = round(fresh - frozen, 4)
    return None if delta == 0 else delta
