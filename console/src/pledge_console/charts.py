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
