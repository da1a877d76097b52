"""What the benchmarks share: evaluation-svc as a real process on a database, and a report timed through it.

(A package, not a `bench/*.py` script: `make bench` runs every script of `bench/`.)
"""

import os
import subprocess
import sys
import time
from collections.abc import Mapping

import httpx
from pledge_dev.paths import DATA_DIR, REPO_ROOT
from pledge_dev.suite import free_port


def start_evaluation(url: str, name: str, extra_env: Mapping[str, str] = {}) -> tuple[subprocess.Popen[bytes], str]:
    """evaluation-svc (uvicorn) on `url` with its feeds, scanner and webhooks off; its base URL once ready."""
    port = free_port()
    env = {
        **os.environ,
        "EVALUATION_DATABASE_URL": url,
        "EVALUATION_CONSUME_FEEDS": "false",
        "EVALUATION_RUN_SCANNER": "false",
        "EVALUATION_RUN_WEBHOOKS": "false",
        "EVALUATION_LOG_LEVEL": "WARNING",
        "PLEDGE_ENVIRONMENT": "local",
        **extra_env,
    }
    log_path = DATA_DIR / "logs" / f"bench-{name}-evaluation.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "evaluation_svc.main:create_app", "--port", str(port),
         "--host", "127.0.0.1", "--no-access-log", "--log-level", "warning"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=log,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.terminate()
    raise SystemExit(f"evaluation-svc did not become ready; see {log_path}")


async def time_get(
    base: str, path: str, params: Mapping[str, str], repeat: int, client_timeout: float
) -> tuple[list[float], dict[str, object]]:
    """`repeat` timings of one GET after a warm-up, and its last answer."""
    times = []
    body: dict[str, object] = {}
    async with httpx.AsyncClient(base_url=base, timeout=client_timeout) as client:
        for _ in range(repeat + 1):
            t = time.perf_counter()
            response = await client.get(path, params=params)
            times.append(time.perf_counter() - t)
            response.raise_for_status()
            body = response.json()
    return times[1:], body
