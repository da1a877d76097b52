"""Churn and pain points: pure arithmetic over counts the repository gives.

Churn rate of a period = customers who left during it / customers active at its start. A customer is active at
an instant when its latest `joined` or `left` event before that instant is `joined` (`plan_changed` changes
neither). Customers who join and leave within the same period are not in the population (they were not
active at its start). Worked example: 200 active on 1 March, 6 of them left in March (and 3 joined and 1 of
those left again) → 6 / 200 = 0.03.

Pain-point index of a customer over a window = 2 x complaints + 1 x repeat complaints + 1 x low-CSAT responses
(CSAT at or below LOW_CSAT on the 1-5 scale) + 1 x warning runs (node runs of the customer's tickets judged in
warning by evaluation-svc: past their tolerance limit). Worked example: 3 complaints of which 1 repeats an
earlier one, 2 responses with CSAT 1 and 2, and 2 warning runs → 2x3 + 1 + 2 + 2 = 11. When the warning runs
cannot be read, the index is that of the other components and the answer says so (never a silent 0)."""

from collections import Counter
from collections.abc import Iterable

from feedback_svc.common import rate

LOW_CSAT = 2
COMPLAINT_WEIGHT = 2
REPEAT_WEIGHT = 1
LOW_CSAT_WEIGHT = 1
WARNING_RUN_WEIGHT = 1


def churn_rate(active_at_start: int, left: int) -> float | None:
    return rate(left, active_at_start)


def pain_index(complaints: int, repeats: int, low_csat: int, warning_runs: int | None = 0) -> int:
    """`warning_runs` None: not known (evaluation-svc did not answer); the index counts the other components."""
    return (
        COMPLAINT_WEIGHT * complaints
        + REPEAT_WEIGHT * repeats
        + LOW_CSAT_WEIGHT * low_csat
        + WARNING_RUN_WEIGHT * (warning_runs or 0)
    )


def warning_runs_per_customer(customers: Iterable[str | None]) -> dict[str, int]:
    """Warning runs per customer, from the customer of each run; runs of tickets without a customer count for
    nobody. Worked example: C-1, C-2, C-1, None → {C-1: 2, C-2: 1}."""
    return dict(Counter(c for c in customers if c is not None))
