"""The satisfaction arithmetic: pure functions on counts (SQL counts, these divide)."""

from dataclasses import dataclass


def is_satisfied(csat: int) -> bool:
    """CSAT counts 4 and 5 (of 1-5) as satisfied."""
    return csat >= 4


def nps_class(nps: int) -> str:
    """Promoter 9-10, passive 7-8, detractor 0-6."""
    return "promoter" if nps >= 9 else "passive" if nps >= 7 else "detractor"


@dataclass(frozen=True, slots=True)
class Counts:
    responses: int
    csat_responses: int
    satisfied: int
    nps_responses: int
    promoters: int
    detractors: int


def csat_share(satisfied: int, responses: int) -> float | None:
    """Share of CSAT answers that are 4 or 5; None without answers."""
    return round(satisfied / responses, 4) if responses else None


def nps_score(promoters: int, detractors: int, responses: int) -> float | None:
    """% promoters - % detractors, from -100 to 100; None without answers."""
    return round(100.0 * (promoters - detractors) / responses, 1) if responses else None


def figures(counts: Counts) -> dict[str, int | float | None]:
    return {
        "responses": counts.responses,
        "csat_responses": counts.csat_responses,
        "csat_satisfied": counts.satisfied,
        "csat": csat_share(counts.satisfied, counts.csat_responses),
        "nps_responses": counts.nps_responses,
        "promoters": counts.promoters,
        "passives": counts.nps_responses - counts.promoters - counts.detractors,
        "detractors": counts.detractors,
        "nps": nps_score(counts.promoters, counts.detractors, counts.nps_responses),
    }


def first_drop(buckets: list[tuple[float, Counts]], threshold: float, min_responses: int) -> float | None:
    """Lower bound of the first duration bucket (ascending) whose CSAT, over at least `min_responses`
    answers, falls under `threshold`: where customers stop accepting the wait. None if none does."""
    for lower, counts in sorted(buckets, key=lambda b: b[0]):
        share = csat_share(counts.satisfied, counts.csat_responses)
        if counts.csat_responses >= min_responses and share is not None and share < threshold:
            return lower
    return None
