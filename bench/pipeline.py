"""Pipeline benchmark: node-run changes from tracking-svc's feed into evaluation-svc's read model, and the
latency of alerts with a million runs in progress — one run, one Postgres, the whole suite as processes.

    uv run python bench/pipeline.py                          # ~1 M node-run changes, 1 M open runs
    uv run python bench/pipeline.py --tickets 10000 --open-runs 100000   # a smaller run

(a) Projection vs ingest. A process of 5 nodes with a commitment per node (24x7) is defined through the
    gateway; --tickets work orders (bench/ingest.py's generator: pauses, 1 % out of order) are pushed to
    /v1/events/bulk. tracking-svc emits one `node_run.upserted` per change of a run; evaluation-svc's
    consumer pulls them, judges each run (governing version, due instants, counted time) and updates the
    rollups. Two phases of --tickets each: side by side (the projection consumes while ingest runs,
    both sharing the machine's cores), then each alone (evaluation-svc is stopped with SIGSTOP while
    ingest runs, then resumed to drain the backlog: the rate each has with the machine to itself, as
    when they run on their own nodes). Printed: ingest's rate of node-run changes beside the
    projection's, how long the projection trailed, and their ratio.
(b) Alert latency. --open-runs runs in progress are written straight into the read model, their due
    instants spread over the next 24 h, of which --due fall due within the next 30 s; the scanner of the
    running evaluation-svc raises them. Latency = alert recorded (raised_at) - due instant; p50 and p99
    (goal p99 ≤ 2 s).
"""

import argparse
import asyncio
import contextlib
import itertools
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import psutil
from pledge_common.outbox import PARTITION_SQL
from pledge_common.settings import to_plain_url
from pledge_dev.paths import DATA_DIR
from pledge_dev.suite import Suite

sys.path.insert(0, str(Path(__file__).parent))
from ingest import NODES, PROCESS, Target, bench_suite, day_of_events, define_process, post_bulk, write_bodies


async def define_commitments(client: httpx.AsyncClient, target: Target) -> None:
    headers = target.headers()
    since = (datetime.now(UTC) - timedelta(days=400)).isoformat()
    for node in NODES:
        body = {
            "key": f"bench-{node}",
            "process": PROCESS,
            "node": node,
            "commitment_limit": "PT1H",
            "tolerance_limit": "PT2H",
            "calendar": "24x7",
            "allowed_pause_reasons": ["awaiting-customer"],
        }
        response = await client.post(f"{target.base_url}/v1/commitments", json=body, headers=headers)
        if response.status_code != 201:
            raise RuntimeError(f"commitment: {response.status_code} {response.text[:300]}")
        cid = response.json()["id"]
        for transition in ({"to": "negotiating"}, {"to": "active", "effective_from": since}):
            r = await client.post(
                f"{target.base_url}/v1/commitments/{cid}/transitions", json=transition, headers=headers
            )
            if r.status_code != 200:
                raise RuntimeError(f"transition: {r.status_code} {r.text[:300]}")


async def projection_vs_ingest(suite: Suite, args: argparse.Namespace) -> None:
    target = Target(suite, direct=False, gateway_url=None, api_key=None)
    conn = await asyncpg.connect(to_plain_url(suite.database_url))
    async with httpx.AsyncClient(timeout=300) as client:
        await define_process(suite, target, client)
        await define_commitments(client, target)
        for _ in range(600):  # evaluation-svc has the commitments from commitment-svc's feed
            if (
                await conn.fetchval("SELECT count(*) FROM evaluation.ref_commitments WHERE process_key = $1", PROCESS)
                == 5
            ):
                break
            await asyncio.sleep(0.1)
    await conn.close()
    print(
        f"(a) {args.tickets:,} tickets per phase from {args.sources} partner system(s), {args.batch} events per "
        f"request; tracking-svc with {args.tracking_workers} worker(s)"
    )
    print("  side by side (the projection consumes while ingest runs, both on the same cores):")
    together = await phase(suite, target, args, seed=5, source="bench", paused=False)
    print("  each alone (evaluation-svc stopped while ingest runs, then resumed to drain the backlog):")
    alone = await phase(suite, target, args, seed=6, source="bench-alone", paused=True)
    print(f"  projection ÷ ingest: {together:.2f} side by side, {alone:.2f} each alone (≥ 1: the projection keeps up)")


async def phase(suite: Suite, target: Target, args: argparse.Namespace, seed: int, source: str, paused: bool) -> float:
    """Push --tickets work orders and follow evaluation's cursor through tracking's feed; with `paused`,
    evaluation-svc is stopped (SIGSTOP) until the last request is answered. Returns projection ÷ ingest."""
    path = DATA_DIR / "logs" / "bench-pipeline-bodies.jsonl"
    events, requests = write_bodies(
        path, day_of_events(args.tickets, source, seed=seed, sources=args.sources), args.batch
    )
    conn = await asyncpg.connect(to_plain_url(suite.database_url))
    base_produced, base_applied = await _counts(conn)
    postmaster = psutil.Process(await conn.fetchval("SELECT pg_backend_pid()")).parent()
    database = await conn.fetchval("SELECT current_database()")
    assert postmaster is not None
    samples: list[tuple[float, bool, int]] = []  # (time, caught up, applied (with --trace)) of this phase
    stop = asyncio.Event()

    async def sample() -> None:
        own = await asyncpg.connect(to_plain_url(suite.database_url))  # not the connection of the main task
        try:
            while not stop.is_set():
                applied = (await _counts(own))[1] - base_applied if args.trace else 0
                samples.append((time.perf_counter(), not await _behind(own), applied))
                await asyncio.sleep(1 if args.trace else 0.2)
        finally:
            await own.close()

    evaluation = psutil.Process(suite.processes["evaluation"].pid)
    sampler = asyncio.create_task(sample())
    t0 = time.perf_counter()
    if paused:
        evaluation.suspend()
    try:
        async with httpx.AsyncClient(base_url=target.base_url, timeout=300) as bulk_client:
            await post_bulk(bulk_client, target, path, concurrency=4)
    finally:
        t_ingest = time.perf_counter() - t0
        if paused:  # count what it applied before it stopped while it is still stopped
            applied_at_resume = (await _counts(conn))[1] - base_applied
            cpu_at_resume = _cpu_seconds(suite, postmaster, database)
            t_resume = time.perf_counter() - t0
            evaluation.resume()
    path.unlink()
    produced = (await _counts(conn))[0] - base_produced
    await conn.close()
    samples.clear()  # from here on, a sample that finds nothing behind means the projection caught up
    while True:
        await asyncio.sleep(0.2)
        if samples and samples[-1][1]:
            break
        if time.perf_counter() - t0 > args.timeout:
            print("    the projection did not catch up within the timeout")
            break
    t_done = samples[-1][0] - t0
    if paused:
        cpu = {k: v - cpu_at_resume.get(k, 0.0) for k, v in _cpu_seconds(suite, postmaster, database).items()}
    stop.set()
    await sampler
    ingest_rate = produced / t_ingest
    print(
        f"    ingest     {ingest_rate:10,.0f} node-run changes/s  ({produced:,} changes of {events:,} events in "
        f"{requests:,} requests, {t_ingest:.1f} s)"
    )
    if paused:
        drained = produced - applied_at_resume
        projection_rate = drained / max(1e-9, t_done - t_resume)
        print(
            f"    projection {projection_rate:10,.0f} node-run changes/s  (drained the backlog of {drained:,} changes"
            f" in {t_done - t_resume:.1f} s; {applied_at_resume:,} were applied before it stopped)"
        )
        per_change = ", ".join(f"{name} {1e6 * seconds / max(1, drained):.0f}" for name, seconds in cpu.items())
        print(f"    CPU while draining, µs per change: {per_change}")
    else:
        projection_rate = produced / t_done
        print(
            f"    projection {projection_rate:10,.0f} node-run changes/s  (caught up {t_done:.1f} s after the first"
            f" request, {max(0.0, t_done - t_ingest):.1f} s after the last)"
        )
    if args.trace:
        print("    applied per second:", [b[2] - a[2] for a, b in itertools.pairwise(samples)])
    return projection_rate / ingest_rate


def _cpu_seconds(suite: Suite, postmaster: psutil.Process, database: str) -> dict[str, float]:
    """CPU time (user + system) so far of evaluation-svc, of tracking-svc (which serves the feed, with its
    workers) and of the Postgres backends connected to the suite's database."""
    totals = {"evaluation": 0.0, "tracking": 0.0, "postgres": 0.0}
    for name in ("evaluation", "tracking"):
        root = psutil.Process(suite.processes[name].pid)
        for process in (root, *root.children(recursive=True)):
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                totals[name] += times.user + times.system
    for process in postmaster.children():
        with contextlib.suppress(psutil.Error):
            if f" {database} " in " ".join(process.cmdline()) + " ":  # "postgres: user database host state"
                times = process.cpu_times()
                totals["postgres"] += times.user + times.system
    return totals


async def _behind(conn: asyncpg.Connection) -> bool:
    """Whether any node-run change of tracking's feed lies beyond evaluation's cursor of its partition
    (cheap: each look starts at the cursor)."""
    rows = await conn.fetch(
        "SELECT name, cursor FROM evaluation.consumer_cursors WHERE starts_with(name, 'evaluation.tracking')"
    )
    if not rows:
        return bool(await conn.fetchval("SELECT EXISTS (SELECT FROM tracking.outbox)"))
    for row in rows:
        partition, partitions = _partition(row["name"])
        xid, _, seq = row["cursor"].partition(":")
        if await conn.fetchval(
            "SELECT EXISTS (SELECT FROM tracking.outbox WHERE (xid, seq) > (CAST($1 AS text)::xid8, $2)"
            " AND type = 'node_run.upserted' AND " + PARTITION_SQL.format(key="key", partitions="$3") + " = $4)",
            xid,
            int(seq),
            partitions,
            partition,
        ):
            return True
    return len(rows) < max(_partition(r["name"])[1] for r in rows)  # a partition not started yet


def _partition(name: str) -> tuple[int, int]:
    """(partition, partitions) of an evaluation.tracking cursor name."""
    if match := re.fullmatch(r"evaluation\.tracking\.p(\d+)of(\d+)", name):
        return int(match[1]), int(match[2])
    return 0, 1


async def _counts(conn: asyncpg.Connection) -> tuple[int, int]:
    """Node-run changes on tracking's feed, and how many of them lie behind evaluation's cursors (one per
    partition of the feed)."""
    produced = await conn.fetchval("SELECT count(*) FROM tracking.outbox WHERE type = 'node_run.upserted'")
    rows = await conn.fetch(
        "SELECT name, cursor FROM evaluation.consumer_cursors WHERE starts_with(name, 'evaluation.tracking')"
    )
    applied = 0
    for row in rows:
        xid, _, seq = row["cursor"].partition(":")
        partition, partitions = _partition(row["name"])
        applied += await conn.fetchval(  # the feed's order is (xid, seq): count what lies behind the cursor
            "SELECT count(*) FROM tracking.outbox WHERE type = 'node_run.upserted'"
            " AND (xid, seq) <= (CAST($1 AS text)::xid8, $2) AND "
            + PARTITION_SQL.format(key="key", partitions="$3")
            + " = $4",
            xid,
            int(seq),
            partitions,
            partition,
        )
    return int(produced), int(applied)


GENERATE_OPEN = """
INSERT INTO evaluation.node_runs (id, kind, ticket_id, source, process_key, node_key, segment, cycle, department,
    status, started_at, pauses, commitment_id, commitment_key, commitment_due_at, tolerance_due_at, exempted,
    alert_level_done, next_alert_at)
SELECT 'open-' || g, 'node', 'ot-' || g, 'bench', $1, 'repair', 'default', 1, 'ops', 'in_progress',
       $2::timestamptz - interval '1 hour', '[]', 'bench-v', 'bench-repair',
       d.due, d.due + interval '10 days', false, 1, d.due
FROM generate_series(1, $3::int) AS g
CROSS JOIN LATERAL (
    SELECT CASE WHEN g <= $4 THEN $2::timestamptz + make_interval(secs => 5 + g * 25.0 / greatest($4, 1))
                ELSE $2::timestamptz + make_interval(secs => 60 + (g * 7919 % 86400)) END AS due) d
"""


async def alert_latency(suite: Suite, args: argparse.Namespace) -> None:
    conn = await asyncpg.connect(to_plain_url(suite.database_url))
    try:
        now = datetime.now(UTC)
        t = time.perf_counter()
        for lo in range(0, args.open_runs, 250_000):
            n = min(250_000, args.open_runs - lo)
            due_here = max(0, min(n, args.due - lo))
            await conn.execute(GENERATE_OPEN.replace("'open-' || g", f"'open-' || (g + {lo})"), PROCESS,
                               now + timedelta(seconds=time.perf_counter() - t + 5), n, due_here)  # fmt: skip
        await conn.execute("ANALYZE evaluation.node_runs")
        print(f"\n(b) {args.open_runs:,} runs in progress written in {time.perf_counter() - t:.0f} s; "
              f"{args.due:,} fall due within ~30 s")  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            raised = await conn.fetchval("SELECT count(*) FROM evaluation.alerts WHERE node_run_id LIKE 'open-%'")
            if raised >= args.due:
                break
            await asyncio.sleep(1)
        rows = await conn.fetch(
            """
            SELECT extract(epoch FROM a.raised_at - r.commitment_due_at) AS latency
            FROM evaluation.alerts a JOIN evaluation.node_runs r ON r.id = a.node_run_id
            WHERE a.node_run_id LIKE 'open-%' ORDER BY 1
            """
        )
    finally:
        await conn.close()
    latencies = [float(r["latency"]) for r in rows]
    if not latencies:
        print("  no alert was raised")
        return
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"  {len(latencies):,} alerts; latency due instant → alert recorded: p50 {p50:.2f} s, p99 {p99:.2f} s,"
          f" max {latencies[-1]:.2f} s   (goal p99 ≤ 2 s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=90_000, help="≈ 11 node-run changes per ticket")
    parser.add_argument("--open-runs", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000, help="events per bulk request")
    parser.add_argument("--sources", type=int, default=4, help="partner systems side by side (as bench/ingest.py)")
    parser.add_argument("--tracking-workers", type=int, default=2, help="tracking-svc worker processes")
    parser.add_argument("--due", type=int, default=25_000)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--trace", action="store_true", help="print the changes applied in each second")
    args = parser.parse_args()
    extra_env = {"GATEWAY_RATE_LIMIT_ENABLED": "false", "EVALUATION_SCANNER_INTERVAL": "0.2"}
    with bench_suite("test", DATA_DIR / "logs" / "bench-pipeline", extra_env, args.tracking_workers) as suite:
        asyncio.run(projection_vs_ingest(suite, args))
        asyncio.run(alert_latency(suite, args))


if __name__ == "__main__":
    main()
