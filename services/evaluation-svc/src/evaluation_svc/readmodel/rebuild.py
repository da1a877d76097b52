"""Rebuild the report rollups from node_runs, or check them against a rebuild.

The projection keeps run_state_hourly and run_duration_daily (counts, and sums of counted seconds) up to
date one change at a time. They must be rebuilt when EVALUATION_ROLLUP_TIMEZONE changes (the duration
rollups follow its local days), and can be repaired the same way if they ever drift:

    uv run python -m evaluation_svc.readmodel.rebuild [--timezone Asia/Shanghai] [--check]
"""

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pledge_common.db import create_engine
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.config import Settings
from evaluation_svc.readmodel.repository import CONTRIBUTIONS, ROLLUP_DIMS, day_start

ROLLUPS = ("run_state_hourly", "run_duration_daily")
SHOWN_DIFFERENCES = 20

# What every finished run adds to the rollups, grouped once per rebuild or check (ON COMMIT DROP, and dropped
# when done: a transaction may check, then rebuild).
_CONTRIBUTIONS_TEMP = "rollup_contributions"
_CONTRIBUTIONS_TABLE = f"pg_temp.{_CONTRIBUTIONS_TEMP}"  # named with pg_temp: never a table of the schema
_DIM_TYPES = ", ".join(f"{d} {'boolean' if d == 'exempted' else 'text'}" for d in ROLLUP_DIMS)
_DIMS = ", ".join(ROLLUP_DIMS)
_C_DIMS = ", ".join(f"c.{d}" for d in ROLLUP_DIMS)
_SETUP = (
    f"DROP TABLE IF EXISTS {_CONTRIBUTIONS_TABLE}",
    f"""CREATE TEMP TABLE {_CONTRIBUTIONS_TEMP} (hour timestamptz, day date, {_DIM_TYPES}, state text, bucket integer,
        n bigint, seconds numeric) ON COMMIT DROP""",
)
_FILL = text(f"INSERT INTO {_CONTRIBUTIONS_TABLE} {CONTRIBUTIONS.format(source='node_runs')}")
_DAYS = text(f"SELECT DISTINCT day FROM {_CONTRIBUTIONS_TABLE} WHERE bucket IS NOT NULL")
# The cells a rebuild writes. The local days' first instants come from Python (`day_start`, :days → :starts),
# as the projection computes them: Postgres resolves a skipped or repeated local midnight differently.
_WANTED = f"""
    wanted_states AS (
        SELECT hour, {_DIMS}, state, sum(n)::bigint AS n FROM {_CONTRIBUTIONS_TABLE} GROUP BY hour, {_DIMS}, state
    ),
    wanted_durations AS (
        SELECT d.starts_at AS day, {_C_DIMS}, c.bucket, sum(c.n)::bigint AS n, sum(c.seconds) AS seconds
        FROM {_CONTRIBUTIONS_TABLE} c
        JOIN unnest(CAST(:days AS date[]), CAST(:starts AS timestamptz[])) AS d(day, starts_at) ON d.day = c.day
        WHERE c.bucket IS NOT NULL
        GROUP BY d.starts_at, {_C_DIMS}, c.bucket
    )
"""
_REFILL = text(
    f"""
    WITH {_WANTED},
    states AS (INSERT INTO run_state_hourly (hour, {_DIMS}, state, n) SELECT * FROM wanted_states RETURNING n),
    durations AS (
        INSERT INTO run_duration_daily (day, {_DIMS}, bucket, n, seconds) SELECT * FROM wanted_durations RETURNING n
    )
    SELECT (SELECT count(*) FROM states) AS state_cells, (SELECT count(*) FROM durations) AS duration_cells,
           (SELECT coalesce(sum(n), 0) FROM states) AS runs, (SELECT coalesce(sum(n), 0) FROM durations) AS timed_runs
    """
)
# Stored cells that differ from the wanted ones (a stored 0 is no cell: the projection leaves emptied cells).
_DIFFERENCES = text(
    f"""
    WITH {_WANTED}
    SELECT 'run_state_hourly' AS rollup, hour AS at, {_DIMS}, state AS cell,
           coalesce(s.n, 0) AS stored, coalesce(w.n, 0) AS rebuilt,
           CAST(0 AS numeric) AS stored_seconds, CAST(0 AS numeric) AS rebuilt_seconds
    FROM wanted_states w FULL JOIN run_state_hourly s USING (hour, {_DIMS}, state)
    WHERE coalesce(s.n, 0) <> coalesce(w.n, 0)
    UNION ALL
    SELECT 'run_duration_daily', day, {_DIMS}, bucket::text, coalesce(s.n, 0), coalesce(w.n, 0),
           coalesce(s.seconds, 0), coalesce(w.seconds, 0)
    FROM wanted_durations w FULL JOIN run_duration_daily s USING (day, {_DIMS}, bucket)
    WHERE coalesce(s.n, 0) <> coalesce(w.n, 0) OR coalesce(s.seconds, 0) <> coalesce(w.seconds, 0)
    ORDER BY rollup DESC, at, {_DIMS}, cell
    """
)


class UnknownTimeZoneError(ValueError):
    def __init__(self, tz: str) -> None:
        super().__init__(f"unknown time zone {tz!r}: give an IANA name such as 'UTC' or 'Asia/Shanghai'")
        self.tz = tz


@dataclass(frozen=True, slots=True)
class RebuildCounts:
    state_cells: int  # rows written to run_state_hourly
    duration_cells: int  # rows written to run_duration_daily
    runs: int  # finished runs counted (each in one hourly cell)
    timed_runs: int  # completed runs among them (each also in one daily duration cell)

    @property
    def cells(self) -> int:
        return self.state_cells + self.duration_cells


@dataclass(frozen=True, slots=True)
class CellDifference:
    rollup: str  # run_state_hourly or run_duration_daily
    at: datetime  # the cell's hour, or the first instant of its local day
    dims: dict[str, Any]  # ROLLUP_DIMS
    cell: str  # the state, or the duration bucket
    stored: int
    rebuilt: int
    stored_seconds: float = 0.0  # a duration cell's sum of counted seconds (0 for a state cell)
    rebuilt_seconds: float = 0.0

    def describe(self) -> str:
        dims = " ".join(f"{k}={v}" for k, v in self.dims.items() if v not in ("", False))
        counts = f"stored {self.stored}, rebuilt {self.rebuilt}"
        if self.stored_seconds != self.rebuilt_seconds:
            counts += f" (seconds: stored {self.stored_seconds:g}, rebuilt {self.rebuilt_seconds:g})"
        return f"{self.rollup} {self.at.isoformat()} {dims} {self.cell}: {counts}"


def check_time_zone(tz: str) -> str:
    """`tz` if Python knows it (the projection needs it to find local midnights), else UnknownTimeZoneError."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimeZoneError(tz) from None
    return tz


async def _check_server_time_zone(session: AsyncSession, tz: str) -> None:
    """UnknownTimeZoneError unless both Python and the database server know `tz`."""
    check_time_zone(tz)
    known = await session.scalar(text("SELECT EXISTS (SELECT FROM pg_timezone_names WHERE name = :tz)"), {"tz": tz})
    if not known:
        raise UnknownTimeZoneError(tz)


async def _group_contributions(session: AsyncSession, tz: str) -> dict[str, list[Any]]:
    """Group the finished runs' contributions (in `tz`) into the temporary table; returns the day parameters."""
    for statement in _SETUP:
        await session.execute(text(statement))
    await session.execute(_FILL, {"tz": tz})
    days: list[date] = list((await session.scalars(_DAYS)).all())
    return {"days": days, "starts": [day_start(d, tz) for d in days]}


async def rebuild_rollups(session: AsyncSession, tz: str) -> RebuildCounts:
    """Replace both rollups by what node_runs give in time zone `tz`, in the caller's transaction.

    The EXCLUSIVE lock makes projection writers wait until the caller commits, while reports keep reading
    the old rollups. A writer that changed node_runs before the lock but has not committed waits too, and
    then adds its change to the rebuilt rollups: the rebuild reads only committed runs.
    """
    await _check_server_time_zone(session, tz)
    await session.execute(text(f"LOCK TABLE {', '.join(ROLLUPS)} IN EXCLUSIVE MODE"))
    params = await _group_contributions(session, tz)
    for table in ROLLUPS:
        await session.execute(text(f"DELETE FROM {table}"))  # not TRUNCATE: readers keep the old rows
    counts = (await session.execute(_REFILL, params)).one()
    await session.execute(text(f"DROP TABLE {_CONTRIBUTIONS_TABLE}"))
    return RebuildCounts(
        state_cells=counts.state_cells,
        duration_cells=counts.duration_cells,
        runs=counts.runs,
        timed_runs=counts.timed_runs,
    )


async def rollup_differences(session: AsyncSession, tz: str) -> list[CellDifference]:
    """Cells where the stored rollups differ from what a rebuild in `tz` would write; changes nothing.

    Consistent when the caller's transaction is REPEATABLE READ (as the command's is): the projection
    changes node_runs and the rollups in the same transaction, so one snapshot sees both agree.
    """
    await _check_server_time_zone(session, tz)
    params = await _group_contributions(session, tz)
    rows = (await session.execute(_DIFFERENCES, params)).mappings().all()
    await session.execute(text(f"DROP TABLE {_CONTRIBUTIONS_TABLE}"))
    return [
        CellDifference(
            rollup=r["rollup"],
            at=r["at"],
            dims={d: r[d] for d in ROLLUP_DIMS},
            cell=r["cell"],
            stored=r["stored"],
            rebuilt=r["rebuilt"],
            stored_seconds=float(r["stored_seconds"]),
            rebuilt_seconds=float(r["rebuilt_seconds"]),
        )
        for r in rows
    ]


# --- command ------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation_svc.readmodel.rebuild",
        description="Rebuild evaluation's report rollups from its node runs (settings from EVALUATION_* / "
        "DATABASE_URL), or with --check only compare them with a rebuild.",
    )
    parser.add_argument(
        "--timezone",
        metavar="TZ",
        help="time zone of the duration rollups' days (default: EVALUATION_ROLLUP_TIMEZONE)",
    )
    parser.add_argument(
        "--check", action="store_true", help="change nothing; list differing cells and exit 1 if there are any"
    )
    return parser


async def command(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    """The command line; returns the exit status (0 done or equal, 1 cells differ, 2 refused)."""
    args = _parser().parse_args(argv)
    settings = settings or Settings()
    tz = args.timezone or settings.rollup_timezone
    try:
        check_time_zone(tz)
    except UnknownTimeZoneError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not settings.database_url:
        print("error: no database: set EVALUATION_DATABASE_URL or DATABASE_URL", file=sys.stderr)
        return 2
    if settings.retention_months is not None and not args.check:
        # the rollups hold the only counts of the months retention dropped: a rebuild from node_runs loses them
        print(
            "error: EVALUATION_RETENTION_MONTHS is set: node runs of dropped months are gone and a rebuild would"
            " lose their counts (--check still compares)",
            file=sys.stderr,
        )
        return 2
    engine = create_engine(settings.database_url, settings.db_schema, pool_size=1, app_name="evaluation-rebuild")
    try:
        try:
            connection = await engine.connect()
        except (OSError, DBAPIError) as err:
            print(f"error: cannot connect to the database: {getattr(err, 'orig', None) or err}", file=sys.stderr)
            return 2
        try:
            if args.check:
                await connection.execution_options(isolation_level="REPEATABLE READ")  # one snapshot throughout
                async with AsyncSession(bind=connection) as session, session.begin():
                    differences = await rollup_differences(session, tz)
                return _report_differences(differences, tz)
            async with AsyncSession(bind=connection) as session, session.begin():
                counts = await rebuild_rollups(session, tz)
            return _report_rebuild(counts, tz, settings.rollup_timezone)
        finally:
            await connection.close()
    except UnknownTimeZoneError as err:
        print(f"error: {err} (unknown to the database server)", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()


def _report_rebuild(counts: RebuildCounts, tz: str, configured_tz: str) -> int:
    print(
        f"Rebuilt the rollups in {tz}: {counts.state_cells} hourly state cells and {counts.duration_cells} "
        f"daily duration cells from {counts.runs} finished runs ({counts.timed_runs} completed)."
    )
    if tz != configured_tz:
        print(
            f"Note: EVALUATION_ROLLUP_TIMEZONE is {configured_tz} here; every evaluation-svc replica must run "
            f"with {tz}, or its projection and reports keep using {configured_tz} days."
        )
    return 0


def _report_differences(differences: Sequence[CellDifference], tz: str) -> int:
    if not differences:
        print(f"The rollups match a rebuild in {tz}.")
        return 0
    print(f"{len(differences)} rollup cells differ from a rebuild in {tz}:")
    for difference in differences[:SHOWN_DIFFERENCES]:
        print(f"  {difference.describe()}")
    if len(differences) > SHOWN_DIFFERENCES:
        print(f"  ... and {len(differences) - SHOWN_DIFFERENCES} more")
    print("Rebuild them with the same command without --check.")
    return 1


def main() -> int:
    return asyncio.run(command())


if __name__ == "__main__":
    sys.exit(main())
