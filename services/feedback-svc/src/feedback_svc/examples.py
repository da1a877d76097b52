"""Request body examples of feedback-svc's operations, by operationId: the demo organisation's customers."""

from typing import Any

EXAMPLES: dict[str, Any] = {
    "createFeedback": {
        "ticket_id": "field-app:FR-20261103-0042",
        "csat": 4,
        "nps": 8,
        "comment": "The crew arrived quickly; supply was back before the night shift.",
        "channel": "app",
        "customer": "hengda-steel",
        "given_at": "2026-11-03T15:10:00+08:00",
    },
    "updateFeedback": {"csat": 5, "comment": "Follow-up call resolved the remaining question."},
    "createInstrument": {
        "key": "servqual-2026",
        "name": "Supply service quality 2026",
        "dimensions": ["reliability", "responsiveness"],
        "items": [
            {"key": "rel-1", "dimension": "reliability", "text": "Supply is restored when promised."},
            {"key": "resp-1", "dimension": "responsiveness", "text": "Repair crews arrive quickly."},
        ],
    },
    "addResponse": {
        "respondent_ref": "hengda-steel",
        "segment": "enterprise",
        "responded_at": "2026-11-20T10:00:00+08:00",
        "answers": [
            {"item": "rel-1", "expectation": 7, "perception": 5},
            {"item": "resp-1", "expectation": 6, "perception": 6},
        ],
    },
    "createComplaint": {
        "channel": "phone",
        "customer": "hengda-steel",
        "ticket_id": "field-app:FR-20261103-0042",
        "category": "outage",
        "severity": "major",
        "description": "Second outage at the rolling mill this week; restoration took over six hours.",
        "received_by": {"department": "customer-service", "person": "complaint-officer"},
        "received_at": "2026-11-04T09:30:00+08:00",
    },
    "transitionComplaint": {"to": "resolved", "resolution": "Feeder 12 relay replaced", "root_cause": "crew-capacity"},
    "transferComplaint": {
        "to": {"department": "operations-maintenance"},
        "reason": "the outage cause is a feeder fault",
    },
    "createAction": {
        "title": "Second repair crew on the industrial park night shift",
        "description": "Restoration took too long at night for enterprise customers.",
        "owner_department": "operations-maintenance",
        "due_date": "2027-01-15",
        "effectiveness_weeks": 8,
        "links": [{"kind": "complaint", "ref": "4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"}],
    },
    "transitionAction": {"to": "done", "note": "night shift crew rostered from 2027-01-02"},
    "createPractice": {
        "title": "夜间抢修双班 Second night crew for outages",
        "body": "Outage complaints pile up at night: a second crew on call from 22:00 to 06:00.",
        "tags": ["抢修", "复电"],
        "processes": ["fault-repair"],
        "nodes": ["restore"],
        "root_causes": ["crew-capacity"],
    },
    "createRiskPoint": {
        "title": "抢修工单派单延误 Repair orders dispatched late",
        "level": "high",
        "process": "fault-repair",
        "node": "dispatch",
        "controls": [{"description": "The dispatcher checks unassigned orders", "frequency": "every 15 minutes"}],
        "owner": {"department": "dispatch-control", "person": "duty-dispatcher"},
        "kpis": ["on_time_rate"],
        "alerts": [],
    },
    "replaceRiskPoint": {
        "title": "抢修工单派单延误 Repair orders dispatched late",
        "level": "medium",
        "process": "fault-repair",
        "node": "dispatch",
        "controls": [{"description": "Late orders are escalated to the shift lead", "frequency": "every order"}],
        "owner": {"department": "dispatch-control"},
        "kpis": ["on_time_rate"],
    },
    "recordCustomerEvent": {
        "source": "crm",
        "external_id": "CE-2026-000183",
        "customer": "hengda-steel",
        "type": "plan_changed",
        "at": "2026-11-01T00:00:00+08:00",
        "plan": "two-part-tariff",
    },
}
