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

    def test_start_after_a_startless_completion_is_completion_before_start(self) -> None:
        with pytest.raises(Inconsistent, match="completion before start"):
            runs([f("b", "node.completed", 60), f("a", "node.started", 90)])

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

    def test_pause_while_another_pause_lacks_its_resume_is_refused(self) -> None:
        with pytest.raises(Inconsistent, match="overlaps"):
            runs(
                [
                    f("s", "node.started", 0),
                    f("p1", "node.paused", 10, reason="x"),
                    f("p2", "node.paused", 20, reason="y"),
                ]
            )

    def test_completion_ends_an_open_pause(self) -> None:
        [run] = runs([f("s", "node.started", 0), f("p", "node.paused", 10, reason="x"), f("c", "node.completed", 50)])
        assert [(p.start, p.end) for p in run.pauses] == [(at(10), at(50))]

    def test_pause_before_the_start_of_the_same_run_is_refused(self) -> None:
        with pytest.raises(Inconsistent, match="before start"):
            runs([f("p", "node.paused", 10, reason="x"), f("s", "node.started", 20)])

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

    def test_closing_a_closed_ticket_is_refused(self) -> None:
        with pytest.raises(Inconsistent, match="already closed"):
            derive_ticket([f("c", "ticket.closed", 10), f("c2", "ticket.closed", 20)])

    def test_cancelling_a_closed_ticket_is_refused(self) -> None:
        with pytest.raises(Inconsistent, match="already closed"):
            derive_ticket([f("c", "ticket.closed", 10), f("x", "ticket.cancelled", 20)])

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
