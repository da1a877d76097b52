"""Alert latency: how long after a fact is accepted its alert is on `/v1/alerts`, the burn-rate page of an
outage beside the prewarning of a node run (the baseline), measured side by side on the same running suite.

    uv run python bench/alert_latency.py                # 20 of each, alternating
    uv run python bench/alert_latency.py --samples 50

A fresh database on the embedded Postgres and the whole suite as real processes (default settings: evaluation's
scanner ticks every EVALUATION_SCANNER_INTERVAL = 0.5 s when idle). Definitions through the gateway: a service
with an availability commitment covered at 99.9 % by a signed SLA, and a process with one node whose
commitment has a 1-minute limit (prewarning at 80 %). Then, alternately:
  (a) outage: `outage.started` 10 minutes ago on a fresh service → the burn over 5 min and 1 h is far past
      14.4 times the budget's rate → a `page` alert for that service;
  (b) baseline: a work order whose node started 10 minutes ago (past its 48 s prewarning) → a `prewarning`.
Each sample is the time from the accepted POST to the first GET /v1/alerts (polled every 20 ms) that lists
the alert. Both cross the same path: tracking's feed, evaluation's projection, its scanner.
"""

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pledge_dev.paths import DATA_DIR
from pledge_dev.pg import fresh_database
from pledge_dev.suite import running_suite

SERVICES = 60


def ok(response: httpx.Response, *expected: int) -> Any:
    if response.status_code not in (expected or (200, 201)):
        sys.exit(f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text}")
    return response.json() if response.content else None


async def activate(gw: httpx.AsyncClient, path: str, id_: str, final: str, **extra: Any) -> None:
    ok(await gw.post(f"{path}/{id_}/transitions", json={"to": "negotiating"}))
    ok(await gw.post(f"{path}/{id_}/transitions", json={"to": final, **extra}))


async def define(gw: httpx.AsyncClient, services: int) -> None:
    ok(await gw.put("/v1/departments/bench-ops", json={"name": "Bench ops", "positions": []}), 200, 201)
    for i in range(services):
        ok(await gw.post("/v1/services", json={"key": f"bench-svc-{i}", "name": f"Service {i}",
                                               "customer_ref": "bench", "owner_department": "bench-ops"}))  # fmt: skip
        c = ok(await gw.post("/v1/commitments", json={
            "key": f"bench-uptime-{i}", "kind": "availability", "service": f"bench-svc-{i}", "calendar": "24x7",
            "commitment_limit": "PT4H", "tolerance_limit": "PT8H", "owner_department": "bench-ops"}))  # fmt: skip
        await activate(gw, "/v1/commitments", c["id"], "active", effective_from="2026-01-01T00:00:00Z")
    sla = ok(await gw.post("/v1/agreements", json={
        "key": "bench-sla", "kind": "sla", "title": "Bench SLA", "provider": "bench-ops", "customer": "bench",
        "covers": [{"commitment_key": f"bench-uptime-{i}", "target_rate": 0.999} for i in range(services)],
    }))  # fmt: skip
    await activate(gw, "/v1/agreements", sla["id"], "signed")
    node = {"key": "fix", "name": "Fix", "department": "bench-ops", "position_key": None}
    ok(await gw.put("/v1/processes/bench", json={"name": "Bench", "owner_department": "bench-ops",
                                                 "nodes": [node]}), 200, 201)  # fmt: skip
    c = ok(await gw.post("/v1/commitments", json={"key": "bench-fix", "process": "bench", "node": "fix",
                                                   "commitment_limit": "PT1M", "tolerance_limit": "PT2M",
                                                   "calendar": "24x7"}))  # fmt: skip
    await activate(gw, "/v1/commitments", c["id"], "active", effective_from="2026-01-01T00:00:00Z")


async def until_listed(gw: httpx.AsyncClient, params: dict[str, str], match: Any, since: float) -> float:
    while time.perf_counter() - since < 120:
        items = (await gw.get("/v1/alerts", params={**params, "limit": "50"})).json().get("items", [])
        if any(match(a) for a in items):
            return time.perf_counter() - since
        await asyncio.sleep(0.02)
    sys.exit(f"no alert within 120 s for {params}")


async def outage_sample(gw: httpx.AsyncClient, i: int) -> float:
    began = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    fact = {"source": "bench", "external_id": f"o-{i}", "type": "outage.started", "service": f"bench-svc-{i}",
            "occurred_at": began, "outage_ref": f"o-{i}"}  # fmt: skip
    start = time.perf_counter()
    for _ in range(600):  # tracking learns the service over commitment's feed
        response = await gw.post("/v1/service-facts", json=fact)
        if response.status_code != 422:
            break
        await asyncio.sleep(0.1)
        start = time.perf_counter()
    ok(response)
    return await until_listed(gw, {"level": "page"}, lambda a: a["commitment"] == f"bench-uptime-{i}", start)


async def run_sample(gw: httpx.AsyncClient, i: int) -> float:
    number = f"B-{uuid.uuid4().hex[:8]}"
    at = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    ticket = {"external_id": number, "process": "bench"}
    opened = ok(await gw.post("/v1/events", json={"source": "bench", "event_id": f"{number}-0", "type": "ticket.opened",
                                                   "occurred_at": at, "ticket": ticket}))  # fmt: skip
    start = time.perf_counter()
    ok(await gw.post("/v1/events", json={"source": "bench", "event_id": f"{number}-1", "type": "node.started",
                                          "occurred_at": at, "ticket": ticket, "node": "fix"}))  # fmt: skip
    return await until_listed(gw, {"level": "prewarning", "process": "bench"},
                              lambda a: a["ticket_id"] == opened["ticket_id"], start)  # fmt: skip


def summary(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    return f"{name:<34} best {ms[0]:7.0f}  median {statistics.median(ms):7.0f}  p90 {p90:7.0f}  (ms, n={len(ms)})"


async def measure(gateway_url: str, key: str, samples: int) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as gw:
        await define(gw, samples)
        # warm both paths once (tracking learning the process and services; first queries)
        await run_sample(gw, -1)
        outages, runs = [], []
        for i in range(samples):
            outages.append(await outage_sample(gw, i))
            runs.append(await run_sample(gw, i))
    print(summary("burn-rate page after outage.started", outages))
    print(summary("prewarning after node.started", runs))
    print(f"ratio (median) outage ÷ node run: {statistics.median(outages) / statistics.median(runs):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    log_dir = DATA_DIR / "bench-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with fresh_database("test") as url, running_suite(url, log_dir=log_dir) as suite:
        assert suite.admin_key is not None
        asyncio.run(measure(suite.gateway_url, suite.admin_key, min(args.samples, SERVICES)))


if __name__ == "__main__":
    main()
