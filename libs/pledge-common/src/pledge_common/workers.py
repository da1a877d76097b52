"""Background workers of a service: feed consumers, scanners, senders, run under one supervisor.

A service registers each of its workers by name in the lifespan (`app.state.workers`, made by
`create_service_app`); the app starts them once the service's lifespan is set up and stops them before it is
torn down. A worker is a coroutine function `run(heartbeat)` that loops until cancelled and calls
`heartbeat.beat()` on every round, idle rounds included: a worker whose last beat is older than its limit has
stalled (stuck in a statement, a lock, a handler). A worker that raises (or returns) has crashed: it is logged
and started again after a backoff that doubles with each crash in a row (`backoff` to `backoff_max`); a beat
resets the count. A worker that fails because the database is unavailable is retried after `backoff` and not
counted: readiness reports the database itself, and the work resumes as soon as it is back.

Readiness fails while any worker has stalled or crashed `max_failures` times in a row (`Workers.problems`);
liveness does not look at workers, so a stalled worker takes the replica out of the Service, it does not
restart the process.

Most workers are a step repeated: `Workers.polling` turns "do one round, say whether more work is waiting"
into such a loop (at once again while busy, else after `interval` or a `wake()`).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pledge_common.db import database_unavailable

if TYPE_CHECKING:
    from pledge_common.consumer import FeedConsumer

log = logging.getLogger("pledge.workers")


class Heartbeat(Protocol):
    def beat(self) -> None: ...


class NoHeartbeat:
    """For a worker run by hand (tests, tools): beats go nowhere."""

    def beat(self) -> None:
        pass


Run = Callable[[Heartbeat], Awaitable[None]]
Step = Callable[[], Awaitable[bool]]


@dataclass
class WorkerStatus:
    """What the supervisor knows of one worker; its `beat` is the heartbeat handed to the worker."""

    name: str
    kind: str
    idle_gap: float  # the longest pause between two beats of a healthy worker (a poll interval, a long-poll)
    clock: Callable[[], float] = field(repr=False)
    last_beat: float = 0.0
    beats: int = 0
    restarts: int = 0
    failures: int = 0  # crashes since the last beat
    last_error: str | None = None

    def beat(self) -> None:
        self.last_beat = self.clock()
        self.beats += 1
        self.failures = 0

    def heartbeat_age(self) -> float:
        return max(0.0, self.clock() - self.last_beat)


class Wakeup:
    """A nudge for a polling worker to run its next round now rather than at the end of its interval."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout=seconds)

    def clear(self) -> None:
        self._event.clear()


def polling(step: Step, interval: float, wakeup: Wakeup | None = None) -> Run:
    """A worker that runs `step` again at once while it reports more work, else after `interval` seconds (or
    as soon as `wakeup` is woken); it beats after every round. A step that raises crashes the worker."""

    async def run(heartbeat: Heartbeat) -> None:
        while True:
            if wakeup is not None:
                wakeup.clear()  # before the round: a wake() during it runs the next one at once
            more = await step()
            heartbeat.beat()
            if more:
                await asyncio.sleep(0)  # let other tasks run between back-to-back rounds
            elif wakeup is not None:
                await wakeup.wait(interval)
            else:
                await asyncio.sleep(interval)

    return run


class Workers:
    """The registry and supervisor of one app's background workers."""

    def __init__(
        self,
        service: str,
        *,
        stall_after: float = 120.0,
        max_failures: int = 3,
        backoff: float = 1.0,
        backoff_max: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.stall_after = stall_after
        self.max_failures = max_failures
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.clock = clock
        self.status: dict[str, WorkerStatus] = {}
        self._runs: dict[str, Run] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._started = False
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self.consumers: dict[str, FeedConsumer] = {}  # the feed consumers among the workers (for their lag)

    def add(self, name: str, run: Run, *, kind: str = "worker", idle_gap: float = 0.0) -> WorkerStatus:
        """Register a worker, started with the others (or at once when they run already); `idle_gap`: how long
        it may be quiet between two beats when healthy."""
        if name in self.status:
            raise ValueError(f"a worker named {name!r} is registered already")
        status = WorkerStatus(name=name, kind=kind, idle_gap=idle_gap, clock=self.clock)
        self.status[name] = status
        self._runs[name] = run
        if self._started:
            self._launch(status, run)
        return status

    def add_polling(
        self, name: str, step: Step, *, interval: float, kind: str = "loop", wakeup: Wakeup | None = None
    ) -> WorkerStatus:
        return self.add(name, polling(step, interval, wakeup), kind=kind, idle_gap=interval)

    def on_stop(self, close: Callable[[], Awaitable[None]]) -> None:
        """Something to close once every worker has stopped (a worker's HTTP client)."""
        self._closers.append(close)

    def stall_limit(self, status: WorkerStatus) -> float:
        return max(self.stall_after, 3 * status.idle_gap)

    def _launch(self, status: WorkerStatus, run: Run) -> None:
        status.last_beat = self.clock()  # a worker just started has its whole limit to beat first
        self._tasks[status.name] = asyncio.create_task(self._supervise(status, run), name=f"worker-{status.name}")

    async def start(self) -> None:
        self._started = True
        for name, run in self._runs.items():
            self._launch(self.status[name], run)
        if self._tasks:
            log.info("%s started %d workers: %s", self.service, len(self._tasks), ", ".join(self._tasks))

    async def stop(self) -> None:
        self._started = False
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        closers, self._closers = self._closers, []
        for close in closers:
            try:
                await close()
            except Exception:  # one client that fails to close must not keep the others open
                log.exception("closing after the workers stopped failed")

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator["Workers"]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    async def _supervise(self, status: WorkerStatus, run: Run) -> None:
        while True:
            try:
                await run(status)
                status.last_error = "returned"
                log.error("worker %s stopped by itself", status.name)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the supervisor's purpose: log the crash, back off, start it again
                status.restarts += 1
                if database_unavailable(err):
                    # not the worker's fault, and readiness says so already: retry at the first pause, so that
                    # the work resumes as soon as the database is back, and do not count it as a crash in a row
                    log.warning("worker %s: the database is unavailable (%s)", status.name, type(err).__name__)
                    await asyncio.sleep(self.backoff)
                    continue
                status.last_error = f"{type(err).__name__}: {err}"[:300]
                log.exception("worker %s crashed", status.name)
            else:
                status.restarts += 1
            status.failures += 1
            delay = min(self.backoff * 2 ** (status.failures - 1), self.backoff_max)
            log.warning("worker %s restarts in %.1f s (crash %d in a row)", status.name, delay, status.failures)
            await asyncio.sleep(delay)

    def trouble(self, status: WorkerStatus) -> str | None:
        """Why this worker is not healthy (stalled, or crashing again and again), or None."""
        if status.name not in self._tasks:
            return None
        if status.failures >= self.max_failures:
            return f"worker {status.name} crashed {status.failures} times in a row ({status.last_error})"
        age, limit = status.heartbeat_age(), self.stall_limit(status)
        if age > limit:
            return f"worker {status.name} stalled: no heartbeat for {age:.0f} s (limit {limit:.0f} s)"
        return None

    def problems(self) -> list[str]:
        """One line per worker that is not healthy."""
        return [line for status in self.status.values() if (line := self.trouble(status)) is not None]
