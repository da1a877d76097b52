"""Peak memory of tracking-svc per MB of a JSON-array bulk body, for the largest array it accepts.

    uv run python bench/ingest_memory.py              # starts its own suite (tracking-svc: one process)
    uv run python bench/ingest_memory.py --runs 5     # more arrays of each kind

It starts Postgres (a fresh database) and the suite, defines the process, then sends tracking-svc itself
(signed identity headers, no gateway) JSON arrays of new events, one at a time, sampling the RSS of its
process every 50 ms:
  - the largest array allowed: `bulk_max_items` events filling `bulk_max_bytes` (each event padded with
    attributes to its share of the bytes),
  - an array of as many plain events (no attributes; the common shape),
  - an array of five times as many events within the bytes allowed: refused with a 413 once counted,
    before any event is decoded,
  - an array declared (Content-Length) twice the allowed size: refused with a 413 before it is read.
It prints the peak RSS above the process's resting size, per MB of body, for each.
"""

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from ingest import NODES, PROCESS, RssSampler, Target, bench_suite, define_process
from pledge_dev.paths import DATA_DIR
from pledge_dev.suite import Suite
from tracking_svc.config import Settings

MB = 1_000_000


def array_body(run: int, items: int, item_bytes: int | None) -> bytes:
    """`items` node.started events of new tickets; with `item_bytes`, each padded to about that size."""
    at = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    events: list[bytes] = []
    for i in range(items):
        event: dict[str, Any] = {
            "event_id": f"mem-{run}-{i}",
            "type": "node.started",
            "occurred_at": at,
            "source": "bench-memory",
            "ticket": {"external_id": f"MEM-{run}-{i}", "process": PROCESS},
            "node": NODES[i % len(NODES)],
        }
        text = json.dumps(event, separators=(",", ":"))
        if item_bytes is not None:
            pad = item_bytes - len(text) - len(',"attributes":{"note":""}') - 1  # the separating comma
            event["ticket"]["attributes"] = {"note": "x" * max(0, pad)}
            text = json.dumps(event, separators=(",", ":"))
        events.append(text.encode())
    return b"[" + b",".join(events) + b"]"


async def measure(
    suite: Suite, client: httpx.AsyncClient, target: Target, body: bytes, label: str, expect: int = 200
) -> None:
    headers = {"content-type": "application/json", **target.headers()}
    with RssSampler(suite.processes["tracking"].pid) as rss:
        started = time.perf_counter()
        response = await client.post("/v1/events/bulk", content=body, headers=headers)
        seconds = time.perf_counter() - started
        await asyncio.sleep(0.2)
    if response.status_code != expect:
        raise RuntimeError(f"{label}: {response.status_code} {response.text[:300]}")
    answer = f"{response.json()['accepted']:,} events" if expect == 200 else f"answered {response.status_code}"
    mb = len(body) / MB
    grown = (rss.peak - rss.baseline) / MB
    print(
        f"{label}: {answer}, {mb:.1f} MB body, {seconds:.1f} s; RSS {rss.baseline / MB:.0f} MB "
        f"at rest, peak {rss.peak / MB:.0f} MB: +{grown:.0f} MB = {grown / mb:.1f} MB per MB of body"
    )


async def refused(suite: Suite, target: Target, declared: int) -> None:
    """A body declared `declared` bytes long, of which nothing needs to be sent: the answer comes first."""
    sent: list[int] = []

    async def body() -> Any:
        left = declared
        while left:
            piece = b" " * min(left, 2**20)
            left -= len(piece)
            sent.append(len(piece))
            yield piece

    headers = {"content-type": "application/json", "content-length": str(declared), **target.headers()}
    with RssSampler(suite.processes["tracking"].pid) as rss:
        async with httpx.AsyncClient(base_url=target.base_url, timeout=60) as client:
            try:
                response = await client.post("/v1/events/bulk", content=body(), headers=headers)
                status = str(response.status_code)
            except httpx.HTTPError as err:  # the server may close before the client finished sending
                status = type(err).__name__
    print(
        f"an array declared {declared / MB:.0f} MB long: answered {status} ({sum(sent) / MB:.0f} MB sent); "
        f"peak RSS +{(rss.peak - rss.baseline) / MB:.0f} MB"
    )


async def run(suite: Suite, runs: int) -> None:
    settings = Settings()
    target = Target(suite, direct=True, gateway_url=None, api_key=None)
    async with httpx.AsyncClient(base_url=target.base_url, timeout=600) as client:
        print(f"catalogue: {await define_process(suite, target, client)}")
        print(
            f"limits: {settings.bulk_max_items:,} items, {settings.bulk_max_bytes:,} bytes "
            f"({settings.bulk_item_bytes:,} per item)"
        )
        await measure(suite, client, target, array_body(-1, 1_000, None), "warm-up")
        for run in range(runs):
            largest = array_body(run, settings.bulk_max_items, settings.bulk_max_bytes // settings.bulk_max_items - 2)
            assert len(largest) <= settings.bulk_max_bytes, len(largest)
            await measure(suite, client, target, largest, f"largest allowed array #{run + 1}")
        for run in range(runs):
            plain = array_body(runs + run, settings.bulk_max_items, None)
            await measure(suite, client, target, plain, f"plain array of {settings.bulk_max_items:,} #{run + 1}")
        items = 5 * settings.bulk_max_items  # within the bytes allowed, too many items
        too_many = array_body(2 * runs, items, 330)
        await measure(suite, client, target, too_many, f"array of {items:,} events (too many)", expect=413)
    await refused(suite, target, 2 * settings.bulk_max_bytes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="arrays of each kind")
    args = parser.parse_args()
    extra_env = {"GATEWAY_RATE_LIMIT_ENABLED": "false", "EVALUATION_CONSUME_FEEDS": "false"}
    with bench_suite("bench", DATA_DIR / "bench" / "logs", extra_env, tracking_workers=1) as suite:
        asyncio.run(run(suite, args.runs))


if __name__ == "__main__":
    main()
