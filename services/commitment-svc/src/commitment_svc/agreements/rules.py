"""Pure rules of agreements: the lifecycle, and which penalties fit the commitments they name."""

from collections.abc import Mapping, Sequence

# penalties judged on an availability commitment's outages and periods
AVAILABILITY_PENALTIES = frozenset({"availability_credit", "per_outage_over_limit"})

TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"negotiating"}),
    "negotiating": frozenset({"draft", "signed"}),
    "signed": frozenset({"terminated"}),
    "terminated": frozenset(),
}
EDITABLE = frozenset({"draft", "negotiating"})


def transition_error(current: str, target: str) -> str | None:
    """Why `current` cannot become `target` (None when it can)."""
    if target in TRANSITIONS[current]:
        return None
    allowed = ", ".join(sorted(TRANSITIONS[current])) or "none"
    return f"a {current} agreement cannot become {target} (allowed: {allowed})"


def cover_error(commitment_key: str, target_rate: float, kinds: Mapping[str, str]) -> tuple[str, str] | None:
    """(field under the cover, message) when a cover names no commitment (`kinds`: key → kind of those that
    exist) or a target its kind cannot mean; None when it fits. A clause is one deliverable, met or not: its
    target is 1.0."""
    kind = kinds.get(commitment_key)
    if kind is None:
        return "commitment_key", f"unknown commitment `{commitment_key}`"
    if kind == "clause" and target_rate != 1:
        return "target_rate", "a clause commitment is one deliverable, met or not: its target is 1.0"
    return None


def credit_tiers_error(tiers: Sequence[tuple[float, float]]) -> tuple[str, str] | None:
    """(field under the penalty, message) when availability-credit tiers `(below, fee_share)` are out of order:
    each tier's `below` strictly under the one before, its `fee_share` strictly over it (a deeper miss credits
    more); None when they are in order."""
    for j in range(1, len(tiers)):
        (below_before, share_before), (below, share) = tiers[j - 1], tiers[j]
        if below >= below_before:
            return f"tiers[{j}].below", f"must be under the tier before ({below_before}): list tiers from the top"
        if share <= share_before:
            return f"tiers[{j}].fee_share", f"must be over the tier before ({share_before}): a deeper miss credits more"
    return None


def penalty_error(penalty: Mapping[str, object], covered_kinds: Mapping[str, str]) -> tuple[str, str] | None:
    """(field under the penalty, message) when a penalty does not fit the commitments the agreement covers
    (`covered_kinds`: commitment key → kind); None when it does."""
    kind = penalty["kind"]
    key = penalty.get("commitment_key")
    if kind == "under_target" and (penalty.get("amount") is None) == (penalty.get("fee_share") is None):
        return "", "give either `amount` or `fee_share`"
    if key is not None and key not in covered_kinds:
        return "commitment_key", f"`{key}` is not covered by this agreement"
    covered_kind = covered_kinds.get(str(key))
    if kind in AVAILABILITY_PENALTIES and covered_kind != "availability":
        return "commitment_key", f"{kind} applies to an availability commitment; `{key}` is a {covered_kind} one"
    if kind == "availability_credit":
        tiers = penalty.get("tiers")
        assert isinstance(tiers, list)
        return credit_tiers_error([(float(t["below"]), float(t["fee_share"])) for t in tiers])
    return None
