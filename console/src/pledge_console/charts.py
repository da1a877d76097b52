"""Server-rendered SVG geometry (pure functions: values in, shapes out; the template draws them, escaped).

A ticket's timeline: one lane per node run on a shared time axis, the run's bar from its start to its end
(or to now), its paused intervals shaded, its commitment and tolerance instants marked.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

WIDTH = 960
LABEL_WIDTH = 200
LANE = 34
TOP = 28
BOTTOM = 24


@dataclass(frozen=True)
class Span:
    x: float
    width: float


@dataclass(frozen=True)
class Marker:
    x: float
    kind: str  # "commitment" or "tolerance"
    at: str


@dataclass(frozen=True)
class Lane:
    y: float
    label: str
    state: str
    run: Span
    pauses: tuple[Span, ...]
    markers: tuple[Marker, ...]
    open_ended: bool


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    plot_left: int
    plot_right: int
    lanes: tuple[Lane, ...]
    ticks: tuple[Tick, ...]
    now_x: float | None


def _instant(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _tick_step(span: timedelta) -> timedelta:
    for step in (
        timedelta(minutes=15),
        timedelta(hours=1),
        timedelta(hours=3),
        timedelta(hours=6),
        timedelta(days=1),
        timedelta(days=7),
        timedelta(days=30),
    ):
        if span / step <= 8:
            return step
    return timedelta(days=90)


def timeline(runs: Sequence[Mapping[str, Any]], now: datetime, label_of: Any, fmt: Any) -> Timeline | None:
    """The geometry of `runs` (report rows of one ticket); None when no run has started.

    `label_of(run)` names a lane; `fmt(instant)` writes an axis label."""
    started = [(r, _instant(r.get("started_at"))) for r in runs]
    lanes_in = [(r, s) for r, s in started if s is not None]
    if not lanes_in:
        return None
    instants: list[datetime] = []
    for run, start in lanes_in:
        assert start is not None
        instants.append(start)
        for key in ("completed_at", "cancelled_at", "commitment_due_at", "tolerance_due_at"):
            moment = _instant(run.get(key))
            if moment is not None:
                instants.append(moment)
    low = min(instants)
    ends = [_instant(r.get("completed_at")) or _instant(r.get("cancelled_at")) for r, _ in lanes_in]
    high = max([*instants, *(now for e in ends if e is None)])
    if high <= low:
        high = low + timedelta(hours=1)
    plot_left, plot_right = LABEL_WIDTH, WIDTH - 16
    scale = (plot_right - plot_left) / (high - low).total_seconds()

    def x_of(moment: datetime) -> float:
        return round(plot_left + (min(max(moment, low), high) - low).total_seconds() * scale, 1)

    def span(start: datetime, end: datetime) -> Span:
        return Span(x_of(start), max(1.0, round(x_of(end) - x_of(start), 1)))

    lanes: list[Lane] = []
    for index, ((run, start), end) in enumerate(zip(lanes_in, ends, strict=True)):
        assert start is not None
        until = end or now
        pauses = tuple(
            span(ps, _instant(p.get("end")) or until)
            for p in run.get("pauses") or ()
            if (ps := _instant(p.get("start"))) is not None
        )
        markers = tuple(
            Marker(x_of(moment), kind, str(run.get(f"{kind}_due_at")))
            for kind in ("commitment", "tolerance")
            if (moment := _instant(run.get(f"{kind}_due_at"))) is not None
        )
        lanes.append(
            Lane(
                y=TOP + index * LANE,
                label=str(label_of(run)),
                state=str(run.get("state") or "unjudged"),
                run=span(start, until),
                pauses=pauses,
                markers=markers,
                open_ended=end is None,
            )
        )
    step = _tick_step(high - low)
    tick = low.replace(minute=0, second=0, microsecond=0)
    ticks: list[Tick] = []
    while tick <= high:
        if tick >= low:
            ticks.append(Tick(x_of(tick), str(fmt(tick))))
        tick += step
    now_x = x_of(now) if low <= now <= high else None
    return Timeline(WIDTH, TOP + len(lanes) * LANE + BOTTOM, plot_left, plot_right, tuple(lanes), tuple(ticks), now_x)


# ---- trends: shares per period, with the achievement's Wilson interval as a band ---------------------------

TREND_WIDTH = 640
TREND_HEIGHT = 220
TREND_LEFT = 44
TREND_RIGHT = 12
TREND_TOP = 12
TREND_BOTTOM = 30
BAND_HALF = 6.0  # half-width of the band around a period whose neighbours have no judged run
MAX_X_LABELS = 8


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    index: int  # the period's position
    value: float


@dataclass(frozen=True)
class TrendLine:
    name: str
    path: str  # SVG path data; one subpath per run of periods with judged runs
    dots: tuple[Dot, ...]


@dataclass(frozen=True)
class TrendChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]  # `x` holds the tick's y (the axis is vertical)
    lines: tuple[TrendLine, ...]
    band: str  # SVG path data of the interval band, one closed subpath per run of periods; "" without one


def _runs_of(values: Sequence[object | None]) -> list[list[int]]:
    """Indices of the consecutive non-None values, as runs: [1, None, 2, 3] -> [[0], [2, 3]]."""
    runs: list[list[int]] = []
    current: list[int] = []
    for index, value in enumerate(values):
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append(index)
    if current:
        runs.append(current)
    return runs


def _n(value: float) -> str:
    return f"{value:.1f}"


def trend(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    band: Sequence[tuple[float, float] | None],
) -> TrendChart:
    """The geometry of shares (0..1) per period: one line per series, a gap where a period has none, and the
    band of `band`'s intervals (lower, upper), drawn where a period has one.

    Periods sit at the middle of equal columns, so a single period stands in the middle of the plot."""
    count = len(labels)
    left, right = TREND_LEFT, TREND_WIDTH - TREND_RIGHT
    top, bottom = TREND_TOP, TREND_HEIGHT - TREND_BOTTOM
    column = (right - left) / max(count, 1)

    def x_of(index: int) -> float:
        return round(left + (index + 0.5) * column, 1)

    def y_of(share: float) -> float:
        return round(top + (1 - min(max(share, 0.0), 1.0)) * (bottom - top), 1)

    lines = []
    for name, values in series.items():
        parts = []
        for run in _runs_of(values):
            points = [f"{_n(x_of(i))} {_n(y_of(float(values[i] or 0)))}" for i in run]
            parts.append("M " + " L ".join(points))
        dots = tuple(Dot(x_of(i), y_of(v), i, v) for i, v in enumerate(values) if v is not None)
        lines.append(TrendLine(name, " ".join(parts), dots))
    band_parts = []
    for run in _runs_of(band):
        if len(run) == 1:
            (i,) = run
            low, high = band[i] or (0.0, 0.0)
            x0, x1 = x_of(i) - BAND_HALF, x_of(i) + BAND_HALF
            upper = [(x0, y_of(high)), (x1, y_of(high))]
            lower = [(x1, y_of(low)), (x0, y_of(low))]
        else:
            upper = [(x_of(i), y_of((band[i] or (0.0, 0.0))[1])) for i in run]
            lower = [(x_of(i), y_of((band[i] or (0.0, 0.0))[0])) for i in reversed(run)]
        band_parts.append("M " + " L ".join(f"{_n(x)} {_n(y)}" for x, y in [*upper, *lower]) + " Z")
    every = -(-count // MAX_X_LABELS) if count else 1  # ceiling: at most MAX_X_LABELS labels
    x_ticks = tuple(Tick(x_of(i), label) for i, label in enumerate(labels) if i % every == 0)
    y_ticks = tuple(Tick(y_of(share), f"{round(share * 100)}%") for share in (0.0, 0.25, 0.5, 0.75, 1.0))
    return TrendChart(
        TREND_WIDTH, TREND_HEIGHT, left, right, top, bottom, x_ticks, y_ticks, tuple(lines), " ".join(band_parts)
    )


# ---- rankings: each group's share and interval on one axis (a forest plot) ----------------------------------

FOREST_WIDTH = 640
FOREST_LABEL = 170
FOREST_ROW = 22
FOREST_TOP = 8
FOREST_BOTTOM = 24


@dataclass(frozen=True)
class IntervalRow:
    y: float
    label: str
    x: float  # the share
    low: float  # the interval's ends
    high: float


@dataclass(frozen=True)
class IntervalChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    rows: tuple[IntervalRow, ...]
    ticks: tuple[Tick, ...]


def intervals(rows: Sequence[tuple[str, float, tuple[float, float]]]) -> IntervalChart:
    """One row per (label, share, (lower, upper)) on a 0..100 % axis, in the order given."""
    left, right = FOREST_LABEL, FOREST_WIDTH - 16

    def x_of(share: float) -> float:
        return round(left + min(max(share, 0.0), 1.0) * (right - left), 1)

    drawn = tuple(
        IntervalRow(FOREST_TOP + index * FOREST_ROW + FOREST_ROW / 2, label, x_of(share), x_of(low), x_of(high))
        for index, (label, share, (low, high)) in enumerate(rows)
    )
    ticks = tuple(Tick(x_of(share), f"{round(share * 100)}%") for share in (0.0, 0.25, 0.5, 0.75, 1.0))
    height = FOREST_TOP + len(rows) * FOREST_ROW + FOREST_BOTTOM
    return IntervalChart(FOREST_WIDTH, height, left, right, drawn, ticks)


# ---- scorecards: a KPI's 12 periods as a small line (any unit) ----------------------------------------------

SPARK_WIDTH = 120
SPARK_HEIGHT = 28
SPARK_PAD = 3


@dataclass(frozen=True)
class Sparkline:
    width: int
    height: int
    path: str  # one subpath per run of periods with a value; "" without any
    dots: tuple[Dot, ...]


def sparkline(values: Sequence[float | None]) -> Sparkline:
    """A KPI's periods as a small line scaled to their own range (a flat series sits in the middle), a gap where
    a period has no value; each value a dot."""
    known = [v for v in values if v is not None]
    low, high = (min(known), max(known)) if known else (0.0, 0.0)
    left, right = SPARK_PAD, SPARK_WIDTH - SPARK_PAD
    top, bottom = SPARK_PAD, SPARK_HEIGHT - SPARK_PAD
    column = (right - left) / max(len(values), 1)

    def x_of(index: int) -> float:
        return round(left + (index + 0.5) * column, 1)

    def y_of(value: float) -> float:
        if high == low:
            return round((top + bottom) / 2, 1)
        return round(top + (high - value) / (high - low) * (bottom - top), 1)

    parts = []
    for run in _runs_of(values):
        parts.append("M " + " L ".join(f"{_n(x_of(i))} {_n(y_of(float(values[i] or 0)))}" for i in run))
    dots = tuple(Dot(x_of(i), y_of(v), i, v) for i, v in enumerate(values) if v is not None)
    return Sparkline(SPARK_WIDTH, SPARK_HEIGHT, " ".join(parts), dots)
