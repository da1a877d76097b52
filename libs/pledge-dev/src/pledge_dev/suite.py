"""Start the whole suite as real processes: migrations, four services and the gateway, readiness.

Used by `make run` (fixed ports, embedded or external Postgres), by the end-to-end tests and by the
benchmarks (free ports, a fresh database).
"""

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pledge_common.settings import DEV_SERVICE_TOKEN, to_async_url

from pledge_dev import migrate
from pledge_dev.paths import DATA_DIR, REPO_ROOT

# component -> (package, env prefix, default port)
COMPONENTS: dict[str, tuple[str, str, int]] = {
    "commitment": ("commitment_svc", "COMMITMENT_", 8001),
    "tracking": ("tracking_svc", "TRACKING_", 8002),
    "evaluation": ("evaluation_svc", "EVALUATION_", 8003),
    "feedback": ("feedback_svc", "FEEDBACK_", 8004),
    "gateway": ("pledge_gateway", "GATEWAY_", 8000),
    "console": ("pledge_console", "CONSOLE_", 8005),
}
# who calls whom: <consumer> -> upstreams it needs a URL for
UPSTREAMS: dict[str, tuple[str, ...]] = {
    "commitment": ("evaluation",),
    "tracking": ("commitment",),
    "evaluation": ("commitment", "tracking", "feedback"),
    "feedback": ("tracking", "evaluation"),
    "gateway": ("commitment", "tracking", "evaluation", "feedback", "console"),
    "console": ("gateway",),
}
# how long to wait for processes to be ready (a busy shared machine may need more)
START_TIMEOUT = float(os.environ.get("PLEDGE_SUITE_START_TIMEOUT", "60"))
# the console starts last: its API key is created through the gateway once the gateway is ready
START_ORDER = ("commitment", "tracking", "evaluation", "feedback", "gateway", "console")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """If the supervisor is killed outright, its children get SIGTERM (Linux prctl PR_SET_PDEATHSIG)."""
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


@dataclass
class Suite:
    database_url: str
    ports: dict[str, int]
    service_token: str = DEV_SERVICE_TOKEN
    log_dir: Path = DATA_DIR / "logs"
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    admin_key: str | None = None
    workers: dict[str, int] = field(default_factory=dict)  # worker processes per component (default 1)
    console_key: str | None = None  # the console's own admin API key (it creates each session's key)
    console_admin: tuple[str, str] | None = None  # the first console account: (username, password)
    secrets_dir: Path | None = None  # where the console's key is kept (default: log_dir)

    def url(self, component: str) -> str:
        return f"http://127.0.0.1:{self.ports[component]}"

    @property
    def gateway_url(self) -> str:
        return self.url("gateway")

    def env_for(self, component: str) -> dict[str, str]:
        _, prefix, _ = COMPONENTS[component]
        env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
        env.update(
            {
                f"{prefix}DATABASE_URL": to_async_url(self.database_url),
                "PLEDGE_SERVICE_TOKEN": self.service_token,
                "PLEDGE_REQUIRE_IDENTITY": "true",
                "PYTHONUNBUFFERED": "1",
            }
        )
        for upstream in UPSTREAMS[component]:
            env[f"{prefix}{upstream.upper()}_URL"] = self.url(upstream)
        if component == "console" and self.console_key:
            env["CONSOLE_API_KEY"] = self.console_key
        env.update(self.extra_env)
        return env

    def migrate(self) -> None:
        migrate.upgrade_all(self.database_url)

    def start(self, timeout: float = START_TIMEOUT) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._launch([c for c in START_ORDER if c != "console"])
        self.wait_ready(timeout)
        if self.admin_key:
            key_file = (self.secrets_dir or self.log_dir) / "console-key"
            self.console_key = ensure_console_key(self.gateway_url, self.admin_key, key_file)
        self._launch(["console"])
        self.wait_ready(timeout)

    def _launch(self, components: list[str]) -> None:
        for component in components:
            package, _, _ = COMPONENTS[component]
            log = (self.log_dir / f"{component}.log").open("ab")
            self.processes[component] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    f"{package}.main:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.ports[component]),
                    "--no-access-log",
                    "--timeout-graceful-shutdown",
                    "5",
                    *(["--workers", str(self.workers[component])] if self.workers.get(component, 1) > 1 else []),
                ],
                env=self.env_for(component),
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.processes)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for component in sorted(pending):
                    process = self.processes[component]
                    if process.poll() is not None:
                        raise RuntimeError(
                            f"{component} exited with {process.returncode}; see {self.log_dir / component}.log"
                        )
                    with contextlib.suppress(httpx.HTTPError):
                        if client.get(f"{self.url(component)}/readyz").status_code == 200:
                            pending.discard(component)
                if pending and time.monotonic() > deadline:
                    raise TimeoutError(f"not ready after {timeout:.0f}s: {', '.join(sorted(pending))}")
                if pending:
                    time.sleep(0.1)

    def stop_component(self, component: str, grace: float = 10.0) -> None:
        """Stop one process (SIGTERM, then SIGKILL after `grace`), leaving the others running."""
        process = self.processes.pop(component)
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(grace)
            if process.poll() is None:
                process.kill()
                process.wait()

    def start_component(self, component: str, timeout: float = START_TIMEOUT) -> None:
        """Start one process again (after `stop_component`) and wait until it is ready."""
        if component in self.processes:
            raise RuntimeError(f"{component} is running already")
        self._launch([component])
        self.wait_ready(timeout)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM every process, wait, then SIGKILL whatever is left: nothing stays behind."""
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.1, deadline - time.monotonic()))
            if process.poll() is None:
                process.kill()
                process.wait()
        self.processes.clear()


def bootstrap_admin_key(database_url: str, key_file: Path) -> str | None:
    """Create the first admin API key (idempotent) and return it, when the gateway supports keys."""
    result = subprocess.run(
        [sys.executable, "-m", "pledge_gateway.bootstrap", "--database-url", database_url, "--write", str(key_file)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        if "No module named pledge_gateway.bootstrap" in result.stderr:
            return None
        raise RuntimeError(f"admin key bootstrap failed: {result.stderr.strip()[-2000:]}")
    return key_file.read_text().strip() if key_file.exists() else None


def ensure_console_key(gateway_url: str, admin_key: str, key_file: Path) -> str:
    """The console's admin API key: the one in `key_file` while the gateway still accepts it, else a new one."""
    with httpx.Client(base_url=gateway_url, timeout=10.0) as client:
        if key_file.exists():
            kept = key_file.read_text().strip()
            answer = client.get("/v1/api-keys", params={"limit": 1}, headers={"Authorization": f"Bearer {kept}"})
            if answer.status_code == 200:
                return kept
        created = client.post(
            "/v1/api-keys",
            json={"name": "console", "scopes": ["admin"]},
            headers={"Authorization": f"Bearer {admin_key}"},
        )
        created.raise_for_status()
        key = str(created.json()["key"])
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def bootstrap_console_admin(database_url: str, credentials_file: Path) -> tuple[str, str] | None:
    """The first console account (idempotent): its (username, password), from `credentials_file` once made."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pledge_console.bootstrap",
            "first-admin",
            "--database-url",
            database_url,
            "--write",
            str(credentials_file),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"console account bootstrap failed: {result.stderr.strip()[-2000:]}")
    if not credentials_file.exists():
        return None
    username, _, password = credentials_file.read_text().strip().partition(" ")
    return username, password


@contextlib.contextmanager
def running_suite(
    database_url: str,
    *,
    ports: Mapping[str, int] | None = None,
    extra_env: Mapping[str, str] | None = None,
    log_dir: Path | None = None,
    key_file: Path | None = None,
    workers: Mapping[str, int] | None = None,
) -> Iterator[Suite]:
    """Migrate, start, wait until ready; stop everything on exit."""
    suite = Suite(
        database_url=database_url,
        ports=dict(ports) if ports else {c: free_port() for c in COMPONENTS},
        extra_env=dict(extra_env or {}),
        log_dir=log_dir or DATA_DIR / "logs",
        workers=dict(workers or {}),
    )
    suite.migrate()
    key_file = key_file or suite.log_dir / "admin-key"
    suite.admin_key = bootstrap_admin_key(database_url, key_file)
    suite.secrets_dir = key_file.parent
    suite.console_admin = bootstrap_console_admin(database_url, key_file.parent / "console-admin")
    try:
        suite.start()
        yield suite
    finally:
        suite.stop()
