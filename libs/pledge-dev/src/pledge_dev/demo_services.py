"""The demo's IT-services customer: a cloud platform run for 云海科技 Yunhai Tech under an SLA of three kinds.

Defined through the public API beside the power-supply organisation (`demo_org` loads it), fed here with a
month of facts as monitoring, the backup agent and the project office would send them:
- `cloud-uptime` (availability, 24x7): 99.9 % in the SLA; an outage up to PT4H normal, PT8H acceptable; at most
  3 outages and PT8H of downtime a month; planned maintenance exempt. The month holds four outages (one of
  nine hours: a warning, charged `per_outage_over_limit`) and one announced maintenance window.
- `cloud-backup` (frequency): a database backup every P2D (tolerance P3D); one gap of 2.5 days (acceptable)
  and one of 4 days (a warning).
- `cloud-training` (clause): the customer's staff trained by a due date a fortnight before the demo's now
  (tolerance one week); delivered late, within the tolerance, and signed off by the customer.

Every instant is anchored to a day of Asia/Shanghai, so a second run the same day sends the same facts
(duplicates); `external_id`s carry the day's tag, as the work orders' do.
"""

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

SHANGHAI = ZoneInfo("Asia/Shanghai")
CUSTOMER = "yunhai-tech"
SERVICE = "yunhai-cloud"
IT = "information-technology"
AGREEMENT = "sla-yunhai-cloud"
Fact = dict[str, Any]

DEPARTMENT = (
    IT,
    {
        "name": "信息通信分公司 IT & communications",
        "positions": [
            {"key": "noc-engineer", "name": "网络值班工程师 NOC engineer"},
            {"key": "dba", "name": "数据库管理员 DBA"},
        ],
    },
)
SERVICE_BODY = {
    "key": SERVICE,
    "name": "云海调度云平台 Yunhai dispatch cloud",
    "description": "The dispatch platform run for Yunhai Tech",
    "customer_ref": CUSTOMER,
    "segment": "enterprise",
    "owner_department": IT,
}
# outages of the month: (day offset from the month's start, start hour, minutes, planned)
OUTAGES = [(3, 10, 20, False), (9, 15, 45, False), (12, 1, 120, True), (17, 8, 540, False), (24, 22, 12, False)]
# backups: hours after the month's start (02:00 on most days; one gap of 60 h, one of 96 h)
BACKUP_HOURS = [2, 50, 98, 158, 206, 302, 350, 398, 446, 494, 542, 590, 638, 686]


def _midnight(instant: datetime) -> datetime:
    return instant.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)


def training_due(now: datetime) -> datetime:
    """The clause's due instant: 18:00 Shanghai, fourteen days before the day of `now`."""
    return _midnight(now) - timedelta(days=14) + timedelta(hours=18)


def commitments(now: datetime) -> list[dict[str, Any]]:
    due = training_due(now)
    owner = {"owner_department": IT, "segment": "enterprise", "service": SERVICE}
    return [
        {"key": "cloud-uptime", "name": "云平台可用性 Cloud availability", "kind": "availability",
         "calendar": "24x7", "commitment_limit": "PT4H", "tolerance_limit": "PT8H", "owner_position": "noc-engineer",
         "objective": {"max_outages": 3, "max_downtime": "PT8H", "planned_maintenance_exempt": True}, **owner},
        {"key": "cloud-backup", "name": "数据库备份 Database backup", "kind": "frequency", "obligation": "db-backup",
         "calendar": "24x7", "commitment_limit": "P2D", "tolerance_limit": "P3D", "owner_position": "dba",
         **owner},
        {"key": "cloud-training", "name": "客户人员培训 Staff training", "kind": "clause",
         "obligation": "staff-training", "calendar": "24x7",
         "objective": {"due_at": due.isoformat(), "tolerance_due_at": (due + timedelta(days=7)).isoformat(),
                       "requires_sign_off": True}, **owner},
    ]  # fmt: skip


AGREEMENT_BODY: dict[str, Any] = {
    "key": AGREEMENT,
    "kind": "sla",
    "title": "云服务协议 Cloud service agreement — Yunhai Tech",
    "provider": IT,
    "customer": CUSTOMER,
    "scope": {"customer_refs": [CUSTOMER], "segments": ["enterprise"]},
    "covers": [
        {"commitment_key": "cloud-uptime", "target_rate": 0.999},
        {"commitment_key": "cloud-backup", "target_rate": 0.9},
        {"commitment_key": "cloud-training", "target_rate": 1.0},
    ],
    "penalties": [
        {
            "kind": "availability_credit",
            "commitment_key": "cloud-uptime",
            "fee": "20000.00",
            "currency": "CNY",
            "tiers": [{"below": 0.999, "fee_share": 0.10}, {"below": 0.99, "fee_share": 0.25}],
        },
        {"kind": "per_outage_over_limit", "commitment_key": "cloud-uptime", "amount": "500.00", "currency": "CNY"},
    ],
    "glossary": {"outage": "the platform unreachable from the customer's network, as monitoring sees it"},
}


def generate_facts(now: datetime, days: int) -> list[Fact]:
    """The month's facts up to `now`, in the order their sources would send them."""
    start = _midnight(now) - timedelta(days=days)
    tag = _midnight(now).strftime("%Y%m%d")
    facts: list[Fact] = []

    def fact(source: str, ref: str, kind: str, at: datetime, **fields: Any) -> None:
        if at <= now:
            facts.append({"source": source, "external_id": f"DEMO-{tag}-{ref}", "type": kind, "service": SERVICE,
                          "occurred_at": at.isoformat(), **fields})  # fmt: skip

    for i, (day, hour, minutes, planned) in enumerate(OUTAGES):
        began = start + timedelta(days=day, hours=hour)
        outage = f"DEMO-{tag}-OUT-{i}"
        summary = "announced maintenance: database upgrade" if planned else "dispatch API unreachable"
        fact("monitoring", f"out-{i}-start", "outage.started", began, outage_ref=outage, planned=planned,
             summary=summary)  # fmt: skip
        fact("monitoring", f"out-{i}-end", "outage.ended", began + timedelta(minutes=minutes), outage_ref=outage)
    for i, hours in enumerate(BACKUP_HOURS):
        fact("backup-agent", f"backup-{i}", "occurrence.recorded", start + timedelta(hours=hours),
             obligation="db-backup", evidence=f"s3://backups/yunhai/{tag}-{i}")  # fmt: skip
    due = training_due(now)
    fact("pmo", "training-delivered", "deliverable.delivered", due + timedelta(days=2), obligation="staff-training",
         evidence="培训签到表与课件 sign-in sheets and slides, 42 trainees")  # fmt: skip
    fact("pmo", "training-signed", "deliverable.signed_off", due + timedelta(days=3), obligation="staff-training",
         signed_by="Yunhai Tech, IT director")  # fmt: skip
    return sorted(facts, key=lambda f: f["occurred_at"])


def _chunks(items: list[Fact], size: int) -> Iterator[list[Fact]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


async def push_facts(client: httpx.AsyncClient, facts: list[Fact]) -> tuple[int, int, int, list[str]]:
    accepted = duplicates = rejected = 0
    reasons: list[str] = []
    for chunk in _chunks(facts, 1000):
        response = await client.post("/v1/service-facts/bulk", json=chunk, timeout=120)
        if response.status_code != 200:
            raise SystemExit(f"/v1/service-facts/bulk answered {response.status_code}: {response.text[:500]}")
        body = response.json()
        accepted, duplicates, rejected = (accepted + body["accepted"], duplicates + body["duplicates"],
                                          rejected + body["rejected"])  # fmt: skip
        reasons += [str(i) for i in body["items"] if i.get("status") == "rejected"][:5]
    return accepted, duplicates, rejected, reasons


async def send_facts(client: httpx.AsyncClient, facts: list[Fact], within: float = 120) -> tuple[int, int, int]:
    """Push the facts; while tracking-svc has not yet learnt the service from commitment-svc's feed, try again."""
    deadline = asyncio.get_running_loop().time() + within
    accepted = 0
    while True:
        got, _, rejected, reasons = await push_facts(client, facts)
        accepted += got
        if not rejected or asyncio.get_running_loop().time() > deadline:
            for reason in reasons:
                print(f"  rejected: {reason[:200]}")
            return accepted, len(facts) - accepted - rejected, rejected
        await asyncio.sleep(1)


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.3%}"


async def print_services(client: httpx.AsyncClient, period: dict[str, str], table: Any) -> None:
    """⑦ the cloud customer's availability, obligations and SLA review."""
    params = {**period, "customer": CUSTOMER}
    availability = (await client.get("/v1/reports/availability", params=params)).json()
    rows = [[r["commitment"], pct(r["availability"]), pct(r["target"]), r["outages"], r["downtime"],
             (r["longest_outage"] or {}).get("counted"), (r["longest_outage"] or {}).get("state"),
             ", ".join(k for k, v in r["limits"].items() if v["met"] is False) or "none", r["mttr"]]
            for r in availability["rows"]]  # fmt: skip
    table(["commitment", "availability", "target", "outages", "downtime", "longest", "its state", "limits broken",
           "MTTR"], rows, "⑦ Availability of the cloud platform (Yunhai Tech)")  # fmt: skip
    obligations = (await client.get("/v1/reports/obligations", params=params)).json()
    rows = [[r["commitment"], r["kind"], r["units"], ", ".join(f"{k} {v}" for k, v in r["states"].items() if v),
             pct(r["share_within_limit"]), r.get("outcome") or r.get("next_due_at") or ""]
            for r in obligations["rows"]]  # fmt: skip
    table(["commitment", "kind", "units", "states", "within", "outcome / next due"], rows, "⑧ Obligations")
    review = await client.get(f"/v1/reports/agreements/{AGREEMENT}", params=period)
    if review.status_code == 200:
        body = review.json()
        kinds = ("availability_credit", "per_outage_over_limit")
        lines = [[p["kind"], p.get("service") or "", p.get("work_order") or "", p["amount"], p["reason"]]
                 for p in body["penalties"] if p["kind"] in kinds]  # fmt: skip
        table(["penalty", "service", "outage", "amount", "why"], lines, f"⑨ SLA review: {body['agreement']['title']}")
