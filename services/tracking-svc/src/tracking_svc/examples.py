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

OUTAGE_STARTED: dict[str, Any] = {
    "source": "monitoring",
    "external_id": "nms-88213-start",
    "type": "outage.started",
    "service": "core-network",
    "occurred_at": "2026-11-03T09:12:00+08:00",
    "outage_ref": "nms-88213",
    "summary": "core router CR-2 unreachable",
}

ALERTMANAGER: dict[str, Any] = {
    "version": "4",
    "groupKey": '{}:{alertname="CoreRouterDown"}',
    "truncatedAlerts": 0,
    "status": "resolved",
    "receiver": "pledge",
    "groupLabels": {"alertname": "CoreRouterDown"},
    "commonLabels": {"alertname": "CoreRouterDown", "service": "core-router"},
    "commonAnnotations": {"summary": "core router CR-2 unreachable"},
    "externalURL": "http://alertmanager:9093",
    "alerts": [
        {
            "status": "resolved",
            "labels": {"alertname": "CoreRouterDown", "service": "core-router", "severity": "critical"},
            "annotations": {"summary": "core router CR-2 unreachable"},
            "startsAt": "2026-11-03T01:12:00Z",
            "endsAt": "2026-11-03T02:40:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up%7Bjob%3D%22cr%22%7D+%3D%3D+0",
            "fingerprint": "6f1c2d9a8b7e4f30",
        }
    ],
}

EXAMPLES: dict[str, Any] = {
    "ingestServiceFact": OUTAGE_STARTED,
    "ingestServiceFactsBulk": [
        OUTAGE_STARTED,
        {
            "source": "monitoring",
            "external_id": "nms-88213-end",
            "type": "outage.ended",
            "service": "core-network",
            "occurred_at": "2026-11-03T10:40:00+08:00",
            "outage_ref": "nms-88213",
        },
        {
            "source": "backup-agent",
            "external_id": "run-4411",
            "type": "occurrence.recorded",
            "service": "erp",
            "occurred_at": "2026-11-03T02:05:00+08:00",
            "obligation": "db-backup",
            "evidence": "s3://backups/erp/4411",
        },
    ],
    "alertmanagerWebhook": ALERTMANAGER,
    "createAlertmanagerMapping": {
        "key": "prod",
        "receiver": "pledge",
        "service_label": "service",
        "service_map": {"core-router": "core-network", "erp-db": "erp"},
        "planned_label": "maintenance",
        "weight_label": "impact",
    },
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
