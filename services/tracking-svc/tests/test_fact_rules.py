"""The derivation rules of outages and deliverables (facts/rules.py): worked examples, and every arrival order."""

from datetime import UTC, datetime, timedelta
from itertools import permutations

import pytest
from tracking_svc.facts.rules import (
    Contradiction,
    DeliverableState,
    Delivery,
    OutageEnd,
    OutageStart,
    OutageState,
    SignOff,
    apply_deliverable,
    apply_outage,
)

T0 = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def outage_of(facts: list[OutageStart | OutageEnd]) -> OutageState | None:
    state: OutageState | None = None
    for fact in facts:
        state = apply_outage(state, fact) or state
    return state


def deliverable_of(facts: list[Delivery | SignOff]) -> DeliverableState | None:
    state: DeliverableState | None = None
    for fact in facts:
        state = apply_deliverable(state, fact) or state
    return state


class TestOutage:
    def test_a_start_then_an_end_make_the_outage(self) -> None:
        assert outage_of([OutageStart(h(0), weight=0.5, summary="x"), OutageEnd(h(2))]) == OutageState(
            h(0), h(2), False, 0.5, "x"
        )

    def test_an_end_arriving_first_is_kept_until_its_start_arrives(self) -> None:
        ended = apply_outage(None, OutageEnd(h(2)))
        assert ended == OutageState(ended_at=h(2))
        assert apply_outage(ended, OutageStart(h(0))) == OutageState(h(0), h(2))

    @pytest.mark.parametrize(
        "facts",
        [
            [OutageStart(h(0), planned=True), OutageEnd(h(3)), OutageEnd(h(3)), OutageStart(h(0), planned=True)],
            [OutageStart(h(1)), OutageEnd(h(1))],  # an outage of no length
        ],
    )
    def test_any_arrival_order_gives_the_same_outage(self, facts: list[OutageStart | OutageEnd]) -> None:
        results = {outage_of(list(order)) for order in permutations(facts)}
        assert len(results) == 1

    def test_a_repeated_start_or_end_changes_nothing(self) -> None:
        state = outage_of([OutageStart(h(0)), OutageEnd(h(1))])
        assert apply_outage(state, OutageStart(h(0))) is None
        assert apply_outage(state, OutageEnd(h(1))) is None

    def test_a_second_start_at_another_instant_is_a_conflict(self) -> None:
        with pytest.raises(Contradiction) as caught:
            apply_outage(OutageState(started_at=h(0)), OutageStart(h(1)))
        assert (caught.value.status, caught.value.field) == (409, "occurred_at")

    def test_a_second_start_at_the_same_instant_with_other_attributes_is_a_conflict(self) -> None:
        with pytest.raises(Contradiction) as caught:
            apply_outage(OutageState(started_at=h(0)), OutageStart(h(0), planned=True))
        assert caught.value.status == 409

    def test_a_second_end_at_another_instant_is_a_conflict(self) -> None:
        with pytest.raises(Contradiction) as caught:
            apply_outage(OutageState(ended_at=h(2)), OutageEnd(h(3)))
        assert caught.value.status == 409

    @pytest.mark.parametrize("first_start", [True, False])
    def test_an_end_before_its_start_is_refused_whichever_arrives_second(self, first_start: bool) -> None:
        start, end = OutageStart(h(2)), OutageEnd(h(1))
        first, second = (start, end) if first_start else (end, start)
        with pytest.raises(Contradiction) as caught:
            apply_outage(apply_outage(None, first), second)
        assert (caught.value.status, caught.value.field) == (422, "occurred_at")


class TestDeliverable:
    def test_the_earliest_delivery_dates_it_and_the_latest_gives_the_evidence(self) -> None:
        facts: list[Delivery | SignOff] = [Delivery(h(5), "d2", "v2"), Delivery(h(1), "d1", "v1")]
        state = deliverable_of(facts)
        assert state is not None
        assert (state.delivered_at, state.evidence) == (h(1), "v2")

    def test_the_earliest_sign_off_is_kept_with_its_signer(self) -> None:
        state = deliverable_of([SignOff(h(6), "s2", "b"), SignOff(h(4), "s1", "a")])
        assert state is not None
        assert (state.signed_off_at, state.signed_by) == (h(4), "a")

    def test_a_later_sign_off_changes_nothing(self) -> None:
        state = deliverable_of([SignOff(h(4), "s1", "a")])
        assert apply_deliverable(state, SignOff(h(6), "s2", "b")) is None

    def test_any_arrival_order_gives_the_same_deliverable(self) -> None:
        facts: list[Delivery | SignOff] = [
            Delivery(h(1), "d1", "v1"),
            Delivery(h(3), "d2", "v2"),
            Delivery(h(3), "d3", "v3"),  # the same instant: the external id breaks the tie
            SignOff(h(2), "s1", "a"),  # signed off before the last delivery arrived
            SignOff(h(4), "s2", "b"),
        ]
        results = {deliverable_of(list(order)) for order in permutations(facts)}
        assert len(results) == 1
        (only,) = results
        assert only is not None
        assert (only.delivered_at, only.evidence, only.signed_off_at, only.signed_by) == (h(1), "v3", h(2), "a")
