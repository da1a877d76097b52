"""`make demo`: a month of a power-supply company's work orders through the gateway, then its reports.

    python -m pledge_dev.demo [--gateway URL] [--api-key KEY] [--days 30] [--seed 3] [--export FILE]

Loads the demo organisation (pledge_dev.demo_org), generates a month of realistic tickets — fault
repairs around the clock, 95598 call-centre orders, new connections counted in business days — with pauses
(some that stop the clock, some that do not), cancellations and events that arrive late and out of order;
pushes them to /v1/events/bulk and waits until evaluation-svc has judged them. Then the customer's side
(pledge_dev.demo_voice): complaints filed and handled through feedback-svc (their handling judged like any
work), CSAT/NPS answers, SERVQUAL responses and corrective actions. It prints the seven-state table, the
achievement per process and node (end to end apart), the rankings, the recommendations, the SLA review,
satisfaction by process and by the state the work ended in, the SERVQUAL gaps, the complaint figures and the
corrective actions. Deterministic for a given day and seed, so running it twice the same day changes nothing.
With `--export FILE` it loads the organisation and writes the month's events to FILE (NDJSON) instead of pushing
them: what a partner system would send, for `pledge events push FILE` (docs/partner-kit.md).
"""

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pledge_common.durations import parse_duration

from pledge_dev import demo_services
from pledge_dev.demo_notify import CONTACTS, load_demo_notify
from pledge_dev.demo_org import OM, SHANGHAI, load_demo_org
from pledge_dev.paths import DATA_DIR

CHUNK = 1000
Event = dict[str, Any]


@dataclass
class TicketFacts:
    """What the voice of the customer is about: one generated work order as it went."""

    source: str
    external_id: str
    process: str
    segment: str
    customer: str
    opened: datetime
    closed: datetime | None = None
    cancelled: bool = False
    slow: bool = False  # a step took its slow course, or the work waited for parts (a pause that counts)


@dataclass
class Story:
    """The generated month: events in the order a partner would send them, and what to expect."""

    events: list[Event] = field(default_factory=list)
    late: list[Event] = field(default_factory=list)
    node_runs: int = 0
    tickets: int = 0
    facts: list[TicketFacts] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    node: str
    minutes: tuple[float, float]  # typical wall-clock duration range
    slow: tuple[float, float]  # the occasional slow case
    slow_share: float


PROCESS_STEPS: dict[str, list[Step]] = {
    "fault-repair": [
        Step("dispatch", (3, 12), (15, 40), 0.06),
        Step("arrive", (15, 50), (60, 150), 0.12),
        Step("restore", (60, 220), (300, 700), 0.1),
    ],
    "call-centre-order": [
        Step("accept", (2, 14), (20, 50), 0.05),
        Step("handle", (120, 1500), (2900, 5000), 0.15),
        Step("reply", (30, 200), (300, 900), 0.1),
    ],
    "new-connection": [
        Step("accept", (60, 900), (1500, 2800), 0.1),
        Step("survey", (1440, 4 * 1440), (5 * 1440, 8 * 1440), 0.12),
        Step("design-approval", (2 * 1440, 6 * 1440), (8 * 1440, 14 * 1440), 0.2),
        Step("construction", (10 * 1440, 20 * 1440), (25 * 1440, 30 * 1440), 0.15),
        Step("connection", (1440, 3 * 1440), (4 * 1440, 7 * 1440), 0.1),
    ],
    "complaint-handling": [
        Step("acknowledge", (5, 40), (60, 150), 0.1),
        Step("resolve", (40, 300), (500, 3000), 0.15),
    ],
}
# complaints are not pushed as events: they are filed through feedback-svc (pledge_dev.demo_voice), which
# opens their complaint-handling tickets in tracking-svc
PER_DAY = {"fault-repair": 24, "call-centre-order": 14, "new-connection": 3}
SOURCES = {"fault-repair": "field-app", "call-centre-order": "cc-95598", "new-connection": "crm"}


def _segment(process: str, rng: random.Random) -> str:
    if process == "complaint-handling":
        return rng.choices(["simple", "general", "major"], [6, 3, 1])[0]
    return rng.choices(["vip", "enterprise", "residential"], [1, 2, 7])[0]


def _opened_at(day: datetime, process: str, rng: random.Random) -> datetime:
    """Faults come at any hour (more by day); paperwork arrives in office hours."""
    if process == "fault-repair":
        hour = rng.choices(range(24), [1] * 7 + [3] * 12 + [2] * 5)[0]
    else:
        hour = rng.choice([9, 9, 10, 10, 11, 14, 15, 16, 17])
    local = day.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))
    return local.astimezone(UTC)


def generate(now: datetime, days: int, seed: int) -> Story:
    rng = random.Random(f"{seed}-{now.date().isoformat()}")
    story = Story()
    first_day = (now.astimezone(SHANGHAI) - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    tag = now.astimezone(SHANGHAI).strftime("%Y%m%d")
    n = 0
    for d in range(days + 1):
        day = first_day + timedelta(days=d)
        for process, per_day in PER_DAY.items():
            for _ in range(rng.randint(per_day // 2, per_day + per_day // 2)):
                n += 1
                opened = _opened_at(day, process, rng)
                if opened >= now:
                    continue
                story.tickets += 1
                # each work order draws from its own generator: one that ends sooner because `now` is earlier
                # changes no other, so a later run the same day sends the same events (and the ones due since)
                _ticket(story, f"DEMO-{tag}-{n:05d}", process, opened, now, random.Random(f"{seed}-{tag}-{n}"))
    return story


def _ticket(story: Story, external_id: str, process: str, opened: datetime, now: datetime, rng: random.Random) -> None:
    segment = _segment(process, rng)
    customer = "hengda-steel" if segment == "enterprise" and rng.random() < 0.3 else f"cust-{rng.randrange(4000):04d}"
    ticket = {"external_id": external_id, "process": process, "segment": segment, "customer": customer}
    source = SOURCES[process]
    facts = TicketFacts(source, external_id, process, segment, customer, opened)
    story.facts.append(facts)
    seq = iter(range(1000))

    def event(type_: str, at: datetime, **extra: Any) -> Event | None:
        if at >= now:
            return None
        e = {"event_id": f"{external_id}-{next(seq)}", "type": type_, "occurred_at": at.isoformat(),
             "source": source, "ticket": ticket, **extra}  # fmt: skip
        # a few events reach us late, after the ones that follow them
        (story.late if rng.random() < 0.03 else story.events).append(e)
        return e

    event("ticket.opened", opened)
    cancel_at_step = rng.randrange(len(PROCESS_STEPS[process])) if rng.random() < 0.04 else None
    at = opened + timedelta(seconds=rng.randrange(5, 90))
    for i, step in enumerate(PROCESS_STEPS[process]):
        slow = rng.random() < step.slow_share
        facts.slow = facts.slow or slow
        low, high = step.slow if slow else step.minutes
        if segment == "vip":
            low, high = low * 0.6, high * 0.6
        work = timedelta(minutes=rng.uniform(low, high))
        if event("node.started", at, node=step.node) is None:
            return
        story.node_runs += 1
        if cancel_at_step == i:
            cancelled = at + work / 3
            event("node.cancelled", cancelled, node=step.node, reason="customer withdrew")
            event("ticket.cancelled", cancelled + timedelta(seconds=30), reason="customer withdrew")
            facts.cancelled = True
            return
        end = at + work
        if rng.random() < 0.12 and step.node not in ("dispatch", "accept", "acknowledge"):
            # waiting for the customer stops the clock; waiting for parts does not
            reason = rng.choice(["awaiting-customer", "awaiting-customer", "awaiting-parts"])
            facts.slow = facts.slow or reason == "awaiting-parts"
            pause_start = at + work / 4
            pause = timedelta(minutes=rng.uniform(60, 60 * 20))
            event("node.paused", pause_start, node=step.node, reason=reason)
            event("node.resumed", pause_start + pause, node=step.node)
            end += pause
        if event("node.completed", end, node=step.node) is None:
            return
        at = end + timedelta(seconds=rng.randrange(10, 600))
    if event("ticket.closed", at) is not None:
        facts.closed = at


def write_ndjson(story: Story, path: Path) -> int:
    """The month's events as a partner would send them, one JSON object a line (the late ones last)."""
    with path.open("w", encoding="utf-8") as out:
        for event in story.events + story.late:
            out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
    return len(story.events) + len(story.late)


# --- talking to the gateway ---------------------------------------------------------------------------


def _api_key(given: str | None) -> str | None:
    if given:
        return given
    if os.environ.get("PLEDGE_API_KEY"):
        return os.environ["PLEDGE_API_KEY"]
    stored = DATA_DIR / "admin-key"
    return stored.read_text().strip() if stored.exists() else None


def _chunks(items: list[Event], size: int) -> Iterator[list[Event]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


async def push(client: httpx.AsyncClient, events: list[Event]) -> tuple[int, int, int, list[str]]:
    accepted = duplicates = rejected = 0
    reasons: list[str] = []
    for chunk in _chunks(events, CHUNK):
        response = await client.post("/v1/events/bulk", json=chunk, timeout=120)
        if response.status_code != 200:
            raise SystemExit(f"/v1/events/bulk answered {response.status_code}: {response.text[:500]}")
        body = response.json()
        accepted += body["accepted"]
        duplicates += body["duplicates"]
        rejected += body["rejected"]
        for item in body.get("items") or ():
            if item.get("status") == "rejected" and len(reasons) < 5:
                reasons.append(str(item))
    return accepted, duplicates, rejected, reasons


async def wait_for_evaluation(client: httpx.AsyncClient, period: dict[str, str], expected: int) -> int:
    """Poll the status report until evaluation-svc has every run (or the count stops moving)."""
    last, stable, deadline = -1, 0, time.monotonic() + 180
    while time.monotonic() < deadline:
        response = await client.get("/v1/reports/status", params={**period, "group_by": "process", "scope": "node"})
        total = sum(r["total"] for r in response.json()["rows"]) if response.status_code == 200 else 0
        if total >= expected:
            return total
        stable = stable + 1 if total == last and total > 0 else 0
        if stable >= 15:
            return total
        last = total
        print(f"\r  evaluation has judged {total} of {expected} node runs…", end="", flush=True)
        await asyncio.sleep(1)
    return last


# --- printing -----------------------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[Any]], title: str) -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print(
        "  "
        + "  ".join(h.ljust(w) if i < 2 else h.rjust(w) for i, (h, w) in enumerate(zip(headers, widths, strict=True)))
    )
    print("  " + "  ".join("─" * w for w in widths))
    for r in cells:
        print(
            "  "
            + "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        )


def pct(rate: dict[str, Any]) -> str:
    return "—" if rate["share"] is None else f"{rate['share']:.0%}"


def interval(rate: dict[str, Any]) -> str:
    return "" if not rate["interval"] else f"{rate['interval'][0]:.0%}-{rate['interval'][1]:.0%}"


def duration(iso: str | None) -> str:
    if not iso:
        return "—"
    td = parse_duration(iso)
    hours, rest = divmod(int(td.total_seconds()), 3600)
    days, hours = divmod(hours, 24)
    minutes = rest // 60
    return f"{days}d{hours:02d}h" if days else f"{hours}h{minutes:02d}" if hours else f"{minutes}min"


STATE_COLUMNS = [
    ("completed_normal", "done·ok"),
    ("completed_acceptable", "done·late"),
    ("completed_warning", "done·WARN"),
    ("in_progress_normal", "open·ok"),
    ("in_progress_acceptable", "open·late"),
    ("in_progress_warning", "open·WARN"),
    ("cancelled", "cancelled"),
]


async def print_reports(client: httpx.AsyncClient, period: dict[str, str]) -> None:
    status = (await client.get("/v1/reports/status", params=period)).json()
    rows = [
        [r["group"]["process"], r["group"]["node"] or "(end to end)", *(r["counts"][s] for s, _ in STATE_COLUMNS)]
        for r in status["rows"]
    ]
    table(["process", "node", *(c for _, c in STATE_COLUMNS)], rows,
          "① Seven states of every node run active this month, judged as of now (ok = within the commitment "
          "limit, late = within the tolerance, WARN = beyond it)")  # fmt: skip

    achievement = (await client.get("/v1/reports/achievement", params=period)).json()
    rows = []
    for g in achievement["groups"]:
        d = g["counted_duration"]
        rows.append([g["group"]["process"], g["group"]["node"] or "(end to end)", g["judged"], pct(g["normal"]),
                     interval(g["normal"]), pct(g["acceptable"]), pct(g["warning"]), duration(d["median"]),
                     duration(d["p90"])])  # fmt: skip
    table(["process", "node", "runs", "achieved", "95% CI", "late", "WARN", "median", "P90"], rows,
          "② Achievement this month: share of runs within the commitment limit (counted time: business "
          "calendar, allowed pauses removed)")  # fmt: skip

    ranking = (await client.get("/v1/reports/rankings", params={**period, "min_sample": 30})).json()
    rows = [
        [g["rank"], g["name"] or g["key"], g["judged"], pct(g["normal"]), interval(g["normal"])]
        for g in ranking["ranked"]
    ]
    table(["#", "department", "runs", "achieved", "95% CI"], rows, "③ Departments ranked by achievement")

    recs = (await client.get("/v1/recommendations", params=period)).json()
    rows = [
        [r["commitment"], r["recommendation"].upper(), r["judged"], pct(r["achievement"]),
         interval(r["achievement"]), f"{r['commitment_limit']}/{r['tolerance_limit']}",
         f"{duration(r['suggested_commitment_limit'])}/{duration(r['suggested_tolerance_limit'])}"]
        for r in recs["items"]
        if r["recommendation"] != "keep"
    ]  # fmt: skip
    table(["commitment", "advice", "runs", "achieved", "95% CI", "now (c/t)", "data says (P90/P98)"], rows,
          f"④ Recommendations: raise when ≥ {recs['raise_at']:.0%}, improve when ≤ {recs['improve_at']:.0%}, "
          f"at least {recs['min_sample']} runs")  # fmt: skip

    review_response = await client.get("/v1/reports/agreements/sla-hengda-steel", params=period)
    if review_response.status_code == 200:
        review = review_response.json()
        rows = [[c["commitment"], c["judged"], pct(c["normal"]), f"{c['target_rate']:.0%}",
                 {True: "met", False: "MISSED", None: "—"}[c["met"]], c["relieved_by_exemptions"]]
                for c in review["commitments"]]  # fmt: skip
        table(["commitment", "runs", "achieved", "target", "", "relieved"], rows,
              f"⑤ SLA review: {review['agreement']['title']}")  # fmt: skip
        totals = ", ".join(f"{v} {k}" for k, v in review["totals"].items()) or "none"
        print(f"  penalties due: {totals} ({len(review['penalties'])} items)")

    alerts = (await client.get("/v1/alerts", params={"state": "open", "limit": 500})).json()["items"]
    by_level: dict[str, int] = {}
    for a in alerts:
        by_level[a["level"]] = by_level.get(a["level"], 0) + 1
    print(f"\n⑥ Open alerts (latest 500): {by_level or 'none'} — list them at /v1/alerts, subscribe at /v1/webhooks")


async def run(gateway: str, api_key: str | None, days: int, seed: int, export: Path | None = None) -> None:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(base_url=gateway, headers=headers, timeout=60) as client:
        try:
            ready = await client.get("/readyz")
        except httpx.HTTPError:
            raise SystemExit(f"nothing answers at {gateway}: start the suite first with `make run`") from None
        if ready.status_code != 200:
            raise SystemExit(f"{gateway}/readyz answered {ready.status_code}: {ready.text[:300]}")
        print("Loading the demo organisation (departments, calendar, processes, commitments, SLA/OLA)…")
        await load_demo_org(client)
        await load_demo_notify(client)
        print(f"  notifications: prewarnings and warnings of {OM} by email to {CONTACTS[0]['email']} (escalated to"
              f" {CONTACTS[1]['email']} after 30 min), its status table monthly; see docs/notifications.md to read"
              " them locally")  # fmt: skip
        now = datetime.now(UTC).replace(microsecond=0)
        story = generate(now, days, seed)
        if export is not None:
            written = write_ndjson(story, export)
            print(f"Wrote {written} events of {story.tickets} tickets to {export}; push them with `pledge events push`")
            return
        print(f"Pushing {len(story.events) + len(story.late)} events of {story.tickets} tickets "
              f"({len(story.late)} of them late, out of order)…")  # fmt: skip
        accepted, duplicates, rejected, reasons = await push(client, story.events)
        late = await push(client, story.late)
        print(f"  accepted {accepted + late[0]}, already known {duplicates + late[1]}, rejected {rejected + late[2]}")
        for reason in reasons + late[3]:
            print(f"  rejected: {reason[:200]}")
        start = (now - timedelta(days=days)).astimezone(SHANGHAI).replace(hour=0, minute=0, second=0)
        period = {"from": start.isoformat(), "to": (now + timedelta(seconds=1)).isoformat()}
        # the customer's side is built from this month's story (demo_voice imports this module)
        from pledge_dev.demo_voice import (
            add_knowledge,
            answer_surveys,
            file_complaints,
            generate_voice,
            give_feedback,
            print_voice,
            take_actions,
        )

        judged = await wait_for_evaluation(client, period, story.node_runs)  # a quieter suite for what follows
        print(f"\r  evaluation has judged {judged} node runs.{' ' * 20}")
        tag = now.astimezone(SHANGHAI).strftime("%Y%m%d")
        voice = generate_voice(story, now, days, seed, tag)
        print(f"Filing {len(voice.complaints)} complaints through feedback-svc, {len(voice.feedback)} CSAT/NPS answers,"
              f" {len(voice.responses)} SERVQUAL responses…")  # fmt: skip
        filed, known = await file_complaints(client, voice)
        given, answered = await give_feedback(client, voice)
        surveyed = await answer_surveys(client, voice)
        print(f"  complaints filed {filed} (already there {known}), feedback given {given} (already there"
              f" {answered}), SERVQUAL responses {surveyed or 'already there'}")  # fmt: skip
        judged = await wait_for_evaluation(client, period, story.node_runs + voice.complaint_node_runs)
        print(f"\r  evaluation has judged {judged} node runs.{' ' * 20}")
        actions = await take_actions(client, voice, now, tag)
        print(f"  corrective actions opened: {actions or 'already there'}")
        practices, risks = await add_knowledge(client)
        print(f"  practices added {practices}, risk points added {risks} (0: already there)")
        await print_reports(client, period)
        await print_voice(client, period, table)
        facts = demo_services.generate_facts(now, days)
        print(f"\nSending {len(facts)} facts of the cloud platform (outages, backups, the training)…")
        sent = await demo_services.send_facts(client, facts)
        print("  accepted {}, already known {}, rejected {}".format(*sent))
        await asyncio.sleep(2)  # evaluation reads them from tracking-svc's feed
        await demo_services.print_services(client, period, table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pledge_dev.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateway", default=os.environ.get("PLEDGE_GATEWAY_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--api-key", default=None, help="default: $PLEDGE_API_KEY, else .data/admin-key")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--export", type=Path, default=None, help="write the events to this NDJSON file, push nothing")
    args = parser.parse_args(argv)
    try:
        asyncio.run(run(args.gateway, _api_key(args.api_key), args.days, args.seed, args.export))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
