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
    "createContact": {
        "department": "operations-maintenance",
        "position": None,
        "name": "王建国",
        "email": "wang.jianguo@example.cn",
        "chat_handle": "wangjianguo",
        "language": "zh",
    },
    "updateContact": {"position": "dispatcher", "language": "en"},
    "createChannel": {
        "kind": "dingtalk",
        "name": "运维值班群",
        "url": "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef",
        "secret": "SEC0123456789abcdef0123456789abcdef",
        "language": "zh",
    },
    "updateChannel": {"enabled": False},
    "createNotificationRule": {
        "name": "O&M prewarnings and warnings",
        "departments": ["operations-maintenance"],
        "levels": ["prewarning", "warning"],
        "channel_ids": ["0b6d3f4e-8a39-4d6e-9a51-1c1b1b1b1b1b"],
        "quiet_calendar": "cn-office",
        "escalate_after": "PT30M",
        "escalate_levels": 2,
    },
    "updateNotificationRule": {"enabled": False},
    "createReportSubscription": {
        "name": "monthly status table",
        "department": "operations-maintenance",
        "day_of_month": 1,
        "at_time": "09:00",
        "timezone": "Asia/Shanghai",
        "channel_ids": ["0b6d3f4e-8a39-4d6e-9a51-1c1b1b1b1b1b"],
    },
    "createCustomKpi": {
        "key": "repair_on_time_rate",
        "name": "Repairs within their commitment",
        "unit": "rate",
        "direction": "higher",
        "kind": "ratio",
        "population": {
            "runs": "end_to_end",
            "filters": [{"dimension": "process", "op": "eq", "values": ["fault-repair"]}],
        },
        "numerator": {"filters": [{"dimension": "state", "op": "in", "values": ["completed_normal"]}]},
    },
    "createCustomKpiVersion": {
        "name": "Repairs within their commitment (residential)",
        "unit": "rate",
        "direction": "higher",
        "kind": "ratio",
        "population": {
            "runs": "end_to_end",
            "filters": [
                {"dimension": "process", "op": "eq", "values": ["fault-repair"]},
                {"dimension": "segment", "op": "in", "values": ["residential"]},
            ],
        },
        "numerator": {"filters": [{"dimension": "state", "op": "in", "values": ["completed_normal"]}]},
        "effective_from": "2027-01",
    },
    "createKpiTarget": {
        "kpi": "on_time_rate",
        "department": "operations-maintenance",
        "period": "2026-11",
        "target": 0.95,
    },
}
