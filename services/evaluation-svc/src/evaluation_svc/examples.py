"""Request body examples of evaluation-svc's operations, by operationId: the demo organisation's world."""

from typing import Any

EXAMPLES: dict[str, Any] = {
    "whatIf": {
        "from": "2026-11-01T00:00:00+08:00",
        "to": "2026-12-01T00:00:00+08:00",
        "commitment": "fr-restore",
        "commitment_limit": "PT3H",
        "tolerance_limit": "PT6H",
        "group_by": ["segment"],
    },
    "approveSettlement": {"expected_credits": "2500.00"},
    "updateAlert": {"state": "acknowledged", "note": "crew 3 dispatched to the Hengda Steel substation"},
    "acknowledgeAlert": {"note": "crew 3 dispatched to the Hengda Steel substation"},
    "createWebhook": {
        "url": "https://oncall.example.com/pledge/alerts",
        "description": "Operations & maintenance on-call",
        "department": "operations-maintenance",
        "events": ["alert.raised", "alert.acknowledged"],
        "levels": ["prewarning", "warning"],
    },
    "updateWebhook": {"levels": ["warning"], "enabled": True},
    "createKpiTarget": {
        "kpi": "on_time_rate",
        "department": "operations-maintenance",
        "period": "2026-11",
        "target": 0.95,
    },
}
