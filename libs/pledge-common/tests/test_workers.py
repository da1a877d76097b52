"""The worker kit: a crashed worker is logged and restarted with backoff, a stalled one is reported, stop is clean."""

import asyncio
import logging
from collections.abc import Callable

import pytest
from pledge_common.workers import Heartbeat, Wakeup, Workers, polling
from sqlalchemy.exc import DBAPIError


async def until(condition: Callable[[], bool], rounds: int = 2000) -> None:
    """Let the workers run until `condition()` holds (bounded by scheduler rounds, not by time)."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition not reached")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_crashed_worker_is_logged_and_restarted_until_it_runs(caplog: pytest.LogCaptureFixture) -> None:
    attempts = 0
    healthy = asyncio.Event()

    async def flaky(heartbeat: Heartbeat) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            raise RuntimeError(f"boom {attempts}")
        heartbeat.beat()
        healthy.set()
        await asyncio.Event().wait()

    workers = Workers("svc", backoff=0.0)
    status = workers.add("flaky", flaky, kind="consumer")
    with caplog.at_level(logging.WARNING, logger="pledge.workers"):
        async with workers.running():
            await asyncio.wait_for(healthy.wait(), timeout=10)
            assert status.restarts == 2
            assert status.failures == 0  # the beat after the restart cleared the run of crashes
            assert status.last_error == "RuntimeError: boom 2"
            assert workers.problems() == []
    crashes = [r for r in caplog.records if r.getMessage() == "worker flaky crashed"]
    assert len(crashes) == 2
    assert all(r.exc_info is not None for r in crashes)


async def test_the_restart_backoff_doubles_up_to_its_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []
    real_sleep = asyncio.sleep

    async def recorded_sleep(seconds: float) -> None:
        pauses.append(seconds)
        await real_sleep(0)

    async def broken(heartbeat: Heartbeat) -> None:
        raise ValueError("never works")

    workers = Workers("svc", backoff=1.0, backoff_max=5.0)
    status = workers.add("broken", broken)
    monkeypatch.setattr("pledge_common.workers.asyncio.sleep", recorded_sleep)
    async with workers.running():
        await until(lambda: status.restarts >= 5)
    restart_pauses = [p for p in pauses if p != 0.001]  # not the ones of `until` itself
    assert restart_pauses[:5] == [1.0, 2.0, 4.0, 5.0, 5.0]


async def test_a_worker_crashing_again_and_again_is_reported_by_name() -> None:
    async def broken(heartbeat: Heartbeat) -> None:
        raise ConnectionError("database refused")

    workers = Workers("svc", backoff=0.0, max_failures=3)
    workers.add("steady", polling(_idle_step, interval=3600))
    workers.add("broken", broken)
    async with workers.running():
        await until(lambda: workers.status["broken"].failures >= 3)
        problems = workers.problems()
    assert len(problems) == 1  # the steady worker is fine
    assert problems[0].startswith("worker broken crashed ")
    assert problems[0].endswith("times in a row (ConnectionError: database refused)")


async def _idle_step() -> bool:
    return False


async def test_a_worker_whose_heartbeat_is_too_old_has_stalled_and_recovers_when_it_beats() -> None:
    clock = FakeClock()
    beat_now = asyncio.Event()
    beats = 0

    async def stuck(heartbeat: Heartbeat) -> None:
        nonlocal beats
        while True:
            await beat_now.wait()
            beat_now.clear()
            heartbeat.beat()
            beats += 1

    workers = Workers("svc", stall_after=60, clock=clock)
    status = workers.add("stuck", stuck, idle_gap=30)  # three idle gaps (90 s) are more than stall_after
    async with workers.running():
        clock.now += 89
        assert workers.problems() == []
        clock.now += 2
        assert workers.problems() == ["worker stuck stalled: no heartbeat for 91 s (limit 90 s)"]
        assert status.heartbeat_age() == 91
        beat_now.set()
        await until(lambda: beats == 1)
        assert workers.problems() == []


async def test_stop_cancels_every_worker_and_closes_what_they_used() -> None:
    cancelled: list[str] = []
    closed: list[str] = []
    running = asyncio.Event()

    async def forever(heartbeat: Heartbeat) -> None:
        try:
            running.set()
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append("forever")
            raise

    async def close() -> None:
        closed.append("client")

    workers = Workers("svc")
    workers.add("forever", forever)
    workers.on_stop(close)
    async with workers.running():
        await asyncio.wait_for(running.wait(), timeout=10)
    assert cancelled == ["forever"]
    assert closed == ["client"]
    assert workers.problems() == []  # stopped workers are not stalled ones


async def test_a_polling_worker_beats_on_idle_rounds_and_runs_again_when_woken() -> None:
    rounds = 0

    async def step() -> bool:
        nonlocal rounds
        rounds += 1
        return rounds < 3  # busy twice, then idle

    wakeup = Wakeup()
    workers = Workers("svc")
    status = workers.add_polling("sender", step, interval=3600, wakeup=wakeup)
    async with workers.running():
        await until(lambda: status.beats == 3)
        assert rounds == 3  # idle now, for an hour unless woken
        wakeup.wake()
        await until(lambda: status.beats == 4)
        assert rounds == 4


async def test_a_worker_added_while_the_others_run_starts_at_once() -> None:
    started = asyncio.Event()

    async def late(heartbeat: Heartbeat) -> None:
        heartbeat.beat()
        started.set()
        await asyncio.Event().wait()

    workers = Workers("svc")
    async with workers.running():
        workers.add("late", late)
        await asyncio.wait_for(started.wait(), timeout=10)


def test_two_workers_cannot_share_a_name() -> None:
    workers = Workers("svc")
    workers.add("one", polling(_idle_step, interval=1))
    with pytest.raises(ValueError, match="registered already"):
        workers.add("one", polling(_idle_step, interval=1))


async def test_a_database_outage_is_retried_at_the_first_pause_and_not_counted_as_crashes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pauses: list[float] = []
    real_sleep = asyncio.sleep

    async def recorded_sleep(seconds: float) -> None:
        pauses.append(seconds)
        await real_sleep(0)

    async def database_down(heartbeat: Heartbeat) -> None:
        raise DBAPIError("SELECT 1", {}, ConnectionResetError("gone"), connection_invalidated=True)

    workers = Workers("svc", backoff=1.0, max_failures=2)
    status = workers.add("consumer", database_down)
    monkeypatch.setattr("pledge_common.workers.asyncio.sleep", recorded_sleep)
    async with workers.running():
        await until(lambda: status.restarts >= 4)
        assert status.failures == 0
        assert workers.problems() == []  # readiness reports the database itself
    assert [p for p in pauses if p != 0.001][:4] == [1.0, 1.0, 1.0, 1.0]
