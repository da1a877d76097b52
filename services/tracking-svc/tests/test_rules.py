"""The derivation rules (pure functions): cycles, pauses, tickets, and independence from arrival order."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracking_svc.ingest.rules import Fact, Inconsistent, RunState, derive_node_runs, derive_ticket

T0 = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)


def f(event_id: str, type_: str, minutes: int, node: str | None = "repair", **kw: str) -> Fact:
    return Fact(event_id, type_, T0 + timedelta(minutes=minutes), None if type_.startswith("ticket.") else node, **kw)


def runs(facts: list[Fact], reopens: list[Fact] | None = None) -> list[RunState]:
    return derive_node_runs("repair", facts, reopens or [], "field-ops", "technician")


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


class TestDeriveNodeRuns:
    def test_start_and_completion_make_one_completed_run_with_node_defaults(self) -> None:
        [run] = runs([f("a", "node.started", 0), f("b", "node.completed", 60)])
        assert (run.cycle, run.status, run.started_at, run.completed_at) == (1, "completed", at(0), at(60))
        assert (run.department, run.position) == ("field-ops", "technician")

    def test_completion_alone_is_a_completed_run_waiting_for_its_start(self) -> None:
        [run] = runs([f("b", "node.completed", 60)])
        assert (run.status, run.started_at, run.completed_at) == ("completed", None, at(60))

    def test_start_after_a_startless_completion_begins_the_next_cycle(self) -> None:
        first, second = runs([f("b", "node.completed", 60), f("a", "node.started", 90)])
        assert (first.cycle, first.status, first.started_at, first.completed_at) == (1, "completed", None, at(60))
        assert (second.cycle, second.status, second.started_at) == (2, "in_progress", at(90))

    def test_pause_and_resume_make_a_closed_interval_with_its_reason(self) -> None:
        [run] = runs(
            [
                f("s", "node.started", 0),
                f("p", "node.paused", 10, reason="awaiting-customer"),
                f("r", "node.resumed", 30),
            ]
        )
        assert [(p.start, p.end, p.reason) for p in run.pauses] == [(at(10), at(30), "awaiting-customer")]
        assert run.status == "in_progress"

    def test_resume_without_a_pause_yet_changes_nothing(self) -> None:
        [run] = runs([f("s", "node.started", 0), f("r", "node.resumed", 30)])
        assert run.pauses == []

    def test_pause_while_another_pause_lacks_its_resume_ends_that_pause(self) -> None:
        [run] = runs(
            [f("s", "node.started", 0), f("p1", "node.paused", 10, reason="x"), f("p2", "node.paused", 20, reason="y")]
        )
        assert [(p.start, p.end, p.reason) for p in run.pauses] == [(at(10), at(20), "x"), (at(20), None, "y")]

    def test_completion_ends_an_open_pause(self) -> None:
        [run] = runs([f("s", "node.started", 0), f("p", "node.paused", 10, reason="x"), f("c", "node.completed", 50)])
        assert [(p.start, p.end) for p in run.pauses] == [(at(10), at(50))]

    def test_start_sorting_after_a_pause_of_its_run_still_starts_it(self) -> None:
        [run] = runs([f("p", "node.paused", 10, reason="x"), f("s", "node.started", 20)])
        assert (run.status, run.started_at, [p.start for p in run.pauses]) == ("in_progress", at(20), [at(10)])

    def test_second_start_of_a_running_run_changes_nothing(self) -> None:
        [run] = runs([f("s1", "node.started", 0), f("s2", "node.started", 20), f("c", "node.completed", 30)])
        assert (run.started_at, run.completed_at) == (at(0), at(30))

    def test_start_after_completion_begins_cycle_two_and_keeps_cycle_one(self) -> None:
        first, second = runs(
            [
                f("s1", "node.started", 0),
                f("c1", "node.completed", 10),
                f("s2", "node.started", 20),
                f("c2", "node.completed", 30),
            ]
        )
        assert (first.cycle, first.started_at, first.completed_at) == (1, at(0), at(10))
        assert (second.cycle, second.started_at, second.completed_at, second.status) == (2, at(20), at(30), "completed")

    def test_completion_of_cycle_two_before_its_start_arrives_is_a_pending_second_cycle(self) -> None:
        first, second = runs([f("s1", "node.started", 0), f("c1", "node.completed", 10), f("c2", "node.completed", 30)])
        assert first.status == "completed"
        assert (second.cycle, second.started_at, second.completed_at) == (2, None, at(30))

    def test_reopen_lets_a_startless_completed_node_run_again(self) -> None:
        first, second = runs(
            [f("c1", "node.completed", 10), f("s2", "node.started", 30)], [f("r", "ticket.reopened", 20)]
        )
        assert (first.cycle, first.completed_at) == (1, at(10))
        assert (second.cycle, second.started_at, second.status) == (2, at(30), "in_progress")

    def test_reopen_while_the_node_still_runs_keeps_the_same_cycle(self) -> None:
        [run] = runs([f("s", "node.started", 0), f("c", "node.completed", 30)], [f("r", "ticket.reopened", 20)])
        assert (run.cycle, run.status) == (1, "completed")

    def test_cancelled_run_that_never_started_can_start_a_new_cycle(self) -> None:
        first, second = runs([f("x", "node.cancelled", 5), f("s", "node.started", 10)])
        assert (first.status, second.status, second.cycle) == ("cancelled", "in_progress", 2)

    def test_latest_event_naming_a_department_wins(self) -> None:
        [run] = runs(
            [f("s", "node.started", 0, department="east"), f("p", "node.paused", 5, reason="x", position="lead")]
        )
        assert (run.department, run.position) == ("east", "lead")


class TestDeriveTicket:
    def test_open_close_reopen_close(self) -> None:
        state = derive_ticket(
            [
                f("o", "ticket.opened", 0),
                f("c", "ticket.closed", 10),
                f("r", "ticket.reopened", 20),
                f("c2", "ticket.closed", 30),
            ]
        )
        assert (state.status, state.opened_at, state.closed_at) == ("closed", at(0), at(30))

    def test_reopen_clears_the_close_instant(self) -> None:
        state = derive_ticket([f("o", "ticket.opened", 0), f("c", "ticket.closed", 10), f("r", "ticket.reopened", 20)])
        assert (state.status, state.closed_at) == ("open", None)

    def test_closing_a_closed_ticket_changes_nothing_until_its_reopen_arrives(self) -> None:
        state = derive_ticket([f("c", "ticket.closed", 10), f("c2", "ticket.closed", 30)])
        assert (state.status, state.closed_at) == ("closed", at(10))
        state = derive_ticket(
            [f("c", "ticket.closed", 10), f("c2", "ticket.closed", 30), f("r", "ticket.reopened", 20)]
        )
        assert (state.status, state.closed_at) == ("closed", at(30))

    def test_cancelling_a_closed_ticket_changes_nothing(self) -> None:
        state = derive_ticket([f("c", "ticket.closed", 10), f("x", "ticket.cancelled", 20)])
        assert (state.status, state.cancelled_at) == ("closed", None)

    def test_opened_after_another_ticket_event_is_refused(self) -> None:
        with pytest.raises(Inconsistent, match="first event"):
            derive_ticket([f("c", "ticket.closed", 10), f("o", "ticket.opened", 20)])

    def test_reopen_arriving_before_its_close_is_kept_and_applies_once_the_close_arrives(self) -> None:
        assert derive_ticket([f("r", "ticket.reopened", 20)]).status == "open"
        assert derive_ticket([f("r", "ticket.reopened", 20), f("c", "ticket.closed", 10)]).status == "open"


@st.composite
def one_cycle(draw: st.DrawFn) -> list[Fact]:
    """A consistent history of one node run: a start, at most one pause (resumed or not), maybe an end."""
    steps = sorted(draw(st.lists(st.integers(1, 500), min_size=4, max_size=4, unique=True)))
    facts = [f("s", "node.started", 0)]
    pause = draw(st.sampled_from(["none", "resumed", "open"]))
    if pause != "none":
        facts.append(f("p", "node.paused", steps[0], reason=draw(st.sampled_from(["awaiting-customer", "parts"]))))
    if pause == "resumed":
        facts.append(f("r", "node.resumed", steps[1]))
    end = draw(st.sampled_from([None, "node.completed", "node.cancelled"]))
    if end is not None:
        facts.append(f("e", end, steps[3]))
    return facts


def ingest_in_order(arrivals: list[Fact]) -> list[RunState]:
    """What the service does: each arriving event is checked against what is already accepted."""
    accepted: list[Fact] = []
    for fact in arrivals:
        runs([*accepted, fact])  # raises if the event would be refused
        accepted.append(fact)
    return runs(accepted)


class TestArrivalOrder:
    @settings(max_examples=300, deadline=None)
    @given(history=one_cycle(), data=st.data())
    def test_any_arrival_order_of_one_cycle_is_accepted_and_gives_the_same_run(
        self, history: list[Fact], data: st.DataObject
    ) -> None:
        arrivals = data.draw(st.permutations(history))
        assert [r.key() for r in ingest_in_order(list(arrivals))] == [r.key() for r in runs(history)]

    @settings(max_examples=200, deadline=None)
    @given(data=st.data())
    def test_any_arrival_order_of_two_cycles_whose_first_cycle_arrives_first_gives_the_same_runs(
        self, data: st.DataObject
    ) -> None:
        first = [
            f("s1", "node.started", 0),
            f("p1", "node.paused", 5, reason="x"),
            f("r1", "node.resumed", 7),
            f("c1", "node.completed", 10),
        ]
        second = [f("s2", "node.started", 20), f("p2", "node.paused", 25, reason="y"), f("c2", "node.completed", 30)]
        arrivals = list(data.draw(st.permutations(first))) + list(data.draw(st.permutations(second)))
        assert [r.key() for r in ingest_in_order(arrivals)] == [r.key() for r in runs(first + second)]


class TestTicketEnd:
    """DESIGN A1/A2: a ticket's end ends its runs; a reopen starts new cycles."""

    def test_close_completes_an_open_run_at_that_instant_marked_ended_by_ticket(self) -> None:
        [run] = runs([f("s", "node.started", 300)], [f("c", "ticket.closed", 360)])
        assert (run.status, run.started_at, run.completed_at, run.ended_by_ticket) == (
            "completed",
            at(300),
            at(360),
            True,
        )

    def test_cancel_cancels_an_open_run_at_that_instant(self) -> None:
        [run] = runs([f("s", "node.started", 300)], [f("x", "ticket.cancelled", 360)])
        assert (run.status, run.cancelled_at, run.completed_at, run.ended_by_ticket) == (
            "cancelled",
            at(360),
            None,
            True,
        )

    def test_a_run_ended_by_its_node_before_the_close_is_left_as_it_is(self) -> None:
        [run] = runs([f("s", "node.started", 0), f("c", "node.completed", 30)], [f("x", "ticket.closed", 60)])
        assert (run.completed_at, run.ended_by_ticket) == (at(30), False)

    def test_close_ends_an_open_pause_at_that_instant(self) -> None:
        [run] = runs([f("s", "node.started", 0), f("p", "node.paused", 10, reason="x")], [f("c", "ticket.closed", 60)])
        assert [(p.start, p.end) for p in run.pauses] == [(at(10), at(60))]

    def test_a_late_completion_after_the_close_changes_nothing(self) -> None:
        [run] = runs([f("s", "node.started", 0), f("n", "node.completed", 61)], [f("c", "ticket.closed", 60)])
        assert (run.completed_at, run.ended_by_ticket) == (at(60), True)

    def test_after_the_late_completion_a_further_event_begins_a_run_ended_at_once(self) -> None:
        # without the close these are two runs (2:07-3:03, then a completion alone): with it, still two
        first, second = runs(
            [f("s", "node.started", 7), f("n1", "node.completed", 63), f("n2", "node.completed", 70)],
            [f("c", "ticket.closed", 56)],
        )
        assert (first.completed_at, first.ended_by_ticket) == (at(56), True)
        assert (second.started_at, second.completed_at, second.ended_by_ticket) == (None, at(70), False)

    def test_a_run_begun_while_the_ticket_is_closed_is_ended_at_once(self) -> None:
        [run] = runs([f("s", "node.started", 70)], [f("c", "ticket.closed", 60)])
        assert (run.status, run.started_at, run.completed_at, run.ended_by_ticket) == (
            "completed",
            at(70),
            at(70),
            True,
        )

    def test_a_reopen_after_the_close_starts_a_new_cycle(self) -> None:
        first, second = runs(
            [f("s1", "node.started", 0), f("s2", "node.started", 90)],
            [f("c", "ticket.closed", 60), f("r", "ticket.reopened", 80)],
        )
        assert (first.cycle, first.completed_at, first.ended_by_ticket) == (1, at(60), True)
        assert (second.cycle, second.status, second.started_at, second.ended_by_ticket) == (
            2,
            "in_progress",
            at(90),
            False,
        )


NODES = ("dispatch", "repair")


def node_fact(event_id: str, type_: str, minute: int, node: str, **kw: str) -> Fact:
    return Fact(event_id, type_, T0 + timedelta(minutes=minute), node, **kw)


@st.composite
def ticket_history(draw: st.DrawFn) -> list[Fact]:
    """A consistent history of one ticket: opened, then episodes (each ended by a close or a cancel, the
    next one after a reopen; the last may stay open), each running every node in zero or more cycles
    (start, pauses each resumed but maybe the last, an end; the episode's last cycle may stay open), and
    maybe node events after a ticket's end, as sources send them."""
    clock = iter(range(0, 100_000, 7))
    gaps = st.integers(0, 3)

    def instant() -> int:
        for _ in range(draw(gaps)):
            next(clock)
        return next(clock)

    facts = [f("open", "ticket.opened", instant())]
    episodes = draw(st.integers(1, 3))
    n = 0
    for episode in range(episodes):
        timelines: list[list[tuple[str, str, dict[str, str]]]] = []
        for node in NODES:
            steps: list[tuple[str, str, dict[str, str]]] = []
            cycles = draw(st.integers(0, 2))
            for cycle in range(cycles):
                steps.append((node, "node.started", {}))
                pauses = draw(st.integers(0, 2))
                last = cycle == cycles - 1
                end = draw(st.sampled_from(["node.completed", "node.cancelled", None] if last else ["node.completed"]))
                for i in range(pauses):
                    steps.append((node, "node.paused", {"reason": draw(st.sampled_from(["awaiting-customer", "x"]))}))
                    if i < pauses - 1 or end is not None or draw(st.booleans()):
                        steps.append((node, "node.resumed", {}))
                if end is not None:
                    steps.append((node, end, {}))
            timelines.append(steps)
        # interleave the nodes' timelines, each in its own order
        merged: list[tuple[str, str, dict[str, str]]] = []
        while any(timelines):
            lane = draw(st.sampled_from([t for t in timelines if t]))
            merged.append(lane.pop(0))
        for node, type_, kw in merged:
            n += 1
            facts.append(node_fact(f"e{n:03d}", type_, instant(), node, **kw))
        if episode < episodes - 1 or draw(st.booleans()):
            facts.append(f(f"end{episode}", draw(st.sampled_from(["ticket.closed", "ticket.cancelled"])), instant()))
            # what sources also do: a node's event after the ticket's end (a late completion, a late start)
            for late in range(draw(st.integers(0, 2))):
                type_ = draw(st.sampled_from(["node.completed", "node.started", "node.paused"]))
                facts.append(
                    node_fact(f"late{episode}{late}", type_, instant(), draw(st.sampled_from(NODES)), reason="x")
                )
            if episode < episodes - 1:
                facts.append(f(f"reopen{episode}", "ticket.reopened", instant()))
    return facts


def derive_all(facts: list[Fact]) -> dict[tuple[str, int], tuple[object, ...]]:
    ticket_facts = [x for x in facts if x.node is None]
    derive_ticket(ticket_facts)  # raises if the ticket's events would be refused
    return {
        (node, run.cycle): run.key()
        for node in NODES
        for run in derive_node_runs(node, [x for x in facts if x.node == node], ticket_facts)
    }


def store_in_arrival_order(arrivals: list[Fact]) -> dict[tuple[str, int], tuple[object, ...]]:
    """What the service stores: each arriving event is checked against what is already accepted (raising
    if refused), then the runs derived from all accepted events are upserted by (node, cycle)."""
    accepted: list[Fact] = []
    stored: dict[tuple[str, int], tuple[object, ...]] = {}
    for fact in arrivals:
        accepted.append(fact)
        stored.update(derive_all(accepted))
    return stored


class TestArrivalOrderAcrossCycles:
    @settings(max_examples=400, deadline=None)
    @given(history=ticket_history(), data=st.data())
    def test_any_arrival_order_of_a_ticket_with_reopens_and_repeated_nodes_stores_the_same_runs(
        self, history: list[Fact], data: st.DataObject
    ) -> None:
        arrivals = list(data.draw(st.permutations(history)))
        assert store_in_arrival_order(arrivals) == derive_all(history)

    @settings(max_examples=100, deadline=None)
    @given(history=ticket_history())
    def test_once_the_ticket_has_ended_none_of_its_runs_is_open(self, history: list[Fact]) -> None:
        ticket_facts = [x for x in history if x.node is None]
        if derive_ticket(ticket_facts).status == "open":
            return
        for node in NODES:
            for run in derive_node_runs(node, [x for x in history if x.node == node], ticket_facts):
                assert run.ended_at is not None

    def test_the_issue_s_refused_orders_are_now_accepted(self) -> None:
        history = [
            f("o", "ticket.opened", 0),
            f("s1", "node.started", 10),
            f("c1", "node.completed", 20),
            f("s2", "node.started", 30),
            f("c2", "node.completed", 40),
        ]
        # the completion of cycle 1 and the start of cycle 2 first: "completion before start" until now
        arrivals = [history[2], history[3], history[1], history[4], history[0]]
        assert store_in_arrival_order(arrivals) == derive_all(history)
