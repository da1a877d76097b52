"""The customer's side of the demo month, through feedback-svc: complaints, CSAT/NPS, SERVQUAL, corrective actions.

Generated from the month's work orders (pledge_dev.demo): customers answer after their ticket closed, those
whose work went slowly less happily; complaints are filed through `/v1/complaints` (feedback-svc opens their
complaint-handling tickets in tracking-svc, so their handling is judged like any work) and walked through
their workflow at the instants they happened; SERVQUAL responses spread over the month, reliability the
widest gap for households; corrective actions follow the complaints and the gap. Deterministic for a day
and seed; what exists is not filed again, so running it twice the same day changes nothing.
"""

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from pledge_dev.demo import PROCESS_STEPS, Story, TicketFacts
from pledge_dev.demo_org import SHANGHAI

CONCURRENCY = 4
SERVQUAL = "servqual-22"
# mean gap (perception - expectation) per dimension and segment: households find reliability and
# responsiveness lacking, enterprises less so, VIP customers least
GAPS = {
    "residential": {"tangibles": -0.3, "reliability": -1.6, "responsiveness": -1.1, "assurance": -0.5, "empathy": -0.8},
    "enterprise": {"tangibles": -0.2, "reliability": -0.9, "responsiveness": -0.7, "assurance": -0.3, "empathy": -0.4},
    "vip": {"tangibles": 0.0, "reliability": -0.5, "responsiveness": -0.3, "assurance": -0.1, "empathy": -0.2},
}
CATEGORY = {"fault-repair": "outage", "call-centre-order": "service-attitude", "new-connection": "connection-delay"}
ROOT_CAUSE = {"outage": "crew-capacity", "service-attitude": "agent-training", "connection-delay": "design-backlog",
              "billing": "billing-system"}  # fmt: skip
OWNERS = ["customer-service", "customer-service", "marketing"]
PEOPLE = ["li.na", "wang.fang", "zhang.wei", "liu.yang", "chen.jing"]


@dataclass
class Complaint:
    """One complaint as it happened: filed, perhaps transferred, then the workflow steps reached before now."""

    body: dict[str, Any]
    steps: list[tuple[str, dict[str, Any]]]  # ("transfer" | "transition", body), in time order
    about: TicketFacts | None = None  # the work order it is about
    id: str | None = None


@dataclass
class Voice:
    complaints: list[Complaint] = field(default_factory=list)
    feedback: list[tuple[TicketFacts, dict[str, Any]]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    complaint_node_runs: int = 0


def _minutes(rng: random.Random, process: str, node: str) -> timedelta:
    step = next(s for s in PROCESS_STEPS[process] if s.node == node)
    low, high = step.slow if rng.random() < step.slow_share else step.minutes
    return timedelta(minutes=rng.uniform(low, high))


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).replace(microsecond=0).isoformat()


def generate_voice(story: Story, now: datetime, days: int, seed: int, tag: str) -> Voice:
    # every answer, complaint and response draws from its own generator (as each work order does), so that a
    # later run the same day, with more of the month behind it, makes the same ones and adds what is due since
    voice = Voice()
    # CSAT / NPS: a third of the closed work orders get an answer, a few hours to a day after closing
    for facts in story.facts:
        rng = random.Random(f"{seed}-{tag}-feedback-{facts.external_id}")
        if facts.closed is None or facts.cancelled or rng.random() >= 0.35:
            continue
        given = facts.closed + timedelta(minutes=rng.uniform(30, 30 * 60))
        if given >= now:
            continue
        csat = rng.choice([1, 2, 3, 3, 4] if facts.slow else [3, 4, 4, 4, 5, 5, 5, 5])
        nps = rng.choice([2, 5, 6, 7, 8] if facts.slow else [6, 8, 9, 9, 10])
        channel = "app" if facts.source == "field-app" else "sms"
        voice.feedback.append((facts, {"csat": csat, "nps": nps, "channel": channel, "given_at": _iso(given)}))
    # complaints: one to three a day, most about a work order that went slowly
    first_day = (now.astimezone(SHANGHAI) - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    by_day: dict[date, list[TicketFacts]] = {}
    for facts in story.facts:
        by_day.setdefault(facts.opened.astimezone(SHANGHAI).date(), []).append(facts)
    earlier: list[dict[str, Any]] = []
    n = 0
    for d in range(days + 1):
        day = first_day + timedelta(days=d)
        for k in range(random.Random(f"{seed}-{tag}-complaints-{d}").choice([1, 1, 2, 2, 3])):
            rng = random.Random(f"{seed}-{tag}-complaint-{d}-{k}")
            n += 1
            severity = rng.choices(["simple", "general", "major"], [6, 3, 1])[0]
            received = (
                day + timedelta(hours=rng.choice([9, 10, 11, 14, 15, 16]), minutes=rng.randrange(60))
            ).astimezone(UTC)
            if received >= now:
                continue
            candidates = [f for f in by_day.get(day.date(), []) if f.opened < received]
            slow = [f for f in candidates if f.slow]
            about = rng.choice(slow or candidates) if candidates and rng.random() < 0.6 else None
            body: dict[str, Any]
            if about is not None:  # its ticket_id is tracking-svc's id, looked up when filing
                body = {"customer": about.customer, "category": CATEGORY[about.process]}
            elif earlier and rng.random() < 0.2:  # the same customer complains again about the same thing
                repeated = rng.choice(earlier)
                body = {"customer": repeated["customer"], "category": repeated["category"]}
            else:
                process = rng.choices(list(CATEGORY), [24, 14, 3])[0]  # as many as the work orders
                body = {"customer": f"cust-{rng.randrange(4000):04d}", "process": process,
                        "category": rng.choice([CATEGORY[process], "billing"])}  # fmt: skip
            body |= {
                "channel": rng.choice(["phone", "phone", "web", "counter", "regulator"]),
                "severity": severity,
                "description": f"{body['category'].replace('-', ' ')} (demo complaint {n} of {tag})",
                "received_by": {"department": rng.choice(OWNERS), "person": rng.choice(PEOPLE)},
                "received_at": _iso(received),
            }
            earlier.append(body)
            voice.complaints.append(_complaint(rng, body, received, now, about))
            voice.complaint_node_runs += 1 + int(
                any(s[1].get("to") == "acknowledged" for s in voice.complaints[-1].steps)
            )
    # SERVQUAL: four responses a day on average, from the three customer segments
    for i in range(4 * days):
        rng = random.Random(f"{seed}-{tag}-servqual-{i}")
        at = first_day + timedelta(days=rng.uniform(0, days), hours=rng.uniform(9, 18))
        if at >= now:
            continue
        segment = rng.choices(["residential", "enterprise", "vip"], [7, 2, 1])[0]
        voice.responses.append(_servqual(rng, f"DEMO-{tag}-S{i + 1:03d}", segment, at))
    return voice


def _complaint(
    rng: random.Random, body: dict[str, Any], received: datetime, now: datetime, about: TicketFacts | None
) -> Complaint:
    person = body["received_by"]["person"]
    at = received
    planned: list[tuple[str, dict[str, Any]]] = []
    if rng.random() < 0.25:  # handed on to the department that can act on it: no first-contact resolution
        at += timedelta(minutes=rng.uniform(3, 20))
        planned.append(("transfer", {"to": {"department": "operations-maintenance"}, "by": person, "at": at,
                                     "reason": "needs the repair crews"}))  # fmt: skip
    acknowledge = _minutes(rng, "complaint-handling", "acknowledge")
    if body["severity"] == "simple":  # the hotline picks simple complaints up first
        acknowledge *= 0.5
    at = received + acknowledge + (at - received)
    planned.append(("transition", {"to": "acknowledged", "by": person, "at": at, "reason": "called the customer back"}))
    resolve = _minutes(rng, "complaint-handling", "resolve")
    if body["severity"] == "simple":  # most are answered on the phone
        resolve *= 0.4
    elif body["severity"] == "major":
        resolve *= 6
    if rng.random() < 0.15:
        at += resolve / 2
        planned.append(("transition", {"to": "investigating", "by": person, "at": at, "reason": "site visit"}))
        resolve /= 2
    at += resolve
    root = ROOT_CAUSE[body["category"]]
    planned.append(("transition", {"to": "resolved", "by": person, "at": at, "resolution": "explained and fixed",
                                   "root_cause": root}))  # fmt: skip
    at += timedelta(hours=rng.uniform(0.5, 6) if body["severity"] == "simple" else rng.uniform(2, 48))
    planned.append(("transition", {"to": "closed", "by": person, "at": at, "customer_confirmed": True}))
    steps = [(kind, step | {"at": _iso(step["at"])}) for kind, step in planned if step["at"] < now]
    return Complaint(body, steps, about)


def _servqual(rng: random.Random, ref: str, segment: str, at: datetime) -> dict[str, Any]:
    return {"respondent_ref": ref, "segment": segment, "responded_at": _iso(at), "gaps": GAPS[segment],
            "seed": rng.random()}  # fmt: skip


def _answers(items: list[dict[str, Any]], response: dict[str, Any]) -> dict[str, Any]:
    rng = random.Random(response["seed"])
    answers = []
    for item in items:
        if rng.random() < 0.03:
            answers.append({"item": item["key"], "skipped": True})
            continue
        expectation = rng.choice([6, 6, 7, 7, 7])
        gap = response["gaps"][item["dimension"]] + rng.uniform(-0.8, 0.8)
        answers.append({"item": item["key"], "expectation": expectation,
                        "perception": max(1, min(7, round(expectation + gap)))})  # fmt: skip
    reliability = rng.randrange(25, 41)
    responsiveness = rng.randrange(15, 31)
    rest = 100 - reliability - responsiveness
    importance = {"reliability": reliability, "responsiveness": responsiveness, "tangibles": rest // 4,
                  "assurance": rest // 4, "empathy": rest - 2 * (rest // 4)}  # fmt: skip
    return {"respondent_ref": response["respondent_ref"], "segment": response["segment"],
            "responded_at": response["responded_at"], "answers": answers, "importance": importance}  # fmt: skip


# --- talking to feedback-svc through the gateway ----------------------------------------------------------


def _ok(response: httpx.Response, *expected: int) -> Any:
    if response.status_code not in expected:
        raise SystemExit(
            f"{response.request.method} {response.request.url.path} answered {response.status_code}:"
            f" {response.text[:500]}"
        )
    return response.json() if response.content else None


RETRIES = 4


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any], *expected: int) -> httpx.Response:
    """POST, again after a pause while the suite is too busy to answer in time (502/503/504)."""
    for attempt in range(RETRIES):
        response = await client.post(path, json=body)
        if response.status_code not in (502, 503, 504) or attempt == RETRIES - 1:
            break
        await asyncio.sleep(2 * (attempt + 1))
    _ok(response, *expected)
    return response


async def _gather(jobs: list[Callable[[], Awaitable[None]]]) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(job: Callable[[], Awaitable[None]]) -> None:
        async with gate:
            await job()

    await asyncio.gather(*(one(j) for j in jobs))


async def file_complaints(client: httpx.AsyncClient, voice: Voice) -> tuple[int, int]:
    """File each complaint not filed yet and walk it to where it got; (filed now, found already)."""
    counts = [0, 0]
    ids = await ticket_ids(client, [c.about for c in voice.complaints if c.about is not None])

    async def walk(c: Complaint) -> None:
        received = datetime.fromisoformat(c.body["received_at"])
        window = {"customer": c.body["customer"], "from": _iso(received),
                  "to": _iso(received + timedelta(seconds=1))}  # fmt: skip
        found = _ok(await client.get("/v1/complaints", params=window), 200)["items"]
        if found:
            c.id = found[0]["id"]
            counts[1] += 1
        else:
            about = ids.get((c.about.source, c.about.external_id)) if c.about is not None else None
            body = c.body | ({"ticket_id": about} if about else {})
            c.id = (await _post(client, "/v1/complaints", body, 201)).json()["id"]
            counts[0] += 1
        for kind, step in c.steps:
            # read where it is before each step: a step answered late (504) may have been made all the same
            current = _ok(await client.get(f"/v1/complaints/{c.id}"), 200)
            if kind == "transfer":
                if current["transfers"] == 0:
                    await _post(client, f"/v1/complaints/{c.id}/transfers", step, 200, 201, 409, 422)
            elif datetime.fromisoformat(step["at"]) > max(datetime.fromisoformat(t["at"]) for t in current["history"]):
                await _post(client, f"/v1/complaints/{c.id}/transitions", step, 200, 409, 422)

    await _gather([lambda c=c: walk(c) for c in voice.complaints])  # type: ignore[misc]
    return counts[0], counts[1]


async def ticket_ids(client: httpx.AsyncClient, tickets: list[TicketFacts]) -> dict[tuple[str, str], str]:
    """tracking-svc's id of each of these work orders, read page by page per process."""
    wanted = {(f.source, f.external_id) for f in tickets}
    ids: dict[tuple[str, str], str] = {}
    for process in sorted({f.process for f in tickets}):
        params: dict[str, Any] = {"process": process, "limit": 500}
        while True:
            page = _ok(await client.get("/v1/tickets", params=params), 200)
            for t in page["items"]:
                if (t["source"], t["external_id"]) in wanted:
                    ids[(t["source"], t["external_id"])] = t["id"]
            if not page["next_cursor"] or wanted <= ids.keys():
                break
            params["cursor"] = page["next_cursor"]
    return ids


async def give_feedback(client: httpx.AsyncClient, voice: Voice) -> tuple[int, int]:
    ids = await ticket_ids(client, [f for f, _ in voice.feedback])
    counts = [0, 0]

    async def give(facts: TicketFacts, body: dict[str, Any]) -> None:
        ticket_id = ids.get((facts.source, facts.external_id))
        if ticket_id is None:
            return
        response = await _post(client, "/v1/feedback", {"ticket_id": ticket_id, **body}, 201, 409)
        counts[0 if response.status_code == 201 else 1] += 1

    await _gather([lambda f=f, b=b: give(f, b) for f, b in voice.feedback])  # type: ignore[misc]
    return counts[0], counts[1]


async def answer_surveys(client: httpx.AsyncClient, voice: Voice) -> int:
    """Post the SERVQUAL responses, unless the first of them is there already (an earlier run today)."""
    if not voice.responses:
        return 0
    first = datetime.fromisoformat(voice.responses[0]["responded_at"])
    window = {"from": _iso(first), "to": _iso(first + timedelta(seconds=1)), "group_by": "none"}
    already = _ok(await client.get(f"/v1/surveys/{SERVQUAL}/results", params=window), 200)
    if any(g["responses"] for g in already["groups"]):
        return 0
    items = _ok(await client.get(f"/v1/surveys/{SERVQUAL}"), 200)["items"]

    async def answer(response: dict[str, Any]) -> None:
        await _post(client, f"/v1/surveys/{SERVQUAL}/responses", _answers(items, response), 201)

    await _gather([lambda r=r: answer(r) for r in voice.responses])  # type: ignore[misc]
    return len(voice.responses)


async def take_actions(client: httpx.AsyncClient, voice: Voice, now: datetime, tag: str) -> int:
    """Corrective actions for the month: one done today, one under way, one overdue."""
    existing = _ok(await client.get("/v1/corrective-actions", params={"limit": 500}), 200)["items"]
    titles = {a["title"] for a in existing}
    outages = [c.id for c in voice.complaints if c.body["category"] == "outage" and c.id][:5]
    # an action's steps cannot be dated before it was recorded (now): the done one is done today, so its
    # effect shows the weeks before it and nothing after yet
    plans: list[tuple[dict[str, Any], list[str]]] = [
        (
            {"title": f"Second repair crew on night shift ({tag})", "owner_department": "operations-maintenance",
             "description": "outage complaints pile up at night: a second crew on call from 22:00 to 06:00",
             "due_date": (now - timedelta(days=7)).date().isoformat(), "process": "fault-repair",
             "node": "restore", "effectiveness_weeks": 2,
             "links": [{"kind": "complaint", "ref": i} for i in outages] or
                      [{"kind": "survey_gap", "ref": f"{SERVQUAL}:reliability"}]},
            ["in_progress", "done"],
        ),
        (
            {"title": f"Call back within the promised time ({tag})", "owner_department": "customer-service",
             "description": "SERVQUAL: households rate reliability lowest; agents confirm a call-back time and keep it",
             "due_date": (now + timedelta(days=30)).date().isoformat(), "process": "call-centre-order",
             "node": "reply", "links": [{"kind": "survey_gap", "ref": f"{SERVQUAL}:reliability"}]},
            ["in_progress"],
        ),
        (
            {"title": f"Clear the design-approval backlog ({tag})", "owner_department": "development-planning",
             "description": "new connections wait longest at design approval",
             "due_date": (now - timedelta(days=3)).date().isoformat(), "process": "new-connection",
             "node": "design-approval", "links": [{"kind": "recommendation", "ref": "nc-design-approval"}]},
            [],
        ),
    ]  # fmt: skip
    created = 0
    for body, transitions in plans:
        if body["title"] in titles:
            continue
        action = _ok(await client.post("/v1/corrective-actions", json=body), 201)
        created += 1
        for to in transitions:
            step = {"to": to, "by": "quality-manager"}
            _ok(await client.post(f"/v1/corrective-actions/{action['id']}/transitions", json=step), 200)
    return created


PRACTICES: list[dict[str, Any]] = [
    {"title": "夜间抢修双班 Second night crew for outages", "tags": ["抢修", "复电"],
     "body": "抢修一次性复电率低的时段集中在夜间: 22:00-06:00 安排第二个抢修班待命, 故障定位后带齐备件出车。"
             " Outage complaints pile up at night: a second crew on call, spare parts checked before leaving.",
     "processes": ["fault-repair"], "nodes": ["restore", "arrive"], "root_causes": ["crew-capacity"]},
    {"title": "出账前比对扣款流水 Compare debit runs before billing", "tags": ["电费", "账单"],
     "body": "重复扣款投诉源于账单系统重跑: 出账前比对最近两次扣款流水, 差异由营销部复核。",
     "processes": ["call-centre-order"], "nodes": ["handle"], "root_causes": ["billing-system"]},
    {"title": "首问负责回访话术 First-receiver call-back script", "tags": ["服务态度", "首问负责"],
     "body": "坐席在受理时约定回电时间并按时回电; 班长每周抽听十通录音。",
     "processes": ["call-centre-order", "complaint-handling"], "nodes": ["reply", "acknowledge"],
     "root_causes": ["agent-training"]},
]  # fmt: skip
RISK_POINTS: list[dict[str, Any]] = [
    {"title": "抢修工单派单延误 Repair orders dispatched late", "level": "high", "process": "fault-repair",
     "node": "dispatch", "owner": {"department": "dispatch-control", "person": "duty-dispatcher"},
     "controls": [{"description": "调度员每15分钟检查未派工单", "frequency": "every 15 minutes"},
                  {"description": "超时工单自动升级至值班长", "frequency": "every order"}],
     "kpis": ["first_time_fix_rate", "on_time_rate"]},
    {"title": "业扩设计审查积压 Design approvals pile up", "level": "medium", "process": "new-connection",
     "node": "design-approval", "owner": {"department": "development-planning"},
     "controls": [{"description": "周例会通报积压清单与责任人", "frequency": "weekly"}],
     "kpis": ["connection_time"]},
    {"title": "投诉转办信息不全 Complaints handed on without the facts", "level": "medium",
     "department": "customer-service", "owner": {"department": "customer-service", "person": "team-lead"},
     "controls": [{"description": "转办单必填诉求、时限、联系方式", "frequency": "every transfer"}],
     "kpis": ["complaint_first_time_resolution_rate", "csat"]},
]  # fmt: skip


async def add_knowledge(client: httpx.AsyncClient) -> tuple[int, int]:
    """The demo's practices and risk points (each once: skipped when one of the same title exists)."""
    practices = {p["title"] for p in _ok(await client.get("/v1/practices", params={"limit": 200}), 200)["items"]}
    risks = {r["title"] for r in _ok(await client.get("/v1/risk-points", params={"limit": 200}), 200)["items"]}
    added = (0, 0)
    for body in PRACTICES:
        if body["title"] not in practices:
            _ok(await client.post("/v1/practices", json=body), 201)
            added = (added[0] + 1, added[1])
    for body in RISK_POINTS:
        if body["title"] not in risks:
            _ok(await client.post("/v1/risk-points", json=body), 201)
            added = (added[0], added[1] + 1)
    return added


# --- printing -------------------------------------------------------------------------------------------


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:+.{digits}f}"


async def print_voice(client: httpx.AsyncClient, period: dict[str, str], table: Callable[..., None]) -> None:
    summary = _ok(await client.get("/v1/feedback/summary", params={**period, "group_by": "process"}), 200)
    rows = [[g["process"], g["responses"], _share(g["csat"]), "—" if g["nps"] is None else f"{g['nps']:+.0f}",
             g["promoters"], g["detractors"]] for g in summary["groups"]]  # fmt: skip
    t = summary["totals"]
    rows.append(["(all)", t["responses"], _share(t["csat"]), "—" if t["nps"] is None else f"{t['nps']:+.0f}",
                 t["promoters"], t["detractors"]])  # fmt: skip
    table(["process", "", "answers", "CSAT", "NPS", "promoters", "detractors"], [[r[0], "", *r[1:]] for r in rows],
          "⑦ Customer satisfaction this month (CSAT: share of 4-5 of 5; NPS: % promoters 9-10 minus %"
          " detractors 0-6)")  # fmt: skip

    by_state = _ok(await client.get("/v1/feedback/by-state", params={**period, "process": "fault-repair"}), 200)
    rows = [[g["state"], "", g["responses"], _share(g["csat"]), "—" if g["nps"] is None else f"{g['nps']:+.0f}"]
            for g in by_state["by_ticket_state"]]  # fmt: skip
    drops = ", ".join(f"{d['node']} from {d['counted_from']}" for d in by_state["satisfaction_drop"]
                      if d["counted_from"]) or "none"  # fmt: skip
    table(["worst node state", "", "answers", "CSAT", "NPS"], rows,
          "⑧ Fault repair: satisfaction by the worst state the ticket's nodes ended in")  # fmt: skip
    print(f"  CSAT falls under 80 %: {drops}")

    results = _ok(await client.get(f"/v1/surveys/{SERVQUAL}/results", params={**period, "group_by": "segment"}), 200)
    dimensions = ["tangibles", "reliability", "responsiveness", "assurance", "empathy"]
    rows = []
    for g in results["groups"]:
        gaps = {d["dimension"]: d["gap"] for d in g["dimensions"]}
        rows.append([g["segment"] or "(none)", "", g["responses"], *(_num(gaps.get(d)) for d in dimensions),
                     _num(g["servqual"], 2), _num(g["servqual_weighted"], 2)])  # fmt: skip
    table(["segment", "", "answers", *dimensions, "SERVQUAL", "weighted"], rows,
          "⑨ SERVQUAL this month: gap perception minus expectation per dimension (1-7 scale; negative: below"
          " expectations)")  # fmt: skip

    metrics = _ok(await client.get("/v1/complaints/metrics", params={**period, "group_by": "severity"}), 200)
    rows = [[g["severity"], "", g["received"], g["closed"], _share(g["closure_rate"]),
             _share(g["first_contact_resolution_rate"]), f"{g['on_time']}/{g['judged']}", _share(g["on_time_rate"]),
             g["repeats"]] for g in [*metrics["groups"], {**metrics["totals"], "severity": "(all)"}]]  # fmt: skip
    table(["severity", "", "received", "closed", "closure", "first-contact", "on time", "", "repeats"], rows,
          "⑩ Complaints filed this month (through feedback-svc; handling judged by evaluation-svc)")  # fmt: skip
    per_1000 = ", ".join(f"{p['process']} {p['per_1000_tickets']:.1f}" for p in metrics["per_1000_tickets"]
                         if p["per_1000_tickets"] is not None)  # fmt: skip
    print(f"  complaints per 1 000 tickets: {per_1000 or 'none'}")

    actions = _ok(await client.get("/v1/corrective-actions", params={"limit": 500}), 200)["items"]
    rows = []
    for a in actions[:10]:
        detail = _ok(await client.get(f"/v1/corrective-actions/{a['id']}"), 200)
        effect = detail.get("effectiveness") or {}
        change = ""
        if effect.get("available") and effect.get("before") and effect.get("after"):
            before, after = effect["before"], effect["after"]
            change = (f"{_share(before['achievement_rate'])} of {before['runs']} runs → "
                      f"{_share(after['achievement_rate'])} of {after['runs']}"
                      f"{'' if effect.get('after_complete') else ' so far'}")  # fmt: skip
        rows.append([a["title"][:48], a["owner_department"], a["status"], a["due_date"],
                     "OVERDUE" if a["overdue"] else "", change])  # fmt: skip
    table(["action", "owner", "status", "due", "", "achievement before → after"], rows,
          "⑪ Corrective actions (effect: achievement of the process/node before and after it was done)")  # fmt: skip
