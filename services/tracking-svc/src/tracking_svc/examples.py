"""Request body examples of tracking-svc's operations, by operationId: the demo organisation's fault repair."""

from typing import Any

ARRIVED: dict[str, Any] = {
    "event_id": "field-app:FR-20261103-0042:arrive:completed",
    "type": "node.completed",
    "occurred_at": "2026-11-03T09:05:00+08:00",
    "source": "field-app",
    "ticket": {"external_id": "FR-20261103-0042", "process": "fault-repair", "segment": "enterprise"},
    "node": "arrive",
    "department": "operations-maintenance",
    "position": "repair-crew",
}

EXAMPLES: dict[str, Any] = {
    "ingestEvent": ARRIVED,
    "ingestBulk": [
        {
            "event_id": "field-app:FR-20261103-0042:opened",
            "type": "ticket.opened",
            "occurred_at": "2026-11-03T08:15:00+08:00",
            "source": "field-app",
            "ticket": {
                "external_id": "FR-20261103-0042",
                "process": "fault-repair",
                "segment": "enterprise",
                "customer": "hengda-steel",
            },
        },
        {
            "event_id": "field-app:FR-20261103-0042:arrive:started",
            "type": "node.started",
            "occurred_at": "2026-11-03T08:20:00+08:00",
            "source": "field-app",
            "ticket": {"external_id": "FR-20261103-0042", "process": "fault-repair"},
            "node": "arrive",
        },
        ARRIVED,
    ],
}
