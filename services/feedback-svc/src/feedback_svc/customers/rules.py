"""Churn and pain points: pure arithmetic over counts the repository gives.

Churn rate of a period = customers who left during it / customers active at its start. A customer is active at
an instant when its latest `joined` or `left` event before that instant is `joined` (`plan_changed` changes
neither). Customers who join and leave within the same period are not in the population (they were not
active at its start). Worked example: 200 active on 1 March, 6 of them left in March (and 3 joined and 1 of
those left again) → 6 / 200 = 0.03.

Pain-point index of a customer over a window = 2 x complaints + 1 x repeat complaints + 1 x low-CSAT responses
(CSAT at or below LOW_CSAT on the 1-5 scale). Worked example: 3 complaints of which 1 repeats an earlier one,
and 2 responses with CSAT 1 and 2 → 2x3 + 1 + 2 = 9."""

from feedback_svc.common import rate

LOW_CSAT = 2
COMPLAINT_WEIGHT = 2
REPEAT_WEIGHT = 1
LOW_CSAT_WEIGHT = 1


def churn_rate(active_at_start: int, left: int) -> float | None:
    return rate(left, active_at_start)


def pain_index(complaints: int, repeats: int, low_csat: int) -> int:
    return COMPLAINT_WEIGHT * complaints + REPEAT_WEIGHT * repeats + LOW_CSAT_WEIGHT * low_csat
