"""Request body examples of commitment-svc's operations, by operationId: the demo organisation's world (a
power utility: fault repair, new connections, the call centre; its customer Hengda Steel)."""

from typing import Any

from pydantic import JsonValue

CN_BUSINESS_WINDOWS = [["08:30", "12:00"], ["13:30", "17:30"]]

# one commitment of each kind but duration (docs/kinds.md), about the service of `createService`: shown as the
# examples of the CommitmentCreate schema beside the operation's own example
KIND_EXAMPLES: list[JsonValue] = [
    {
        "key": "portal-uptime",
        "kind": "availability",
        "service": "customer-portal",
        "commitment_limit": "PT4H",
        "tolerance_limit": "PT8H",
        "calendar": "24x7",
        "objective": {"max_outages": 3, "max_downtime": "PT8H", "planned_maintenance_exempt": True},
    },
    {
        "key": "portal-concurrency",
        "kind": "count",
        "service": "customer-portal",
        "obligation": "peak-concurrent-users",
        "objective": {"direction": "at_most", "limit": 100, "tolerance": 110, "unit": "users"},
    },
    {
        "key": "portal-backup",
        "kind": "frequency",
        "service": "customer-portal",
        "obligation": "db-backup",
        "commitment_limit": "P2D",
        "tolerance_limit": "P3D",
        "objective": {"first_due_at": "2026-12-05T02:00:00+08:00"},
    },
    {
        "key": "portal-training",
        "kind": "clause",
        "service": "customer-portal",
        "obligation": "staff-training",
        "objective": {
            "due_at": "2026-12-15T00:00:00+08:00",
            "tolerance_due_at": "2026-12-22T00:00:00+08:00",
            "requires_sign_off": True,
        },
    },
]

EXAMPLES: dict[str, Any] = {
    "putDepartment": {
        "name": "运维检修部 Operations & maintenance",
        "parent_key": None,
        "positions": [
            {"key": "surveyor", "name": "勘查员 Surveyor"},
            {"key": "repair-crew", "name": "抢修班 Repair crew"},
        ],
    },
    "putSegment": {"name": "Enterprise (high-voltage business customers)"},
    "putCalendar": {
        "name": "China business days (Asia/Shanghai, 08:30-12:00, 13:30-17:30)",
        "timezone": "Asia/Shanghai",
        "weekly": {str(day): CN_BUSINESS_WINDOWS for day in range(5)},
        "holidays": ["2026-10-01", "2026-10-02"],
        "extra_working_days": ["2026-09-27"],
    },
    "patchCalendar": {"holidays": ["2026-10-01", "2026-10-02", "2026-10-05"]},
    "importHolidays": {"country": "CN", "year": 2027, "make_up_days": True},
    "putProcess": {
        "name": "故障抢修 Fault repair",
        "description": "From the fault report to restored supply.",
        "owner_department": "operations-maintenance",
        "nodes": [
            {
                "key": "dispatch",
                "name": "派单 Dispatch",
                "department": "dispatch-control",
                "position_key": "dispatcher",
            },
            {
                "key": "arrive",
                "name": "到达现场 Arrive on site",
                "department": "operations-maintenance",
                "position_key": "repair-crew",
            },
        ],
    },
    "patchProcess": {"description": "From the fault report to restored supply at the customer's metering point."},
    "putNode": {
        "name": "恢复送电 Restore supply",
        "department": "operations-maintenance",
        "position_key": "repair-crew",
        "position": 3,
    },
    "createService": {
        "key": "customer-portal",
        "name": "网上营业厅 Online service hall",
        "description": "The customer portal: applications, bills, outage notices.",
        "customer_ref": "hengda-steel",
        "segment": "enterprise",
        "owner_department": "marketing",
    },
    "patchService": {"status": "retired"},
    "createCommitment": {
        "key": "fr-restore-vip",
        "name": "VIP supply restored within 2 hours",
        "process": "fault-repair",
        "node": "restore",
        "segment": "vip",
        "commitment_limit": "PT2H",
        "tolerance_limit": "PT4H",
        "calendar": "24x7",
        "allowed_pause_reasons": ["awaiting-customer", "force-majeure"],
        "owner_department": "operations-maintenance",
        "owner_position": "repair-crew",
        "prewarning_fraction": 0.8,
    },
    # the other kinds (docs/kinds.md) take the same route; OpenAPI shows one example per operation
    "updateCommitment": {"description": "Hospitals and government sites first.", "prewarning_fraction": 0.75},
    "createCommitmentVersion": {
        "commitment_limit": "PT90M",
        "tolerance_limit": "PT3H",
        "effective_from": "2027-01-01T00:00:00+08:00",
    },
    "transitionCommitment": {"to": "active", "effective_from": "2026-12-01T00:00:00Z", "reason": "signed off"},
    "createAgreement": {
        "key": "sla-hengda-steel",
        "kind": "sla",
        "title": "供电服务协议 Supply service agreement — Hengda Steel",
        "provider": "marketing",
        "customer": "hengda-steel",
        "scope": {"customer_refs": ["hengda-steel"], "segments": ["enterprise"]},
        "covers": [
            {"commitment_key": "fr-arrive", "target_rate": 0.95},
            {"commitment_key": "fr-restore", "target_rate": 0.95},
        ],
        "exemptions": {"pause_reasons": ["awaiting-customer", "force-majeure"], "force_majeure": []},
        "penalties": [
            {"kind": "per_warning_run", "amount": "500.00", "currency": "CNY"},
            {"kind": "under_target", "fee_share": 0.05, "fee": "200000.00", "currency": "CNY"},
        ],
        # covering an availability commitment (docs/kinds.md) adds its own penalties, e.g.
        # {"kind": "availability_credit", "commitment_key": "portal-uptime", "fee": "20000.00", "currency": "CNY",
        #  "tiers": [{"below": 0.999, "fee_share": 0.10}, {"below": 0.99, "fee_share": 0.25}]}
        "billing": {"period": "month", "timezone": "Asia/Shanghai", "currency": "CNY"},
        "glossary": {"restore": "supply back at the customer's metering point"},
    },
    "updateAgreement": {"covers": [{"commitment_key": "fr-restore", "target_rate": 0.97}]},
    "createAgreementVersion": {
        "covers": [
            {"commitment_key": "fr-arrive", "target_rate": 0.95},
            {"commitment_key": "fr-restore", "target_rate": 0.97},
        ]
    },
    "transitionAgreement": {"to": "signed", "reason": "signed by Hengda Steel's procurement on 2026-11-28"},
    "previewDeadline": {
        "start": "2026-11-03T08:15:00Z",
        "commitment": {
            "commitment_limit": "PT4H",
            "tolerance_limit": "PT8H",
            "calendar": "24x7",
            "allowed_pause_reasons": ["awaiting-customer"],
        },
        "pauses": [{"start": "2026-11-03T09:00:00Z", "end": "2026-11-03T09:40:00Z", "reason": "awaiting-customer"}],
        "at": "2026-11-03T11:00:00Z",
    },
}
