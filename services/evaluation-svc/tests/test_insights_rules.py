"""The recommendation rules as pure functions: verdict tables, exact percentiles, suggestions' bounds."""

import math
from datetime import timedelta

import pytest
from evaluation_svc.insights.rules import (
    Thresholds,
    business_days_needed,
    mean,
    nearest_rank,
    quoted,
    round_up_to_minute,
    suggest,
    verdict,
)
from hypothesis import given
from hypothesis import strategies as st

SEED = Thresholds(raise_at=0.9, improve_at=0.1, min_sample=30)


@pytest.mark.parametrize(
    ("normal", "judged", "expected", "opening"),
    [
        (27, 30, "raise", "90.0 % of runs met the commitment (27 of 30)"),
        (30, 30, "raise", "100.0 % of runs met"),
        (26, 29, "insufficient_data", "29 judged runs; at least 30 are needed"),
        (269, 300, "keep", "89.7 % of runs met the commitment (269 of 300)"),
        (8999, 10000, "keep", "89.99 % of runs met"),  # never "90.0 %"
        (3, 30, "improve", "only 10.0 % of runs met"),
        (301, 3000, "keep", "10.03 % of runs met"),  # never "10.0 %"
        (0, 30, "improve", "only 0.0 % of runs met"),
        (0, 0, "insufficient_data", "0 judged runs"),
    ],
)
def test_verdicts_and_the_share_they_quote(normal: int, judged: int, expected: str, opening: str) -> None:
    decision, reason = verdict(normal, judged, SEED)
    assert decision == expected
    assert opening in reason


@given(st.integers(min_value=1, max_value=100_000), st.data())
def test_the_quoted_share_is_on_the_side_of_each_threshold_the_decision_is(judged: int, data: st.DataObject) -> None:
    normal = data.draw(st.integers(min_value=0, max_value=judged))
    share = normal / judged
    shown = float(quoted(share, (0.9, 0.1)).removesuffix(" %")) / 100
    for threshold in (0.9, 0.1):
        assert (shown >= threshold) == (share >= threshold)
        assert (shown <= threshold) == (share <= threshold)


@given(st.lists(st.floats(min_value=0, max_value=1e7, allow_nan=False), min_size=1), st.floats(0.01, 1.0))
def test_nearest_rank_is_one_of_the_values_and_at_least_q_do_not_exceed_it(values: list[float], q: float) -> None:
    ordered = sorted(values)
    p = nearest_rank(ordered, q)
    assert p in ordered
    assert sum(1 for v in ordered if v <= p) >= q * len(ordered) - 1e-9
    assert sum(1 for v in ordered if v < p) < q * len(ordered)


def test_runs_all_lasting_one_hour_have_every_percentile_at_one_hour() -> None:
    hour = [3600.0] * 30
    assert (nearest_rank(hour, 0.5), nearest_rank(hour, 0.9), mean(hour)) == (3600.0, 3600.0, 3600.0)
    assert nearest_rank([], 0.9) is None
    assert mean([]) is None


@pytest.mark.parametrize(
    ("seconds", "limit"), [(3600, "1:00:00"), (3600.5, "1:01:00"), (59, "0:01:00"), (0, "0:00:00")]
)
def test_suggested_durations_round_up_to_the_minute(seconds: float, limit: str) -> None:
    assert str(round_up_to_minute(seconds)) == limit


def test_the_business_days_a_run_needed() -> None:
    eight_hours_a_day = lambda days: timedelta(hours=8 * days)  # noqa: E731
    assert business_days_needed(timedelta(hours=3), eight_hours_a_day) == 1
    assert business_days_needed(timedelta(hours=8), eight_hours_a_day) == 1
    assert business_days_needed(timedelta(hours=8, seconds=1), eight_hours_a_day) == 2


def iso(seconds: float) -> str:
    return f"{seconds:g}"


@pytest.mark.parametrize(
    ("values", "current", "decision", "expected"),
    [
        ((1830.0, 3000.0), (1800.0, 3600.0), "raise", ("1800", "3000", True)),  # PT31M rounded: kept at PT30M
        ((1500.0, 1700.0), (1800.0, 3600.0), "raise", ("1500", "1740", False)),
        ((4000.0, 5000.0), (1800.0, 3600.0), "improve", ("4020", "5040", False)),  # an improvement may loosen
        ((1800.0, 5000.0), (1800.0, 3600.0), "raise", ("1800", "3600", True)),
        ((None, None), (1800.0, 3600.0), "raise", (None, None, False)),
    ],
)
def test_suggestions_of_durations(
    values: tuple[float | None, float | None],
    current: tuple[float, float],
    decision: str,
    expected: tuple[str | None, str | None, bool],
) -> None:
    s = suggest(
        values[0],
        values[1],
        current_commitment=current[0],
        current_tolerance=current[1],
        decision=decision,  # type: ignore[arg-type]
        unit="duration",
        fmt=iso,
    )
    assert (s.commitment, s.tolerance, s.capped_at_current) == expected


def test_business_days_are_suggested_as_days() -> None:
    s = suggest(2, 4, current_commitment=3, current_tolerance=5, decision="raise", unit="business_days", fmt=iso)
    assert (s.commitment, s.tolerance) == ("2", "4")


@given(
    st.floats(0, 1e6),
    st.floats(0, 1e6),
    st.floats(60, 1e6),
    st.floats(60, 1e6),
    st.sampled_from(["raise", "keep", "improve", "insufficient_data"]),
)
def test_a_raise_is_never_looser_and_the_commitment_never_above_the_tolerance(
    p_commitment: float, extra: float, current_commitment: float, current_extra: float, decision: str
) -> None:
    current_tolerance = current_commitment + current_extra
    s = suggest(
        p_commitment,
        p_commitment + extra,  # percentiles are monotone: the tolerance's rate is at least the commitment's
        current_commitment=current_commitment,
        current_tolerance=current_tolerance,
        decision=decision,  # type: ignore[arg-type]
        unit="duration",
        fmt=lambda v: repr(v),
    )
    assert s.commitment is not None
    assert s.tolerance is not None
    commitment, tolerance = float(s.commitment), float(s.tolerance)
    assert commitment <= tolerance
    if decision == "raise":
        assert commitment <= current_commitment
        assert tolerance <= current_tolerance
    assert math.isfinite(commitment)
