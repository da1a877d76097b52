"""Benchmark (not a test): what the gateway costs on the same read, measured in one run.

Starts commitment-svc and two gateways on free ports against a fresh database:
  * gateway "plain": routing only (GATEWAY_AUTH_ENABLED=false, GATEWAY_RATE_LIMIT_ENABLED=false)
  * gateway "secured": API key auth and the token-bucket rate limiter on (a limit high enough never to refuse)
then reads `GET /v1/segments` directly from the service and through each gateway.

Prints
  * p50 latency added by the gateway at 1 connection (goal <= 1 ms), sequential requests from an aiohttp client;
  * throughput at 32 connections through the gateway / direct (goal >= 0.4) and secured / plain (goal >= 0.75),
    measured with `wrk` when installed (`apt-get install -y wrk`), else with an aiohttp load generator.

Run: `uv run python bench/gateway.py [--seconds 10] [--requests 2000]`.
"""

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx
import psutil
from commitment_svc.main import ALEMBIC_INI as COMMITMENT_INI
from pledge_dev import migrate
from pledge_dev.paths import REPO_ROOT
from pledge_dev.pg import fresh_database
from pledge_dev.suite import free_port
from pledge_gateway.bootstrap import bootstrap
from pledge_gateway.main import ALEMBIC_INI as GATEWAY_INI

PATH = "/v1/segments"
TOKEN = "bench-service-token"


@contextlib.contextmanager
def process(package: str, port: int, env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    full_env = {**os.environ, **env, "PLEDGE_SERVICE_TOKEN": TOKEN, "PLEDGE_ENVIRONMENT": "local"}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "--factory", f"{package}.main:create_app",
                "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
            ],
            env=full_env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{package} exited; see {log}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{package} did not start")
            time.sleep(0.1)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


async def latencies(targets: dict[str, tuple[str, dict[str, str]]], count: int) -> dict[str, list[float]]:
    """Sequential requests, interleaved in rounds across targets so that drift hits them alike."""
    out: dict[str, list[float]] = {name: [] for name in targets}
    sessions = {name: aiohttp.ClientSession(headers=headers) for name, (_, headers) in targets.items()}
    try:
        rounds = 20
        for round_number in range(rounds + 1):
            for name, (url, _) in targets.items():
                for _ in range(count // rounds if round_number else 50):  # round 0 warms up
                    started = time.perf_counter()
                    async with sessions[name].get(url + PATH) as response:
                        await response.read()
                        assert response.status == 200, response.status
                    if round_number:
                        out[name].append(time.perf_counter() - started)
    finally:
        for session in sessions.values():
            await session.close()
    return out


async def aiohttp_throughput(url: str, headers: dict[str, str], connections: int, seconds: float) -> float:
    done = 0
    stop = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                async with session.get(url + PATH) as response:
                    await response.read()
                    if response.status == 200:
                        done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return done / (time.perf_counter() - started)


def wrk_throughput(url: str, headers: dict[str, str], connections: int, seconds: float) -> float:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    result = subprocess.run([*command, url + PATH], capture_output=True, text=True, check=True)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    if non_2xx:
        raise RuntimeError(f"{non_2xx.group(1)} failed requests through {url}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if not match:
        raise RuntimeError(result.stdout + result.stderr)
    return float(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each throughput run")
    parser.add_argument("--requests", type=int, default=2000, help="sequential requests per latency run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="alternating throughput rounds (best counts)")
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None
    logs = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    with fresh_database("test") as database_url:
        migrate.upgrade(COMMITMENT_INI, database_url)
        migrate.upgrade(GATEWAY_INI, database_url)
        key = asyncio.run(bootstrap(database_url))
        assert key is not None
        service_port, plain_port, secured_port = free_port(), free_port(), free_port()
        common = {"GATEWAY_DATABASE_URL": database_url, "GATEWAY_COMMITMENT_URL": f"http://127.0.0.1:{service_port}"}
        plain_env = {**common, "GATEWAY_AUTH_ENABLED": "false", "GATEWAY_RATE_LIMIT_ENABLED": "false"}
        secured_env = {**common, "GATEWAY_RATE_LIMITS": '{"default": {"rate": 1000000000, "burst": 1000000000}}'}
        with (
            process("commitment_svc", service_port, {"COMMITMENT_DATABASE_URL": database_url}, logs / "svc.log") as (
                direct,
                service_pid,
            ),
            process("pledge_gateway", plain_port, plain_env, logs / "plain.log") as (plain, plain_pid),
            process("pledge_gateway", secured_port, secured_env, logs / "secured.log") as (secured, secured_pid),
        ):
            httpx.put(direct + "/v1/segments/vip", json={"name": "VIP"}, timeout=10).raise_for_status()
            auth = {"X-API-Key": key}
            targets = {"direct": (direct, {}), "plain": (plain, {}), "secured": (secured, auth)}
            samples = asyncio.run(latencies(targets, args.requests))
            p50 = {name: statistics.median(values) * 1000 for name, values in samples.items()}
            # best of `rounds` alternating runs: a shared machine only ever makes a run slower
            pids = {"direct": service_pid, "plain": plain_pid, "secured": secured_pid}
            rps: dict[str, float] = dict.fromkeys(targets, 0.0)
            cpu: dict[str, list[float]] = {name: [] for name in targets}
            for _ in range(args.rounds):
                for name, (url, headers) in targets.items():
                    before = cpu_seconds(pids[name])
                    if use_wrk:
                        rate = wrk_throughput(url, headers, args.connections, args.seconds)
                    else:
                        rate = asyncio.run(aiohttp_throughput(url, headers, args.connections, args.seconds))
                    rps[name] = max(rps[name], rate)
                    cpu[name].append((cpu_seconds(pids[name]) - before) / (rate * args.seconds) * 1e6)
    generator = "wrk -t2" if use_wrk else "aiohttp"
    print(f"gateway bench: GET {PATH} on commitment-svc, {os.cpu_count()} CPUs, logs in {logs}")
    print(f"  p50 at 1 connection (aiohttp, {args.requests} sequential requests each, interleaved):")
    for name in targets:
        print(f"    {name:<8} {p50[name]:.3f} ms")
    added_plain, added_secured = p50["plain"] - p50["direct"], p50["secured"] - p50["direct"]
    print(f"  p50 added by the gateway: routing {added_plain:.3f} ms, with key auth + rate limit {added_secured:.3f} ms"
          f"  (goal <= 1 ms)")  # fmt: skip
    print(f"  throughput at {args.connections} connections ({generator}, {args.seconds:g}s each):")
    for name in targets:
        print(f"    {name:<8} {rps[name]:.0f} req/s")
    print("  CPU of the process serving the request, per request (median of rounds; noise-resistant):")
    for name in targets:
        what = "service" if name == "direct" else "gateway"
        print(f"    {name:<8} {statistics.median(cpu[name]):.0f} us ({what})")
    print(f"  ratio gateway / direct:           {rps['plain'] / rps['direct']:.2f}  (goal >= 0.4)")
    print(f"  ratio secured / plain (auth+rl):  {rps['secured'] / rps['plain']:.2f}  (goal >= 0.75)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
