"""The complaint workflow and its translation into tracking events: pure functions, no I/O.

received → acknowledged → investigating → resolved → closed, and reopened (from resolved or closed)
back to investigating or resolved. `acknowledged → resolved` is allowed: a simple complaint is often
resolved without a separate investigation.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Status = Literal["received", "acknowledged", "investigating", "resolved", "closed", "reopened"]
Severity = Literal["simple", "general", "major"]
TransitionTarget = Literal["acknowledged", "investigating", "resolved", "closed", "reopened"]

ALLOWED: Mapping[str, frozenset[str]] = {
    "received": frozenset({"acknowledged"}),
    "acknowledged": frozenset({"investigating", "resolved"}),
    "investigating": frozenset({"resolved"}),
    "resolved": frozenset({"closed", "reopened"}),
    "closed": frozenset({"reopened"}),
    "reopened": frozenset({"investigating", "resolved"}),
}
OPEN_STATUSES = frozenset({"received", "acknowledged", "investigating", "reopened"})
SOURCE = "feedback-svc"


def allowed_from(status: str) -> list[str]:
    return sorted(ALLOWED.get(status, frozenset()))


def may_transition(current: str, target: str) -> bool:
    return target in ALLOWED.get(current, frozenset())


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What every tracking event of one complaint ticket carries."""

    complaint_id: uuid.UUID
    process_key: str
    segment: str  # the complaint's severity: commitments on `complaint-handling` are per severity
    customer_ref: str
    category: str
    channel: str
    owner_department: str


def tracking_events(
    facts: TicketFacts, transition_seq: int, previous: str | None, target: str, at: datetime
) -> list[tuple[str, dict[str, Any]]]:
    """The ticket events a transition sends, as (event id, event body), in the order to deliver.

    Event ids are deterministic (`complaint-<id>-<n>-<what>`, n = the transition's number), so a
    redelivered command is recognised by tracking as the same event.
    """
    node_events: list[tuple[str, str | None]]
    if target == "received":
        node_events = [("ticket.opened", None), ("node.started", "acknowledge")]
    elif target == "acknowledged":
        node_events = [("node.completed", "acknowledge"), ("node.started", "resolve")]
    elif target == "resolved":
        node_events = [("node.completed", "resolve")]
    elif target == "closed":
        node_events = [("ticket.closed", None)]
    elif target == "reopened":
        node_events = [("ticket.reopened", None)] if previous == "closed" else []
        node_events.append(("node.started", "resolve"))
    else:  # investigating: work inside the resolve node, nothing for the clock
        node_events = []
    events = []
    for event_type, node_key in node_events:
        what = event_type.replace(".", "-") if node_key is None else f"{node_key}-{event_type.split('.')[1]}"
        event_id = f"complaint-{facts.complaint_id}-{transition_seq}-{what}"
        body: dict[str, Any] = {
            "event_id": event_id,
            "type": event_type,
            "occurred_at": at.isoformat(),
            "source": SOURCE,
            "ticket": {
                "external_id": str(facts.complaint_id),
                "process": facts.process_key,
                "segment": facts.segment,
                "customer": facts.customer_ref,
                "attributes": {
                    "category": facts.category,
                    "channel": facts.channel,
                    "owner_department": facts.owner_department,
                },
            },
        }
        if node_key is not None:
            body["node"] = node_key
        events.append((event_id, body))
    return events


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """Delay before the next delivery attempt after `attempts` failures: base·2^(n-1), capped."""
    if attempts <= 0:
        return 0.0
    return float(min(cap, base * 2 ** min(attempts - 1, 30)))
