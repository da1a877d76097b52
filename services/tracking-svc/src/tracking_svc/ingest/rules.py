"""How a ticket's state and its node runs follow from its events: pure functions, no I/O.

The state is always derived from *all* known events of a ticket ordered by `(occurred_at, event_id)`,
never by arrival, so any arrival order of the same events gives the same state.

Node runs (per ticket and node, the node's events and the ticket's close, cancel and reopen events in
instant order). Cycles follow from the instants alone, never from arrival, and no node event is refused:
whatever arrives first, the runs are those of all the events known, in instant order.
- An event of the node begins a new run (the next cycle) when the node has no run yet, when its run has
  ended, or when it is the node's first event after a reopen. Otherwise it belongs to the current run.
- `node.started` gives the run its start. A start sorting after a pause of the same run (a source's clock
  skew) still starts it; a second start of a started run that has not ended changes nothing (a repeat).
  A completion sorting before any start ends its run: a later start begins the next cycle.
- `node.paused` opens a pause; a pause while another is open ends that one at this instant (the reason
  changed). `node.resumed` closes the open pause; a resume with no open pause changes nothing (its pause
  may still arrive, out of order).
- `node.completed` / `node.cancelled` end the run (an open pause ends at the same instant).
- A ticket's end ends its runs: `ticket.closed` at instant e completes every run still open at e, and
  `ticket.cancelled` cancels it, at e (an open pause ends at e); such a run is marked `ended_by_ticket`.
  From a ticket's end to the next reopen the ticket is ended: the node's events there that would have
  continued the run the end ended, up to and including its own (late) completion or cancellation, change
  nothing; any other node event there begins a run as usual, and that run is ended at once, at its first
  event, in the same way (so no run stays open on an ended ticket, and the runs are those the events make
  without the end, only ended earlier).
- `ticket.reopened` at instant r: every node whose run ended at or before r begins its next cycle with
  its next event (a reopen is how a ticket's nodes run again after its end).
- Guarantee: any arrival order of the same events gives the same runs, and a run once written is never
  taken back (an event can split a run, never merge two), so runs are upserted by (ticket, node, cycle).
- department/position: the latest event of the run that names them, else the node's defaults.
Tickets (ticket-level events in instant order):
- `ticket.opened` must be the ticket's first ticket event (refused otherwise: no later event can change
  that). `ticket.closed` / `ticket.cancelled` end an open ticket; on a ticket already ended they change
  nothing yet (the reopen between them may still arrive). `ticket.reopened` re-opens a closed or
  cancelled ticket (on an open ticket it changes nothing yet: its close may still arrive).
- A ticket carries the pauses of all its node runs (node, cycle, start, end, reason), so that its
  end-to-end run can be judged with them.
Which pauses stop the clock is evaluation-svc's rule; tracking records every pause with its reason.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

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
    ended_by_ticket: bool = False  # ended by its ticket's close or cancellation, not by a node event

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
            self.ended_by_ticket,
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
    """The ticket's status from its ticket-level events; raises Inconsistent only for a contradiction that
    no other event can resolve (an opening that is not the ticket's first event)."""
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
        elif fact.type == "ticket.closed" and state.status == "open":
            state.status, state.closed_at = "closed", t
        elif fact.type == "ticket.cancelled" and state.status == "open":
            state.status, state.cancelled_at = "cancelled", t
        elif fact.type == "ticket.reopened" and state.status != "open":
            state.status, state.closed_at, state.cancelled_at = "open", None, None
        seen = seen or fact
    return state


TICKET_ENDS = frozenset({"ticket.closed", "ticket.cancelled"})
SHAPING = TICKET_ENDS | {"ticket.reopened"}  # ticket events that shape the node runs


def derive_node_runs(
    node_key: str,
    facts: Iterable[Fact],
    ticket_facts: Iterable[Fact] = (),
    default_department: str | None = None,
    default_position: str | None = None,
) -> list[RunState]:
    """Every cycle of one node of one ticket, from the node's events and the ticket's (close, cancel and
    reopen shape the cycles; others are ignored). Never refuses an event: see the rules above."""
    ordered = sorted([*facts, *(f for f in ticket_facts if f.type in SHAPING)], key=lambda f: f.order)
    runs: list[RunState] = []
    current: RunState | None = None
    fresh = False  # a reopen after the current run ended: the next event begins a new cycle
    ticket_end: str | None = None  # the end in force (closed/cancelled) until the next reopen
    late_end = False  # the current run, ended by its ticket, has had its own (late) end since
    for fact in ordered:
        if fact.type == "ticket.reopened":
            if current is not None and current.ended_at is not None:
                fresh = True
            ticket_end = None
            continue
        if fact.type in TICKET_ENDS:
            if ticket_end is None:
                if current is not None and current.ended_at is None:
                    _end_by_ticket(current, fact.type, fact.occurred_at)
                ticket_end = fact.type
            continue
        if ticket_end is not None and not fresh and current is not None and current.ended_by_ticket and not late_end:
            # the ticket has ended and so has this node's run with it: what would have been the rest of that
            # run, up to its own end, changes nothing (so the runs are those the events make without the end,
            # only ended earlier: an end arriving late never merges runs)
            late_end = fact.type in ("node.completed", "node.cancelled")
            continue
        if current is None or fresh or current.ended_at is not None:
            current = RunState(
                node_key=node_key, cycle=len(runs) + 1, department=default_department, position=default_position
            )
            runs.append(current)
            fresh = late_end = False
        _apply(current, fact)
        if ticket_end is not None and current.ended_at is None:
            _end_by_ticket(current, ticket_end, fact.occurred_at)  # begun while the ticket is ended
    return runs


def _end_by_ticket(run: RunState, how: str, t: datetime) -> None:
    open_pause = run.open_pause
    if open_pause is not None:
        open_pause.end = t
    if how == "ticket.closed":
        run.completed_at, run.status = t, "completed"
    else:
        run.cancelled_at, run.status = t, "cancelled"
    run.ended_by_ticket = True


def _apply(run: RunState, fact: Fact) -> None:
    t = fact.occurred_at
    if fact.type == "node.started":
        if run.started_at is None:
            run.started_at = t
            run.status = "in_progress"
    elif fact.type == "node.paused":
        open_pause = run.open_pause
        if open_pause is not None:
            open_pause.end = t
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


def run_pauses(runs: Iterable[RunState]) -> list[dict[str, Any]]:
    """The pauses of node runs as a ticket carries them (JSON-ready: instants as on the feed)."""
    return [
        {
            "node_key": run.node_key,
            "cycle": run.cycle,
            "start": feed_instant(p.start),
            "end": feed_instant(p.end) if p.end is not None else None,
            "reason": p.reason,
        }
        for run in runs
        for p in run.pauses
    ]


def ticket_pauses(
    stored: Iterable[dict[str, Any]], derived_nodes: Iterable[str], derived: Iterable[RunState]
) -> list[dict[str, Any]]:
    """A ticket's pauses: the stored ones of nodes not derived again, and those of the derived runs, in
    instant order (then node, cycle)."""
    again = set(derived_nodes)
    pauses = [p for p in stored if p["node_key"] not in again] + run_pauses(derived)
    return sorted(pauses, key=lambda p: (datetime.fromisoformat(str(p["start"])), str(p["node_key"]), p["cycle"]))


def newest(current: tuple[str, str | None], candidate: tuple[str, str | None]) -> tuple[str, str | None]:
    """Per-field "latest instant wins" merge of a ticket's descriptive fields: (version, value) pairs.

    The version is `<occurred_at in fixed-width UTC>|<event_id>`, so the comparison is the event order and
    the result does not depend on arrival order.
    """
    return candidate if candidate[0] > current[0] else current


def version_of(fact_instant: datetime, event_id: str) -> str:
    return f"{iso(fact_instant)}|{event_id}"
