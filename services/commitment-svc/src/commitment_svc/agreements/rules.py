"""Pure rules of agreements: the lifecycle."""

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
