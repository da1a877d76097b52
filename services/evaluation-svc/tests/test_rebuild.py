"""Rebuilding the rollups from node_runs, and checking them against a rebuild, on a real Postgres."""

import asyncio
import importlib.util
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from evalfactories import agreement, at, calendar_w, commitment, node_run, process
from evaluation_svc.config import Settings
from evaluation_svc.readmodel.rebuild import (
    RebuildCounts,
    UnknownTimeZoneError,
    command,
    rebuild_rollups,
    rollup_differences,
)
from evaluation_svc.readmodel.service import Projection
from evaluation_svc.rules import duration_bucket
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

Cells = dict[tuple[Any, ...], int]
WAITING_FOR_ROLLUPS = "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'run_state_hourly'::regclass"
DIMS = "process_key, node_key, segment, department, position, source, commitment_id, commitment_key, exempted"


def utc(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


async def empty_agreements(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        await session.execute(text("TRUNCATE ref_agreements, force_majeure"))


@pytest.fixture
async def sessions(committed: async_sessionmaker[AsyncSession]) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """`committed`, emptying also the agreement tables that it leaves alone (project_runs signs an agreement)."""
    await empty_agreements(committed)
    yield committed
    await empty_agreements(committed)


async def project_runs(session: AsyncSession, projection: Projection) -> None:
    """Runs of every kind the rollups see: completed in each state, cancelled, still open, exempted, moved
    by a late event (which leaves an emptied cell behind), ending either side of UTC and local midnights."""
    await projection.handle_commitment(session, [calendar_w(), process(), commitment()])
    await projection.handle_tracking(
        session,
        [
            node_run("normal", started=at("2026-03-03 10:00"), completed=at("2026-03-03 15:00")),
            node_run("normal-2", started=at("2026-03-03 10:30"), completed=at("2026-03-03 15:20")),
            node_run("acceptable", started=at("2026-03-03 10:00"), completed=at("2026-03-04 11:30")),
            node_run("warning", started=at("2026-03-03 10:00"), completed=at("2026-03-04 13:30"), department=None),
            node_run("night", started=at("2026-03-03 16:00"), completed=at("2026-03-04 05:00"), segment="vip"),
            node_run("cancelled", started=at("2026-03-03 10:00"), cancelled=at("2026-03-03 11:00")),
            node_run("open", started=at("2026-03-03 10:00")),
            node_run("late", started=at("2026-03-05 10:00"), completed=at("2026-03-06 13:30")),
            node_run("storm", started=at("2026-03-10 10:00"), completed=at("2026-03-11 13:30"), source="ivr"),
        ],
    )
    pause = ((at("2026-03-05 11:00"), at("2026-03-05 15:00"), "awaiting-customer"),)
    await projection.handle_tracking(
        session, [node_run("late", started=at("2026-03-05 10:00"), completed=at("2026-03-06 13:30"), pauses=pause)]
    )
    await projection.handle_commitment(
        session, [agreement(force_majeure=((at("2026-03-10 00:00"), at("2026-03-11 00:00"), "typhoon"),))]
    )


async def cells(session: AsyncSession, table: str) -> Cells:
    """A rollup's cells with a count (the projection leaves emptied cells at 0)."""
    first, last = ("hour", "state") if table == "run_state_hourly" else ("day", "bucket")
    rows = await session.execute(text(f"SELECT {first}, {DIMS}, {last}, n FROM {table} WHERE n <> 0"))
    return {tuple(r[:-1]): r[-1] for r in rows}


async def rollups(session: AsyncSession) -> tuple[Cells, Cells]:
    return await cells(session, "run_state_hourly"), await cells(session, "run_duration_daily")


async def corrupt(session: AsyncSession) -> None:
    """One hourly count off by 5, one daily duration cell lost, one cell that no run explains."""
    await session.execute(
        text("UPDATE run_state_hourly SET n = n + 5 WHERE hour = :h AND state = 'completed_normal'"),
        {"h": utc("2026-03-03 07:00")},
    )
    await session.execute(text("DELETE FROM run_duration_daily WHERE segment = 'vip'"))
    await session.execute(
        text(
            f"INSERT INTO run_state_hourly (hour, {DIMS}, state, n) "
            "VALUES (:h, 'fault-repair', 'repair', 'residential', 'field', 'engineer', 'crm', 'c-repair-v1', "
            "'repair-residential', false, 'cancelled', 2)"
        ),
        {"h": utc("2026-02-01 00:00")},
    )


class TestCheckAndRepair:
    async def test_rollups_the_projection_wrote_match_a_rebuild(self, session: AsyncSession) -> None:
        await project_runs(session, Projection())
        assert await rollup_differences(session, "UTC") == []

    async def test_check_lists_the_corrupted_cells_with_both_counts_and_changes_nothing(
        self, session: AsyncSession
    ) -> None:
        await project_runs(session, Projection())
        await corrupt(session)
        corrupted = await rollups(session)

        differences = await rollup_differences(session, "UTC")

        found = {(d.rollup, d.at, d.dims["segment"], d.cell, d.stored, d.rebuilt) for d in differences}
        assert found == {
            ("run_state_hourly", utc("2026-03-03 07:00"), "residential", "completed_normal", 7, 2),
            ("run_state_hourly", utc("2026-02-01 00:00"), "residential", "cancelled", 2, 0),
            # Tue 16:00 to Wed 05:00 counts the 2 working hours of Tue evening
            ("run_duration_daily", utc("2026-03-03 00:00"), "vip", str(duration_bucket(2 * 3600)), 0, 1),
        }
        assert await rollups(session) == corrupted

    async def test_rebuild_repairs_the_rollups_and_counts_what_the_projection_wrote(
        self, session: AsyncSession
    ) -> None:
        await project_runs(session, Projection())
        states, durations = await rollups(session)
        emptied = await session.scalar(text("SELECT count(*) FROM run_state_hourly WHERE n = 0"))
        assert emptied, "the late event should have left an emptied cell"
        assert any(key[9] for key in states), "the storm run should count as exempted"
        await corrupt(session)

        counts = await rebuild_rollups(session, "UTC")

        assert counts == RebuildCounts(
            state_cells=len(states),
            duration_cells=len(durations),
            runs=sum(states.values()),
            timed_runs=sum(durations.values()),
        )
        assert (counts.runs, counts.timed_runs) == (8, 7)  # every run but the open one; the cancelled one untimed
        assert await rollups(session) == (states, durations)
        assert await session.scalar(text("SELECT count(*) FROM run_state_hourly WHERE n = 0")) == 0
        assert await rollup_differences(session, "UTC") == []


async def duration_sums(session: AsyncSession) -> dict[tuple[Any, ...], Any]:
    """The duration cells' sums of counted seconds."""
    rows = await session.execute(text(f"SELECT day, {DIMS}, bucket, seconds FROM run_duration_daily WHERE n <> 0"))
    return {tuple(r[:-1]): r[-1] for r in rows}


class TestDurationSums:
    async def test_the_projection_keeps_each_cells_sum_of_counted_seconds_as_node_runs_give_it(
        self, session: AsyncSession
    ) -> None:
        await project_runs(session, Projection())  # the late run's pause moved its seconds out of its first cell
        totals = (
            await session.execute(
                text(
                    "SELECT count(*), sum(CAST(counted_seconds AS numeric)) FROM node_runs"
                    " WHERE starts_with(final_state, 'completed_')"
                )
            )
        ).one()
        kept = (await session.execute(text("SELECT sum(n), sum(seconds) FROM run_duration_daily"))).one()
        assert tuple(kept) == tuple(totals)
        assert await rollup_differences(session, "UTC") == []

    async def test_check_finds_a_drifted_sum_and_the_rebuild_repairs_it(self, session: AsyncSession) -> None:
        await project_runs(session, Projection())
        sums = await duration_sums(session)
        await session.execute(
            text("UPDATE run_duration_daily SET seconds = seconds + 60 WHERE segment = 'vip' AND n <> 0")
        )

        [difference] = await rollup_differences(session, "UTC")

        assert (difference.rollup, difference.dims["segment"], difference.stored) == ("run_duration_daily", "vip", 1)
        assert difference.stored == difference.rebuilt
        assert difference.stored_seconds - difference.rebuilt_seconds == 60
        assert "seconds: stored" in difference.describe()
        await rebuild_rollups(session, "UTC")
        assert await duration_sums(session) == sums
        assert await rollup_differences(session, "UTC") == []

    async def test_the_migration_backfills_the_sums_from_node_runs(self, session: AsyncSession) -> None:
        await project_runs(session, Projection(rollup_timezone="Asia/Shanghai"))  # days the backfill is not told
        sums = await duration_sums(session)
        await session.execute(text("UPDATE run_duration_daily SET seconds = 0"))
        path = Path(__file__).parents[1] / "migrations" / "versions" / "0009_duration_sums.py"
        spec = importlib.util.spec_from_file_location("duration_sums_migration", path)
        assert spec is not None
        assert spec.loader is not None
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        for statement in migration.UPGRADE[1:]:
            await session.execute(text(statement))
        assert await duration_sums(session) == sums
        assert await rollup_differences(session, "Asia/Shanghai") == []


class TestAnotherTimeZone:
    @pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/Havana"])
    async def test_rebuild_in_another_zone_writes_what_a_projection_in_that_zone_writes(
        self, session: AsyncSession, zone: str
    ) -> None:
        await project_runs(session, Projection())
        utc_states, utc_durations = await rollups(session)

        await rebuild_rollups(session, zone)
        rebuilt = await rollups(session)
        for table in ("node_runs", "run_state_hourly", "run_duration_daily"):
            await session.execute(text(f"DELETE FROM {table}"))
        await project_runs(session, Projection(rollup_timezone=zone))
        projected = await rollups(session)

        assert rebuilt == projected
        assert rebuilt[0] == utc_states  # hours are UTC hours whatever the zone: the same totals per state
        assert sum(rebuilt[1].values()) == sum(utc_durations.values())
        assert {k[0] for k in rebuilt[1]}.isdisjoint({k[0] for k in utc_durations})  # days start at local midnights
        assert await rollup_differences(session, zone) == []
        assert len(await rollup_differences(session, "UTC")) > 0

    async def test_local_day_shift_moves_a_run_ending_late_in_utc_to_the_next_day(self, session: AsyncSession) -> None:
        await project_runs(session, Projection())
        await rebuild_rollups(session, "Asia/Shanghai")
        _, durations = await rollups(session)
        vip_days = [k[0] for k in durations if k[3] == "vip"]  # ended 2026-03-03 21:00 UTC, 03-04 05:00 local
        assert vip_days == [utc("2026-03-03 16:00")]  # Shanghai's 2026-03-04 starts at 16:00 UTC the day before

    async def test_a_repeated_local_midnight_counts_in_the_day_the_projection_uses(self, session: AsyncSession) -> None:
        """Havana's clocks go back from 01:00 to 00:00 on 2026-11-01: its day starts at the first midnight
        (04:00 UTC) for the projection and the reports, where Postgres would say the second (05:00 UTC)."""
        projection = Projection(rollup_timezone="America/Havana")
        await projection.handle_commitment(session, [process(), commitment(calendar_key="24x7")])
        await projection.handle_tracking(
            session, [node_run("first-midnight", started=utc("2026-11-01 02:00"), completed=utc("2026-11-01 04:30"))]
        )
        _, projected = await rollups(session)

        await rebuild_rollups(session, "America/Havana")

        assert [k[0] for k in (await rollups(session))[1]] == [k[0] for k in projected] == [utc("2026-11-01 04:00")]


class TestUnknownTimeZone:
    async def test_rebuild_refuses_an_unknown_zone_and_keeps_the_rollups(self, session: AsyncSession) -> None:
        await project_runs(session, Projection())
        before = await rollups(session)
        with pytest.raises(UnknownTimeZoneError, match="Mars/Olympus"):
            await rebuild_rollups(session, "Mars/Olympus")
        with pytest.raises(UnknownTimeZoneError):
            await rollup_differences(session, "Asia")  # a folder of zones, not a zone
        assert await rollups(session) == before

    @pytest.mark.parametrize("argv", [["--timezone", "Mars/Olympus"], ["--timezone", "../etc/passwd", "--check"]])
    async def test_command_refuses_an_unknown_zone_with_status_2(
        self, argv: list[str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        status = await command(argv, Settings(database_url="postgresql://nowhere.invalid/x"))
        assert status == 2
        assert f"unknown time zone '{argv[1]}'" in capsys.readouterr().err

    async def test_command_refuses_an_unknown_configured_zone(self, capsys: pytest.CaptureFixture[str]) -> None:
        settings = Settings(database_url="postgresql://nowhere.invalid/x", rollup_timezone="Europe/Atlantis")
        assert await command([], settings) == 2
        assert "Europe/Atlantis" in capsys.readouterr().err

    async def test_command_refuses_to_rebuild_when_retention_dropped_runs(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        settings = Settings(database_url="postgresql://nowhere.invalid/x", retention_months=24)
        assert await command([], settings) == 2
        assert "EVALUATION_RETENTION_MONTHS" in capsys.readouterr().err


class TestCommand:
    async def test_check_fails_on_drift_rebuild_repairs_it_then_check_passes(
        self, sessions: async_sessionmaker[AsyncSession], settings: Settings, capsys: pytest.CaptureFixture[str]
    ) -> None:
        async with sessions() as session, session.begin():
            await project_runs(session, Projection())
            before = await rollups(session)
            await corrupt(session)

        assert await command(["--check"], settings) == 1
        out = capsys.readouterr().out
        assert "3 rollup cells differ from a rebuild in UTC" in out
        assert "completed_normal: stored 7, rebuilt 2" in out

        assert await command([], settings) == 0
        out = capsys.readouterr().out
        assert f"{len(before[0])} hourly state cells and {len(before[1])} daily duration cells from 8 finished" in out
        async with sessions() as session:
            assert await rollups(session) == before

        assert await command(["--check"], settings) == 0
        assert "match" in capsys.readouterr().out

    async def test_rebuild_in_another_zone_than_the_configured_one_says_so(
        self, sessions: async_sessionmaker[AsyncSession], settings: Settings, capsys: pytest.CaptureFixture[str]
    ) -> None:
        async with sessions() as session, session.begin():
            await project_runs(session, Projection())
        assert await command(["--timezone", "Asia/Shanghai"], settings) == 0
        assert "EVALUATION_ROLLUP_TIMEZONE is UTC here" in capsys.readouterr().out
        assert await command(["--check", "--timezone", "Asia/Shanghai"], settings) == 0


class TestConcurrentWriters:
    async def test_writers_wait_for_the_rebuild_readers_do_not_and_nothing_is_lost(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        projection = Projection()
        async with sessions() as session, session.begin():
            await project_runs(session, projection)
            await corrupt(session)
        async with sessions() as session:
            corrupted_total = await session.scalar(text("SELECT sum(n) FROM run_state_hourly"))

        async def write_a_run() -> None:
            async with sessions() as session, session.begin():
                run = node_run("during", started=at("2026-03-12 10:00"), completed=at("2026-03-12 12:00"))
                await projection.handle_tracking(session, [run])

        async with sessions() as rebuilding, rebuilding.begin():
            await rebuild_rollups(rebuilding, "UTC")
            writer = asyncio.create_task(write_a_run())
            async with sessions() as watcher:
                for _ in range(200):  # until the writer waits for the rollups' lock
                    waiting = await watcher.scalar(text(WAITING_FOR_ROLLUPS))
                    if waiting:
                        break
                    await asyncio.sleep(0.05)
                assert waiting == 1
                assert not writer.done()
                # a report reads the rollups as they were, without waiting
                read = await asyncio.wait_for(watcher.scalar(text("SELECT sum(n) FROM run_state_hourly")), timeout=5)
                assert read == corrupted_total
        await asyncio.wait_for(writer, timeout=30)

        async with sessions() as session:
            assert await rollup_differences(session, "UTC") == []
            assert await session.scalar(text("SELECT sum(n) FROM run_state_hourly")) == 9
