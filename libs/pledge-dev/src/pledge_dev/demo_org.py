"""The demo organisation: a city power-supply company (reference 003), loaded through the public API.

`load_demo_org(client)` PUTs/POSTs every definition through whatever base URL the client has (the gateway
when run by `make run`/`make demo`), and last the KPI targets of evaluation-svc (`kpi_targets=False` leaves
them out, for a client of commitment-svc alone). It is idempotent: what exists is left as it is, a half-finished
earlier run is completed, and running it twice changes nothing and never fails.

Choices the issue left open (also in docs/commitments.md, "Demo organisation"):
- Business calendar `cn-business`: Asia/Shanghai, Mon-Fri 08:30-12:00 and 13:30-17:30 (7 h 30 min a
  day), China's public holidays and official make-up working days (调休) of this year and next year as far
  as the `holidays` package knows them.
- Field work that runs around the clock (fault repair, call acceptance) counts on the built-in `24x7`.
- Complaints are tickets of process `complaint-handling` whose segment is the severity:
  simple    acknowledge PT15M (tolerance PT30M) and resolve PT1H (PT4H), both on 24x7: "immediately";
  general   acknowledge PT1H (PT2H) and resolve PT7H30M (PT15H) on cn-business: one working day of
            counted time ("the same working day" cannot be a limit of zero business days);
  major     acknowledge PT1H (PT2H) on cn-business, resolve P3D (P5D) business days.
- Every version starts governing on 1 January of the current year, 00:00 Asia/Shanghai.
- Beside the utility, an IT-services customer (`demo_services`): a cloud platform under an SLA with an
  availability, a frequency (backups) and a clause (training) commitment.
"""

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from pledge_dev import demo_services

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = "cn-business"
PAUSES_FIELD = ["awaiting-customer", "awaiting-third-party", "force-majeure"]

DEPARTMENTS: list[tuple[str, dict[str, Any]]] = [
    # the company's management: where an unanswered alert of operations & maintenance escalates (demo_notify)
    ("company", {"name": "公司本部 Company management", "positions": []}),
    (
        "marketing",
        {
            "name": "营销部 Marketing & customer service",
            "positions": [
                {"key": "account-manager", "name": "客户经理 Account manager"},
                {"key": "service-desk", "name": "营业厅 Service desk"},
            ],
        },
    ),
    (
        "customer-service",
        {
            "name": "客户服务中心 Customer service centre (95598)",
            "parent_key": "marketing",
            "positions": [
                {"key": "agent", "name": "坐席 Call agent"},
                {"key": "complaint-officer", "name": "投诉专责 Complaint officer"},
            ],
        },
    ),
    (
        "development-planning",
        {"name": "发展策划部 Development & planning", "positions": [{"key": "planner", "name": "规划专责 Planner"}]},
    ),
    (
        "operations-maintenance",
        {
            "name": "运维检修部 Operations & maintenance",
            "parent_key": "company",
            "positions": [
                {"key": "surveyor", "name": "勘查员 Surveyor"},
                {"key": "repair-crew", "name": "抢修班 Repair crew"},
                {"key": "construction-crew", "name": "施工班 Construction crew"},
            ],
        },
    ),
    (
        "dispatch-control",
        {
            "name": "电力调度控制中心 Dispatch & control",
            "positions": [{"key": "dispatcher", "name": "调度员 Dispatcher"}],
        },
    ),
]

SEGMENTS = [
    ("vip", "VIP (important customers: hospitals, government)"),
    ("enterprise", "Enterprise (high-voltage business customers)"),
    ("residential", "Residential (low-voltage households)"),
    ("simple", "Simple complaint"),
    ("general", "General complaint"),
    ("major", "Major complaint"),
]

WORKING_WINDOWS = [["08:30", "12:00"], ["13:30", "17:30"]]
CALENDAR_BODY = {
    "name": "China business days (Asia/Shanghai, 08:30-12:00, 13:30-17:30)",
    "timezone": "Asia/Shanghai",
    "weekly": {str(day): WORKING_WINDOWS for day in range(5)},
}


def _node(key: str, name: str, department: str, position: str | None = None) -> dict[str, Any]:
    return {"key": key, "name": name, "department": department, "position_key": position}


PROCESSES: list[tuple[str, dict[str, Any]]] = [
    (
        "new-connection",
        {
            "name": "业扩报装 New connection",
            "description": "From the application for a new or larger supply to the energised connection.",
            "owner_department": "marketing",
            "nodes": [
                _node("accept", "受理 Accept application", "marketing", "service-desk"),
                _node("survey", "现场勘查 Site survey", "operations-maintenance", "surveyor"),
                _node("design-approval", "设计审查 Design approval", "development-planning", "planner"),
                _node("construction", "工程施工 Construction", "operations-maintenance", "construction-crew"),
                _node("connection", "装表接电 Meter and connection", "dispatch-control", "dispatcher"),
            ],
        },
    ),
    (
        "fault-repair",
        {
            "name": "故障抢修 Fault repair",
            "description": "From the fault report to restored supply.",
            "owner_department": "operations-maintenance",
            "nodes": [
                _node("dispatch", "派单 Dispatch", "dispatch-control", "dispatcher"),
                _node("arrive", "到达现场 Arrive on site", "operations-maintenance", "repair-crew"),
                _node("restore", "恢复送电 Restore supply", "operations-maintenance", "repair-crew"),
            ],
        },
    ),
    (
        "call-centre-order",
        {
            "name": "95598 工单 Call-centre work order",
            "description": "A 95598 work order: accepted by the call centre, handled, replied to the customer.",
            "owner_department": "customer-service",
            "nodes": [
                _node("accept", "受理 Accept", "customer-service", "agent"),
                _node("handle", "处理 Handle", "marketing", "account-manager"),
                _node("reply", "回复 Reply to customer", "customer-service", "agent"),
            ],
        },
    ),
    (
        "complaint-handling",
        {
            "name": "投诉处理 Complaint handling",
            "description": "Customer complaints (opened by feedback-svc); the ticket segment is the severity.",
            "owner_department": "customer-service",
            "nodes": [
                _node("acknowledge", "响应 Acknowledge", "customer-service", "complaint-officer"),
                _node("resolve", "处理完毕 Resolve", "customer-service", "complaint-officer"),
            ],
        },
    ),
]


def _c(
    key: str,
    process: str,
    node: str | None,
    segment: str,
    commitment: str,
    tolerance: str,
    *,
    calendar: str = CALENDAR,
    unit: str = "duration",
    owner: tuple[str, str | None] = ("marketing", None),
    pauses: list[str] | None = None,
    name: str = "",
) -> dict[str, Any]:
    return {
        "key": key,
        "name": name or key,
        "process": process,
        "node": node,
        "segment": segment,
        "limit_unit": unit,
        "commitment_limit": commitment,
        "tolerance_limit": tolerance,
        "calendar": calendar,
        "allowed_pause_reasons": PAUSES_FIELD if pauses is None else pauses,
        "owner_department": owner[0],
        "owner_position": owner[1],
    }


DAYS = "business_days"
OM = "operations-maintenance"
CS = "customer-service"
COMMITMENTS: list[dict[str, Any]] = [
    # 业扩报装: business days on the CN calendar
    _c(
        "nc-accept", "new-connection", "accept", "default", "P1D", "P2D", unit=DAYS, owner=("marketing", "service-desk")
    ),
    _c(
        "nc-survey-residential",
        "new-connection",
        "survey",
        "residential",
        "P2D",
        "P3D",
        unit=DAYS,
        owner=(OM, "surveyor"),
    ),
    _c("nc-survey", "new-connection", "survey", "default", "P3D", "P5D", unit=DAYS, owner=(OM, "surveyor")),
    _c(
        "nc-design-approval",
        "new-connection",
        "design-approval",
        "default",
        "P5D",
        "P10D",
        unit=DAYS,
        owner=("development-planning", "planner"),
    ),
    _c(
        "nc-construction",
        "new-connection",
        "construction",
        "default",
        "P15D",
        "P20D",
        unit=DAYS,
        owner=(OM, "construction-crew"),
    ),
    _c(
        "nc-connection",
        "new-connection",
        "connection",
        "default",
        "P3D",
        "P5D",
        unit=DAYS,
        owner=("dispatch-control", "dispatcher"),
    ),
    _c("nc-e2e-residential", "new-connection", None, "residential", "P10D", "P15D", unit=DAYS, name="居民业扩全流程"),
    _c("nc-e2e-enterprise", "new-connection", None, "enterprise", "P40D", "P60D", unit=DAYS, name="企业业扩全流程"),
    _c("nc-e2e", "new-connection", None, "default", "P20D", "P30D", unit=DAYS, name="业扩全流程 (other segments)"),
    # 抢修: around the clock
    _c(
        "fr-dispatch",
        "fault-repair",
        "dispatch",
        "default",
        "PT10M",
        "PT20M",
        calendar="24x7",
        owner=("dispatch-control", "dispatcher"),
    ),
    _c("fr-arrive-vip", "fault-repair", "arrive", "vip", "PT30M", "PT45M", calendar="24x7", owner=(OM, "repair-crew")),
    _c("fr-arrive", "fault-repair", "arrive", "default", "PT45M", "PT90M", calendar="24x7", owner=(OM, "repair-crew")),
    _c("fr-restore-vip", "fault-repair", "restore", "vip", "PT2H", "PT4H", calendar="24x7", owner=(OM, "repair-crew")),
    _c("fr-restore", "fault-repair", "restore", "default", "PT4H", "PT8H", calendar="24x7", owner=(OM, "repair-crew")),
    _c("fr-e2e", "fault-repair", None, "default", "PT5H", "PT10H", calendar="24x7", owner=(OM, None)),
    # 95598 work orders
    _c("cc-accept", "call-centre-order", "accept", "default", "PT15M", "PT30M", calendar="24x7", owner=(CS, "agent")),
    _c(
        "cc-handle",
        "call-centre-order",
        "handle",
        "default",
        "P1D",
        "P2D",
        unit=DAYS,
        owner=("marketing", "account-manager"),
    ),
    _c("cc-reply", "call-centre-order", "reply", "default", "PT4H", "PT8H", owner=(CS, "agent")),
    _c(
        "cc-e2e",
        "call-centre-order",
        None,
        "default",
        "P2D",
        "P3D",
        unit=DAYS,
        owner=(CS, None),
        name="95598 工单全流程",
    ),
    # complaints: segment = severity
    _c(
        "complaint-simple-acknowledge",
        "complaint-handling",
        "acknowledge",
        "simple",
        "PT15M",
        "PT30M",
        calendar="24x7",
        owner=(CS, "complaint-officer"),
        pauses=[],
    ),
    _c(
        "complaint-simple-resolve",
        "complaint-handling",
        "resolve",
        "simple",
        "PT1H",
        "PT4H",
        calendar="24x7",
        owner=(CS, "complaint-officer"),
        pauses=["awaiting-customer"],
    ),
    _c(
        "complaint-general-acknowledge",
        "complaint-handling",
        "acknowledge",
        "general",
        "PT1H",
        "PT2H",
        owner=(CS, "complaint-officer"),
        pauses=[],
    ),
    _c(
        "complaint-general-resolve",
        "complaint-handling",
        "resolve",
        "general",
        "PT7H30M",
        "PT15H",
        owner=(CS, "complaint-officer"),
        pauses=["awaiting-customer"],
    ),
    _c(
        "complaint-major-acknowledge",
        "complaint-handling",
        "acknowledge",
        "major",
        "PT1H",
        "PT2H",
        owner=(CS, "complaint-officer"),
        pauses=[],
    ),
    _c(
        "complaint-major-resolve",
        "complaint-handling",
        "resolve",
        "major",
        "P3D",
        "P5D",
        unit=DAYS,
        owner=(CS, "complaint-officer"),
        pauses=["awaiting-customer", "awaiting-third-party"],
    ),
    # complaints end to end, per severity: received to closed (closing waits for the customer's confirmation)
    _c(
        "complaint-simple-e2e",
        "complaint-handling",
        None,
        "simple",
        "PT8H",
        "PT24H",
        calendar="24x7",
        owner=(CS, None),
        pauses=["awaiting-customer"],
    ),
    _c(
        "complaint-general-e2e",
        "complaint-handling",
        None,
        "general",
        "PT15H",
        "PT30H",
        owner=(CS, None),
        pauses=["awaiting-customer"],
    ),
    _c(
        "complaint-major-e2e",
        "complaint-handling",
        None,
        "major",
        "P5D",
        "P10D",
        unit=DAYS,
        owner=(CS, None),
        pauses=["awaiting-customer", "awaiting-third-party"],
    ),
]

AGREEMENTS: list[dict[str, Any]] = [
    {
        "key": "sla-hengda-steel",
        "kind": "sla",
        "title": "供电服务协议 Supply service agreement — Hengda Steel",
        "provider": "marketing",
        "customer": "hengda-steel",
        "scope": {"customer_refs": ["hengda-steel"], "segments": ["enterprise"]},
        "covers": [
            {"commitment_key": "nc-e2e-enterprise", "target_rate": 0.9},
            {"commitment_key": "fr-arrive", "target_rate": 0.95},
            {"commitment_key": "fr-restore", "target_rate": 0.95},
        ],
        "exemptions": {"pause_reasons": ["awaiting-customer", "force-majeure"], "force_majeure": []},
        "penalties": [
            {"kind": "per_warning_run", "amount": 500, "currency": "CNY"},
            {"kind": "under_target", "commitment_key": None, "fee_share": 0.05, "fee": 200000, "currency": "CNY"},
        ],
        "glossary": {
            "restore": "supply back at the customer's metering point",
            "business day": "a working day of calendar cn-business (holidays and 调休 included)",
        },
    },
    {
        "key": "ola-repair-for-call-centre",
        "kind": "ola",
        "title": "运维检修部 → 客户服务中心 repair OLA",
        "provider": "operations-maintenance",
        "customer": "customer-service",
        "scope": {"customer_refs": [], "segments": []},
        "covers": [
            {"commitment_key": "fr-arrive", "target_rate": 0.95},
            {"commitment_key": "fr-restore", "target_rate": 0.9},
            {"commitment_key": "cc-handle", "target_rate": 0.9},
        ],
        "exemptions": {"pause_reasons": ["awaiting-third-party", "force-majeure"], "force_majeure": []},
        "penalties": [{"kind": "under_target", "commitment_key": "fr-restore", "amount": 2000, "currency": "CNY"}],
        "glossary": {"arrive": "the crew reports arrival on site in the field app"},
    },
]


class DemoLoadError(RuntimeError):
    pass


def _check(response: httpx.Response, *expected: int) -> Any:
    if response.status_code not in expected:
        raise DemoLoadError(
            f"{response.request.method} {response.request.url.path} answered {response.status_code}: {response.text}"
        )
    return response.json() if response.content else None


def _governs_from() -> str:
    return datetime(datetime.now(UTC).year, 1, 1, tzinfo=SHANGHAI).isoformat()


async def _load_calendar(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/calendars/{CALENDAR}")
    if response.status_code == 404:
        _check(await client.put(f"/v1/calendars/{CALENDAR}", json=CALENDAR_BODY), 201, 200)
    else:
        _check(response, 200)
    this_year = datetime.now(SHANGHAI).year
    for year in (this_year, this_year + 1):
        _check(
            await client.post(f"/v1/calendars/{CALENDAR}/holidays/import", json={"country": "CN", "year": year}),
            200,
        )


async def _load_commitment(client: httpx.AsyncClient, spec: dict[str, Any]) -> None:
    page = _check(await client.get("/v1/commitments", params={"key": spec["key"]}), 200)
    versions = page["items"]
    if not versions:
        versions = [_check(await client.post("/v1/commitments", json=spec), 201)]
    if any(v["status"] == "active" for v in versions):
        return  # in force: a later open draft is someone's revision, not the loader's to put in force
    latest = versions[-1]
    if latest["status"] == "draft":
        latest = _check(
            await client.post(f"/v1/commitments/{latest['id']}/transitions", json={"to": "negotiating"}), 200
        )
    if latest["status"] == "negotiating":
        body = {"to": "active", "reason": "demo organisation"}
        if not any(v["status"] in ("active", "retired") for v in versions):
            body["effective_from"] = _governs_from()
        _check(await client.post(f"/v1/commitments/{latest['id']}/transitions", json=body), 200)


async def _load_agreement(client: httpx.AsyncClient, spec: dict[str, Any]) -> None:
    page = _check(await client.get("/v1/agreements", params={"key": spec["key"]}), 200)
    versions = page["items"]
    if not versions:
        versions = [_check(await client.post("/v1/agreements", json=spec), 201)]
    if any(v["status"] == "signed" for v in versions):
        return  # signed: a later open draft is someone's revision, not the loader's to sign
    latest = versions[-1]
    for current, target in (("draft", "negotiating"), ("negotiating", "signed")):
        if latest["status"] == current:
            latest = _check(
                await client.post(
                    f"/v1/agreements/{latest['id']}/transitions", json={"to": target, "reason": "demo organisation"}
                ),
                200,
            )


async def load_demo_org(client: httpx.AsyncClient, *, kpi_targets: bool = True) -> None:
    """Load the demo organisation through the public API of `client`'s base URL (idempotent)."""
    for key, body in [*DEPARTMENTS, demo_services.DEPARTMENT]:
        _check(await client.put(f"/v1/departments/{key}", json=body), 200, 201)
    for key, name in SEGMENTS:
        _check(await client.put(f"/v1/segments/{key}", json={"name": name}), 200, 201)
    await _load_calendar(client)
    for key, body in PROCESSES:
        response = await client.get(f"/v1/processes/{key}")
        if response.status_code == 404:
            _check(await client.put(f"/v1/processes/{key}", json=body), 201)
        else:
            _check(response, 200)
    service = demo_services.SERVICE_BODY
    if (await client.get(f"/v1/services/{service['key']}")).status_code == 404:
        _check(await client.post("/v1/services", json=service), 201, 409)
    for spec in [*COMMITMENTS, *demo_services.commitments(datetime.now(UTC))]:
        await _load_commitment(client, spec)
    for spec in [*AGREEMENTS, demo_services.AGREEMENT_BODY]:
        await _load_agreement(client, spec)
    if kpi_targets:
        await _load_kpi_targets(client, datetime.now(UTC))


# The targets of document 003's six KPIs, the same for every department (docs/kpis.md): connection time in
# working days (at most), the rest as shares (at least)
KPI_TARGETS: dict[str, float] = {
    "connection_time": 15.0,
    "first_time_fix_rate": 0.95,
    "on_time_rate": 0.95,
    "complaint_first_time_resolution_rate": 0.9,
    "csat": 0.9,
    "commitment_fulfilment_rate": 0.95,
}


def _months_around(now: datetime) -> list[str]:
    """This month in UTC and in the organisation's zone (they differ on a month's edge)."""
    return sorted({m.strftime("%Y-%m") for m in (now, now.astimezone(ZoneInfo("Asia/Shanghai")))})


async def _load_kpi_targets(client: httpx.AsyncClient, now: datetime) -> None:
    """Each department's targets of the six KPIs for the demo's months (a target already set is kept)."""
    for period in _months_around(now):
        # one read first: a reload posts nothing (and stays well within the gateway's rate limit)
        listed = _check(await client.get("/v1/kpi-targets", params={"period": period, "limit": 500}), 200)
        have = {(t["kpi"], t["department"]) for t in listed["items"] if t.get("segment") is None}
        for department, _ in DEPARTMENTS:
            for kpi, target in KPI_TARGETS.items():
                if (kpi, department) in have:
                    continue
                body = {"kpi": kpi, "department": department, "period": period, "target": target}
                # no idempotency key: read first, a race is a 409, and a replayed key would answer 201 for a
                # target deleted since (the session's fuzz pass deletes some), leaving it missing
                _check(await client.post("/v1/kpi-targets", json=body), 201, 409)


async def demo_org_loaded(client: httpx.AsyncClient) -> bool:
    """True when the last step of the loader (the signed cloud SLA) is in place."""
    response = await client.get("/v1/agreements", params={"key": demo_services.AGREEMENT, "status": "signed"})
    return response.status_code == 200 and bool(response.json()["items"])
