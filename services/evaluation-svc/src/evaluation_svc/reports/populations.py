"""The rules every report counts runs by (pure: no I/O).

**Populations are never mixed.** A node run (one ticket's passage through one node) and an end-to-end run (one
ticket judged open → close against a commitment without a node) are different populations. Every report keeps
them apart: each row, total and overall figure belongs to one population and says which; no number, share or
rank sums them. A process with 3 nodes and 10 tickets has 30 node runs and 10 end-to-end runs, never 40.

**Cancelled, exempted, unjudged, judged: one disposition per run, in this order of precedence.**
1. `cancelled`: cancelled by the report's instant. A cancelled run was never served, so there is nothing for an
   exemption to relieve: a run cancelled inside a force-majeure window is cancelled, not exempted.
2. `exempted`: an agreement's force majeure covers it (and it is not cancelled).
3. `unjudged`: no commitment version governed it.
4. `judged`: counted in the rates (normal / acceptable / warning).
The status table shows each run in its state and counts the exempted ones (by this rule) beside them; the
achievement report, rankings and recommendations take the rates over the judged ones only. Both read the same
disposition, so a run's `cancelled` and `exempted` agree everywhere.
"""

from typing import Literal

from pledge_deadlines import State

Population = Literal["node", "end_to_end"]
POPULATIONS: tuple[Population, ...] = ("node", "end_to_end")
Disposition = Literal["cancelled", "exempted", "unjudged", "judged"]
UNJUDGED = "unjudged"


def population_of(node_key: str | None) -> Population:
    """A run without a node is the ticket judged end to end."""
    return "node" if node_key else "end_to_end"


def populations_in(scope: str) -> tuple[Population, ...]:
    """The populations a report's `scope` filter keeps (`all`: both, each apart)."""
    return POPULATIONS if scope == "all" else (("node",) if scope == "node" else ("end_to_end",))


def disposition(state: str | None, exempted: bool) -> Disposition:
    """How a run with this state (as of the report's instant) and exemption flag counts in every report."""
    if state == State.CANCELLED.value:
        return "cancelled"
    if exempted:
        return "exempted"
    if state is None or state == UNJUDGED:
        return "unjudged"
    return "judged"


def counts_as_exempted(state: str | None, exempted: bool) -> bool:
    return disposition(state, exempted) == "exempted"
