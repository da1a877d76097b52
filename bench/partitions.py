"""Years of history: evaluation's node runs partitioned by month against the same runs in one plain table.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test uv run python bench/partitions.py   # 50 000 000 runs
    uv run python bench/partitions.py --rows 5000000                                           # a smaller run

One fresh database on the same server, two schemas side by side: `flat` migrated to evaluation_0018 (node_runs
one table; the schema then renamed), `partitioned` migrated to head, its node_runs then converted to month
partitions by pledge_common.partitions.convert_sync (what the withdrawn evaluation_0019 did). Both hold the
same node runs, generated in Postgres with generate_series (bench/reports.py's shape: 4 processes, 13 nodes,
3 segments, 2 sources, durations log-uniform 5 min to 3.5 days, 3 % cancelled, 1 % never finished), spread
evenly over 36 months (2023-12 to 2026-11: three years of a province-size utility at 50 M), each run recorded
in the month it started, with the rollups the projection keeps. Secondary indexes
are built after the load on both.

Measured on each, best and median of --repeat:
  (a) the monthly report: the very SQL GET /v1/reports/achievement runs (ReportRepository.state_sql and
      duration_sql), grouped by process and node, for a recent month (2026-10) and an old one (2024-06);
  (b) ingest: a batch of --batch node runs started in the current month inserted in one statement (rolled back);
  (c) retention: the oldest month removed, DROP TABLE of its partition against DELETE of its rows.
Ratios are partitioned ÷ flat (below 1: the partitioned build is faster).
"""

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
from evaluation_svc.reports.query import build_query
from evaluation_svc.reports.repository import ReportFilter, ReportRepository
from pledge_common.db import create_engine
from pledge_common.partitions import PartitionedTable, convert_sync, create_partition_sql
from pledge_common.settings import to_plain_url
from pledge_dev import migrate
from pledge_dev.pg import fresh_database
from reports import GENERATE, NODES, ROLLUPS

CST = timezone(timedelta(hours=8))
FIRST_MONTH = datetime(2023, 12, 1, tzinfo=UTC)
MONTHS = 36
CURRENT = datetime(2026, 12, 1, tzinfo=UTC)  # the month ingest writes into (after the generated history)
REPORT_MONTHS = {
    "recent month 2026-10": (datetime(2026, 10, 1, tzinfo=CST), datetime(2026, 11, 1, tzinfo=CST)),
    "old month 2024-06": (datetime(2024, 6, 1, tzinfo=CST), datetime(2024, 7, 1, tzinfo=CST)),
}
FLAT_REVISION = "evaluation_0018"
FLAT = "flat_history"  # the flat build: evaluation_0018's schema, renamed
PARTITIONED = "evaluation"

# node_runs' indexes, built on the partitioned parent (and so on every partition)
NODE_RUNS_INDEXES = (
    "CREATE INDEX node_runs_ended_at ON node_runs (ended_at) WHERE ended_at IS NOT NULL",
    "CREATE INDEX node_runs_open ON node_runs (process_key) WHERE ended_at IS NULL AND started_at IS NOT NULL",
    """CREATE INDEX node_runs_active ON node_runs USING gist (tstzrange(started_at, ended_at, '[)'))
       INCLUDE (started_at, ended_at, process_key, node_key, segment, department, position, source, commitment_id,
                commitment_key, commitment_due_at, tolerance_due_at, exempted)
       WHERE started_at IS NOT NULL""",
    "CREATE INDEX node_runs_next_alert ON node_runs (next_alert_at) WHERE next_alert_at IS NOT NULL",
    "CREATE INDEX node_runs_commitment ON node_runs (commitment_key, ended_at)",
    "CREATE INDEX node_runs_unjudged ON node_runs (process_key) WHERE commitment_id IS NULL",
    "CREATE INDEX node_runs_ticket ON node_runs (ticket_id)",
    "CREATE INDEX node_runs_ended_by_ticket ON node_runs (process_key, ended_at) WHERE ended_by_ticket",
    "CREATE STATISTICS node_runs_cells (dependencies, mcv)"
    " ON process_key, coalesce(node_key, ''), coalesce(department, '') FROM node_runs",
)


async def partition_node_runs(url: str) -> None:
    """The migrated evaluation schema's node_runs converted to month partitions on `recorded_at` (the service's
    migrations keep it one table: docs/operations.md, "Years of history")."""
    engine = create_engine(url, PARTITIONED, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(
                lambda c: convert_sync(
                    c, "node_runs", "recorded_at", primary_key=("id", "recorded_at"), indexes=NODE_RUNS_INDEXES,
                    new_column="recorded_at timestamptz NOT NULL DEFAULT date_trunc('month', now(), 'UTC')",
                    existing_value="date_trunc('month', coalesce(started_at, updated_at), 'UTC')",
                )
            )  # fmt: skip
    finally:
        await engine.dispose()


# the partitioned table needs each run's month of record: the month it started in
_COLUMNS_END = "final_state, exempted, alert_level_done, next_alert_at)"
_VALUES_END = "       false, 0, NULL\nFROM raw"
assert _COLUMNS_END in GENERATE
assert _VALUES_END in GENERATE
GENERATE_RECORDED = GENERATE.replace(
    _COLUMNS_END, "final_state, exempted, alert_level_done, next_alert_at, recorded_at)"
)
GENERATE_RECORDED = GENERATE_RECORDED.replace(
    _VALUES_END, "       false, 0, NULL, date_trunc('month', r.started_at, 'UTC')\nFROM raw"
)


def month(i: int) -> datetime:
    k = FIRST_MONTH.year * 12 + FIRST_MONTH.month - 1 + i
    return datetime(k // 12, k % 12 + 1, 1, tzinfo=UTC)


async def connect(url: str, schema: str) -> asyncpg.Connection:
    return await asyncpg.connect(to_plain_url(url), server_settings={"search_path": f"{schema},public"})


async def drop_secondary_indexes(conn: asyncpg.Connection, schema: str) -> list[str]:
    """Drop node_runs' indexes other than its primary key (loads are faster without them); their CREATE
    statements, to build them again after the load."""
    rows = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'node_runs'"
        " AND indexname <> 'node_runs_pkey'",
        schema,
    )
    for name, _ in rows:
        await conn.execute(f'DROP INDEX "{schema}"."{name}"')
    # pg_indexes gives a partitioned parent's index `ON ONLY` (the parent alone, left invalid): built again as
    # such, no partition would have it. Without ONLY it is built on every partition.
    return [r[1].replace(" ON ONLY ", " ON ", 1) for r in rows]


async def load_flat(url: str, rows: int) -> float:
    """`rows` node runs over MONTHS months in the flat build, then its indexes and rollups; seconds taken."""
    processes = [p for p, nodes in NODES.items() for _ in nodes]
    nodes = [n for ns in NODES.values() for n in ns]
    started = time.perf_counter()
    conn = await connect(url, FLAT)
    try:
        indexes = await drop_secondary_indexes(conn, FLAT)
        per_month = rows // MONTHS
        step = 500_000
        for i in range(MONTHS):
            first = i * per_month + 1
            last = rows if i == MONTHS - 1 else (i + 1) * per_month
            for lo in range(first, last + 1, step):
                hi = min(last, lo + step - 1)
                await conn.execute(GENERATE, lo, hi, processes, nodes, month(i), CURRENT)
        await conn.execute("SET maintenance_work_mem = '256MB'")
        for statement in indexes:
            await conn.execute(statement)
        for statement in ROLLUPS:
            await conn.execute(statement)
    finally:
        await conn.close()
    return time.perf_counter() - started


async def load_partitioned(url: str) -> float:
    """The same runs (and rollups) in the partitioned build, a partition per month, each run recorded in
    the month it started; seconds taken."""
    started = time.perf_counter()
    conn = await connect(url, PARTITIONED)
    try:
        table = PartitionedTable(PARTITIONED, "node_runs", "recorded_at")
        for i in range(MONTHS):
            await conn.execute(create_partition_sql(table, month(i).date()))
        indexes = await drop_secondary_indexes(conn, PARTITIONED)
        columns = ", ".join(r[0] for r in await conn.fetch(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'flat_history.node_runs'::regclass AND attnum > 0"
            " AND NOT attisdropped ORDER BY attnum"))  # fmt: skip
        await conn.execute(
            f"INSERT INTO node_runs ({columns}, recorded_at)"
            f" SELECT {columns}, date_trunc('month', started_at, 'UTC') FROM {FLAT}.node_runs"
        )
        await conn.execute("SET maintenance_work_mem = '256MB'")
        for statement in indexes:
            await conn.execute(statement)
        for rollup in ("run_state_hourly", "run_duration_daily"):
            await conn.execute(f"INSERT INTO {rollup} SELECT * FROM {FLAT}.{rollup}")
        for statement in ROLLUPS:
            if statement.startswith("VACUUM"):
                await conn.execute(statement)
    finally:
        await conn.close()
    return time.perf_counter() - started


def to_asyncpg(sql: str, params: dict[str, object]) -> tuple[str, list[object]]:
    names = sorted(params, key=len, reverse=True)
    order: list[str] = []
    for name in names:
        if f":{name}" in sql:
            order.append(name)
            sql = sql.replace(f":{name}", f"${len(order)}")
    return sql, [params[n] for n in order]


def report_statements(start: datetime, end: datetime) -> list[tuple[str, list[object]]]:
    query = build_query(
        now=datetime(2026, 12, 3, tzinfo=UTC), as_of=None, start=start, end=end, bucket=None, timezone="UTC",
        group_by="process,node", default_group=(), flt=ReportFilter(), agreement=None, max_days=366,
        rollup_timezone="Asia/Shanghai",
    )  # fmt: skip
    states = ReportRepository.state_sql(query.windows, query.filter, query.group_by)
    durations = ReportRepository.duration_sql(query.windows, query.filter, query.group_by)
    return [to_asyncpg(*states), to_asyncpg(*durations)]


async def timed(repeat: int, run: Callable[[], Awaitable[object]]) -> list[float]:
    times = []
    for _ in range(repeat + 1):
        t = time.perf_counter()
        await run()
        times.append(time.perf_counter() - t)
    return times[1:]  # the first warms the caches, for both builds alike


async def time_report(url: str, schema: str, start: datetime, end: datetime, repeat: int) -> tuple[list[float], int]:
    statements = report_statements(start, end)
    conn = await connect(url, schema)
    counted = 0
    try:

        async def run() -> None:
            nonlocal counted
            rows = await conn.fetch(statements[0][0], *statements[0][1])
            counted = sum(r["n"] for r in rows)
            await conn.fetch(statements[1][0], *statements[1][1])

        return await timed(repeat, run), counted
    finally:
        await conn.close()


async def time_ingest(url: str, schema: str, rows: int, batch: int, repeat: int) -> list[float]:
    partitioned = schema == PARTITIONED
    processes = [p for p, nodes in NODES.items() for _ in nodes]
    nodes = [n for ns in NODES.values() for n in ns]
    generate = GENERATE_RECORDED if partitioned else GENERATE
    conn = await connect(url, schema)
    try:

        async def run() -> None:
            async with conn.transaction():
                await conn.execute(
                    generate, rows + 1, rows + batch, processes, nodes, CURRENT, CURRENT + timedelta(days=3)
                )
                raise _Rollback

        async def rolled_back() -> None:
            with contextlib.suppress(_Rollback):
                await run()

        return await timed(repeat, rolled_back)
    finally:
        await conn.close()


class _Rollback(Exception):
    pass


async def time_retention(url: str, schema: str) -> tuple[float, int]:
    """Remove the oldest generated month: seconds, rows removed."""
    partitioned = schema == PARTITIONED
    conn = await connect(url, schema)
    try:
        t = time.perf_counter()
        if partitioned:
            name = f"node_runs_p{FIRST_MONTH:%Y%m}"
            n = await conn.fetchval(f"SELECT count(*) FROM {name}")
            t = time.perf_counter()
            await conn.execute(f"DROP TABLE {name}")
        else:
            status = await conn.execute("DELETE FROM node_runs WHERE started_at < $1", month(1))
            n = int(status.split()[-1])
        return time.perf_counter() - t, n
    finally:
        await conn.close()


def summary(times: list[float]) -> str:
    return f"best {min(times) * 1000:9.1f} ms   median {statistics.median(times) * 1000:9.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--batch", type=int, default=50_000, help="node runs per ingest batch")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with fresh_database("test") as url:
        # one database, two schemas: evaluation_0018's (renamed) and head's
        migrate.upgrade(migrate.COMPONENTS["evaluation"], url, FLAT_REVISION)
        asyncio.run(rename_schema(url, PARTITIONED, FLAT))
        migrate.upgrade(migrate.COMPONENTS["evaluation"], url)
        asyncio.run(partition_node_runs(url))
        took = asyncio.run(load_flat(url, args.rows))
        print(
            f"flat         {args.rows:,} node runs over {MONTHS} months, indexes and rollups in {took:.0f} s",
            flush=True,
        )
        took = asyncio.run(load_partitioned(url))
        print(
            f"partitioned  the same runs in {MONTHS} month partitions, indexes and rollups in {took:.0f} s", flush=True
        )
        builds = {"flat": FLAT, "partitioned": PARTITIONED}
        medians: dict[str, dict[str, float]] = {n: {} for n in builds}
        for label, (start, end) in REPORT_MONTHS.items():
            print(f"\nmonthly report, {label} (states and durations by process and node)")
            for name, schema in builds.items():
                times, counted = asyncio.run(time_report(url, schema, start, end, args.repeat))
                medians[name][label] = statistics.median(times)
                print(f"  {name:12} {summary(times)}   ({counted:,} runs counted)", flush=True)
            print(f"  partitioned ÷ flat  {medians['partitioned'][label] / medians['flat'][label]:.2f}")
        print(f"\ningest: {args.batch:,} node runs into the current month in one statement")
        for name, schema in builds.items():
            times = asyncio.run(time_ingest(url, schema, args.rows, args.batch, args.repeat))
            medians[name]["ingest"] = statistics.median(times)
            print(f"  {name:12} {summary(times)}   {args.batch / statistics.median(times):,.0f} runs/s", flush=True)
        print(f"  partitioned ÷ flat (time)  {medians['partitioned']['ingest'] / medians['flat']['ingest']:.2f}")
        print("\nretention: the oldest month removed")
        for name, schema in builds.items():
            took, n = asyncio.run(time_retention(url, schema))
            medians[name]["retention"] = took
            way = "DROP TABLE of its partition" if name == "partitioned" else "DELETE of its rows"
            print(f"  {name:12} {took * 1000:9.1f} ms   {n:,} runs ({way})", flush=True)
        print(f"  partitioned ÷ flat  {medians['partitioned']['retention'] / medians['flat']['retention']:.4f}")


async def rename_schema(url: str, old: str, new: str) -> None:
    conn = await asyncpg.connect(to_plain_url(url))
    try:
        await conn.execute(f'ALTER SCHEMA "{old}" RENAME TO "{new}"')
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
