"""How a ticket's state and its node runs follow from its events: pure functions, no I/O.

The state is always derived from *all* known events of a ticket ordered by `(occurred_at, event_id)`,
never by arrival, so any arrival order of the same events gives the same state.

Node runs (per ticket and node, events in instant order):
- A run begins with the first event of its node (a completion may arrive before its start; the run then
  has no `started_at` until the start arrives, and the start must sort before the completion).
- `node.started` must be the first event of its run (a pause or resume before the start of the same
  run is refused).
- `ticket.reopened` at instant r: for every node whose current run ended at or before r, the next event
  of that node begins the next cycle. A node still running at r continues its run.
- `node.paused` opens a pause; pausing while a pause is open (no resume in between) is refused.
  `node.resumed` closes the open pause; a resume with no open pause before it is kept in the log but
  does not change the state yet (its pause may still arrive, out of order).
- `node.completed` / `node.cancelled` end the run (an open pause ends at the same instant). Any later
  event of the node belongs to the next cycle (a start, or an event whose start has not arrived yet),
  except a start after a completion that never had a start: "completion before start", refused.
- Guarantee: every arrival order of one cycle's events is accepted and gives the same state, as long as
  no pause arrives while an earlier pause still lacks its resume (that is the overlap rule). Across
  cycles, an event of an earlier cycle that arrives after the next cycle's start may be refused when
  it cannot be placed (e.g. a completion whose start is missing sorting before the next start).
- department/position: the latest event of the run that names them, else the node's defaults.
Tickets (ticket-level events in instant order):
- `ticket.opened` must be the first ticket event; `ticket.closed` needs an open ticket;
  `ticket.cancelled` needs an open ticket; `ticket.reopened` re-opens a closed or cancelled ticket
  (on an open ticket it is kept but changes nothing yet: its close may still arrive).
Which pauses stop the clock is evaluation-svc's rule; tracking records every pause with its reason.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

TICKET_TYPES = frozenset({"ticket.opened", "ticket.closed", "ticket.cancelled", "ticket.reopened"})
NODE_TYPES = frozenset({"node.started", "node.completed", "node.cancelled", "node.paused", "node.resumed"})
EVENT_TYPES = TICKET_TYPES | NODE_TYPES


@dataclass(slots=True)
class Fact:
    """What derivation needs of one event."""

    event_id: str
    type: str
    occurred_at: datetime
    node: str | None = None
    reason: str | None = None
    department: str | None = None
    position: str | None = None

    @property
    def order(self) -> tuple[datetime, str]:
        return (self.occurred_at, self.event_id)


class Inconsistent(Exception):
    """Adding an event would make the history contradictory (answered as 422 for that event)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(slots=True)
class Pause:
    start: datetime
    end: datetime | None
    reason: str


@dataclass(slots=True)
class RunState:
    node_key: str
    cycle: int
    status: str = "pending"
    started_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    pauses: list[Pause] = field(default_factory=list)
    department: str | None = None
    position: str | None = None
    first_event: Fact | None = None

    @property
    def ended_at(self) -> datetime | None:
        return self.completed_at or self.cancelled_at

    @property
    def open_pause(self) -> Pause | None:
        return self.pauses[-1] if self.pauses and self.pauses[-1].end is None else None

    def key(self) -> tuple[object, ...]:
        """Everything the outside world sees of the run (for change detection and tests)."""
        return (
            self.node_key,
            self.cycle,
            self.status,
            self.started_at,
            self.completed_at,
            self.cancelled_at,
            tuple((p.start, p.end, p.reason) for p in self.pauses),
            self.department,
            self.position,
        )


@dataclass(slots=True)
class TicketState:
    status: str = "open"
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    cancelled_at: datetime | None = None


def iso(instant: datetime) -> str:
    """An instant as fixed-width text (UTC, always with microseconds): such texts sort as the instants do."""
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


def feed_instant(instant: datetime) -> str:
    """An instant in stored JSON and on the feed: ISO 8601 in UTC, as Postgres's `to_json` writes it when
    the fraction is zero (whole seconds read the same from SQL and from Python)."""
    return (instant if instant.tzinfo is UTC else instant.astimezone(UTC)).isoformat()


def _at(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def derive_ticket(facts: Iterable[Fact]) -> TicketState:
    """The ticket's status from its ticket-level events; raises Inconsistent at the first contradiction."""
    state = TicketState()
    seen: Fact | None = None
    for fact in sorted(facts, key=lambda f: f.order):
        t = fact.occurred_at
        if fact.type == "ticket.opened":
            if seen is not None:
                raise Inconsistent(
                    "occurred_at",
                    f"ticket.opened at {_at(t)} must be the ticket's first event, but {seen.type} "
                    f"happened at {_at(seen.occurred_at)}",
                )
            state.opened_at = t
        elif fact.type == "ticket.closed":
            _require_open(state, fact)
            state.status, state.closed_at = "closed", t
        elif fact.type == "ticket.cancelled":
            _require_open(state, fact)
            state.status, state.cancelled_at = "cancelled", t
        elif fact.type == "ticket.reopened" and state.status != "open":
            state.status, state.closed_at, state.cancelled_at = "open", None, None
        seen = seen or fact
    return state


def _require_open(state: TicketState, fact: Fact) -> None:
    if state.status == "closed":
        assert state.closed_at is not None
        raise Inconsistent(
            "type", f"{fact.type} at {_at(fact.occurred_at)}: the ticket is already closed since {_at(state.closed_at)}"
        )
    if state.status == "cancelled":
        assert state.cancelled_at is not None
        raise Inconsistent(
            "type",
            f"{fact.type} at {_at(fact.occurred_at)}: the ticket is already cancelled since {_at(state.cancelled_at)}",
        )


def derive_node_runs(
    node_key: str,
    facts: Iterable[Fact],
    reopened_at: Sequence[Fact] = (),
    default_department: str | None = None,
    default_position: str | None = None,
) -> list[RunState]:
    """Every cycle of one node of one ticket; raises Inconsistent at the first contradiction."""
    ordered = sorted([*facts, *reopened_at], key=lambda f: f.order)
    runs: list[RunState] = []
    current: RunState | None = None
    fresh = False  # a reopen after the current run ended: the next event begins a new cycle
    for fact in ordered:
        if fact.type == "ticket.reopened":
            if current is not None and current.ended_at is not None:
                fresh = True
            continue
        if current is None or fresh:
            current = _new_run(runs, node_key, default_department, default_position)
            fresh = False
        elif (ended_at := current.ended_at) is not None:
            if fact.type == "node.started" and current.started_at is None and current.status == "completed":
                raise Inconsistent(
                    "occurred_at",
                    f"completion before start: node {node_key} was completed at {_at(ended_at)}, "
                    f"before this start at {_at(fact.occurred_at)}",
                )
            # the node ran again: a new start, or a later event whose start has not arrived yet
            current = _new_run(runs, node_key, default_department, default_position)
        _apply(current, fact)
    return runs


def _new_run(runs: list[RunState], node_key: str, department: str | None, position: str | None) -> RunState:
    run = RunState(node_key=node_key, cycle=len(runs) + 1, department=department, position=position)
    runs.append(run)
    return run


def _apply(run: RunState, fact: Fact) -> None:
    t = fact.occurred_at
    if fact.type == "node.started":
        if run.first_event is not None:
            first = run.first_event
            what = "completion before start" if first.type == "node.completed" else f"{first.type} before start"
            raise Inconsistent(
                "occurred_at",
                f"{what}: node {run.node_key} has {first.type} at {_at(first.occurred_at)}, "
                f"before this start at {_at(t)}",
            )
        run.started_at = t
        run.status = "in_progress"
    elif fact.type == "node.paused":
        open_pause = run.open_pause
        if open_pause is not None:
            raise Inconsistent(
                "occurred_at",
                f"node.paused at {_at(t)} overlaps the pause of node {run.node_key} opened at "
                f"{_at(open_pause.start)} that has no resume before it",
            )
        run.pauses.append(Pause(start=t, end=None, reason=fact.reason or ""))
    elif fact.type == "node.resumed":
        open_pause = run.open_pause
        if open_pause is not None:
            open_pause.end = t
        # else: a resume whose pause has not arrived yet; it changes nothing until then
    elif fact.type in ("node.completed", "node.cancelled"):
        open_pause = run.open_pause
        if open_pause is not None:
            open_pause.end = t
        if fact.type == "node.completed":
            run.completed_at, run.status = t, "completed"
        else:
            run.cancelled_at, run.status = t, "cancelled"
    if fact.department is not None:
        run.department = fact.department
    if fact.position is not None:
        run.position = fact.position
    if run.first_event is None:
        run.first_event = fact


def newest(current: tuple[str, str | None], candidate: tuple[str, str | None]) -> tuple[str, str | None]:
    """Per-field "latest instant wins" merge of a ticket's descriptive fields: (version, value) pairs.

    The version is `<occurred_at in fixed-width UTC>|<event_id>`, so the comparison is the event order and
    the result does not depend on arrival order.
    """
    return candidate if candidate[0] > current[0] else current


def version_of(fact_instant: datetime, event_id: str) -> str:
    return f"{iso(fact_instant)}|{event_id}"
