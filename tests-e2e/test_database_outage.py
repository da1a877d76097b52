"""A Postgres outage under load: 503 problems with Retry-After (never 500), readiness false, recovery on return.

The suite runs on a Postgres server of its own (a dedicated data directory and port) that this test stops
and starts; the shared test server is never touched.
"""

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from pledge_common.identity import Caller, identity_headers
from pledge_dev.pg import StoppableServer, create_database
from pledge_dev.suite import Suite, free_port, running_suite

# one route per database: the gateway's own (keys) and each service's
GATEWAY_PATHS = ("/v1/api-keys", "/v1/commitments", "/v1/tickets", "/v1/alerts", "/v1/complaints")
SERVICE_PATHS = {
    "commitment": "/v1/commitments",
    "tracking": "/v1/tickets",
    "evaluation": "/v1/alerts",
    "feedback": "/v1/complaints",
}
ADMIN = Caller(sub="outage-test", kind="user", scopes=frozenset({"admin"}), sources=None)


@dataclass
class Answer:
    at: float
    target: str
    status: int
    content_type: str
    retry_after: str | None


@dataclass
class Load:
    """Clients that keep calling every route, through the gateway and at each service, until stopped."""

    suite: Suite
    answers: list[Answer] = field(default_factory=list)
    running: bool = True

    async def _call(
        self, client: httpx.AsyncClient, target: str, url: str, headers: Callable[[], dict[str, str]]
    ) -> None:
        while self.running:
            try:
                response = await client.get(url, headers=headers())
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
                continue
            self.answers.append(
                Answer(
                    time.monotonic(),
                    target,
                    response.status_code,
                    response.headers.get("content-type", ""),
                    response.headers.get("retry-after"),
                )
            )
            await asyncio.sleep(0.02)

    async def run(self) -> None:
        def key() -> dict[str, str]:
            return {"Authorization": f"Bearer {self.suite.admin_key}"}

        def identity() -> dict[str, str]:  # what the gateway would forward
            return identity_headers(ADMIN, self.suite.service_token)

        async with httpx.AsyncClient(timeout=30) as client:
            calls = [
                self._call(client, f"gateway {path}", f"{self.suite.gateway_url}{path}", key) for path in GATEWAY_PATHS
            ]
            for service, path in SERVICE_PATHS.items():
                calls.append(self._call(client, f"{service} {path}", f"{self.suite.url(service)}{path}", identity))
            await asyncio.gather(*calls)

    @property
    def targets(self) -> set[str]:
        return {f"gateway {p}" for p in GATEWAY_PATHS} | {f"{s} {p}" for s, p in SERVICE_PATHS.items()}

    def since(self, moment: float) -> list[Answer]:
        return [a for a in self.answers if a.at >= moment]


async def wait_for(condition: Callable[[], bool], seconds: float) -> None:
    """Poll `condition()` until true; fail after `seconds` (a bound on waiting, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def readiness(suite: Suite) -> dict[str, int]:
    async with httpx.AsyncClient(timeout=10) as client:
        answers = {}
        for component in ("gateway", *SERVICE_PATHS):
            answers[component] = (await client.get(f"{suite.url(component)}/readyz")).status_code
        return answers


@pytest.fixture(scope="module")
def server() -> Iterator[StoppableServer]:
    # not under pytest's temporary folder: run as root, the server runs as its own system user, which must be
    # able to reach its data folder (pytest's folders are private to root)
    base = Path(tempfile.mkdtemp(prefix="pledge-outage-"))
    base.chmod(0o755)
    pg = StoppableServer(base / "data", free_port())
    pg.start()
    try:
        yield pg
    finally:
        with contextlib.suppress(Exception):
            pg.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def outage_suite(server: StoppableServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    log_dir = tmp_path_factory.mktemp("outage-logs")
    database_url = asyncio.run(create_database(server.url, "pledge_outage"))
    with running_suite(database_url, log_dir=log_dir, key_file=log_dir / "admin-key") as started:
        yield started


async def test_a_postgres_outage_is_503_with_retry_after_and_recovers_by_itself(
    server: StoppableServer, outage_suite: Suite
) -> None:
    load = Load(outage_suite)
    runner = asyncio.create_task(load.run())
    try:
        await wait_for(lambda: {a.target for a in load.answers if a.status == 200} == load.targets, 30)

        stopped_at = time.monotonic()
        await asyncio.to_thread(server.stop, "fast")
        # every route, at the gateway and at each service, answers that the database is unavailable
        await wait_for(lambda: {a.target for a in load.since(stopped_at) if a.status == 503} == load.targets, 60)
        assert await readiness(outage_suite) == dict.fromkeys(("gateway", *SERVICE_PATHS), 503)
        down = [a for a in load.since(stopped_at) if a.status >= 500]
        assert {a.status for a in down} == {503}
        assert all(a.content_type == "application/problem+json" and a.retry_after for a in down)

        await asyncio.to_thread(server.start)
        back_at = time.monotonic()
        await wait_for(lambda: {a.target for a in load.since(back_at) if a.status == 200} == load.targets, 60)
        first_2xx = {
            target: min(a.at for a in load.since(back_at) if a.target == target and a.status == 200) - back_at
            for target in load.targets
        }
        print("recovery after Postgres returned (s):", {t: round(s, 3) for t, s in sorted(first_2xx.items())})
        assert await readiness(outage_suite) == dict.fromkeys(("gateway", *SERVICE_PATHS), 200)
    finally:
        load.running = False
        await runner
    assert not [a for a in load.answers if a.status == 500], "a database outage was answered as 500"
