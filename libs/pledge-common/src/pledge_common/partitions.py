"""Monthly range partitions of a service's big tables: created ahead, expired ones dropped whole.

A partitioned table `t` (PARTITION BY RANGE on one timestamptz column) has one partition per UTC month,
`t_pYYYYMM` holding [first instant of the month, first instant of the next), and `t_default` for any row
outside them (a backfill older than the oldest month, a clock far ahead). The service creates the months
from the current one to `ahead` months later at startup and then periodically (`maintenance_step`, a round of
the worker kit), so a row of the current month never lands in the default partition in normal running.

Retention (`retention_months`, off when None) drops every month partition that ended before the first
instant of the month `retention_months` before the current one: a `DROP TABLE` of whole partitions, never a
row-by-row DELETE. The default partition is never dropped.

pg_partman: when the extension is installed and already manages a table (a row of `partman.part_config`
names it), the service leaves that table alone (no creation, no retention): partman's own maintenance
(`run_maintenance_proc`, with its `premake` and `retention` settings) does both. See docs/operations.md.

The SQL is plain text built by pure functions, run through any SQLAlchemy connection (sync in migrations,
async in the service).
"""

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger("pledge.partitions")

DEFAULT_AHEAD = 3  # months created beyond the current one
_MONTH = re.compile(r"_p(\d{4})(\d{2})$")


@dataclass(frozen=True, slots=True)
class PartitionedTable:
    """A table partitioned by month on `column` (a timestamptz), in `schema`."""

    schema: str
    name: str
    column: str

    @property
    def qualified(self) -> str:
        return f'"{self.schema}"."{self.name}"'


def month_start(instant: datetime | date) -> date:
    return date(instant.year, instant.month, 1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_p{month.year:04d}{month.month:02d}"


def month_of_partition(table: str, name: str) -> date | None:
    """The month a partition of `table` holds, from its name (None for the default or a foreign name)."""
    if not name.startswith(table + "_p"):
        return None
    m = _MONTH.search(name)
    return date(int(m.group(1)), int(m.group(2)), 1) if m else None


def months_wanted(now: datetime, ahead: int, since: date | None = None) -> list[date]:
    """The months that should exist: from `since` (else the current month) to `ahead` months after now."""
    current = month_start(now)
    first = min(since, current) if since is not None else current
    last = add_months(current, ahead)
    months = []
    m = first
    while m <= last:
        months.append(m)
        m = add_months(m, 1)
    return months


def retention_cutoff(now: datetime, retention_months: int) -> date:
    """The first day (its first instant UTC) still kept: a month partition ending on or before it is dropped."""
    return add_months(month_start(now), -retention_months)


def retention_horizon(now: datetime, retention_months: int | None) -> datetime | None:
    """The first instant whose rows are still kept (None: retention off). Rows of a month partition are all
    kept until the whole month is past the horizon."""
    if retention_months is None:
        return None
    return datetime.combine(retention_cutoff(now, retention_months), time(0), UTC)


def expired(table: str, partitions: Sequence[str], now: datetime, retention_months: int) -> list[str]:
    """The month partitions of `table` that ended on or before the retention cutoff, oldest first."""
    cutoff = retention_cutoff(now, retention_months)
    found = [(month_of_partition(table, p), p) for p in partitions]
    return [p for m, p in sorted((m, p) for m, p in found if m is not None) if add_months(m, 1) <= cutoff]


def _bound(month: date) -> str:
    return f"'{month.isoformat()} 00:00:00+00'"


def create_partition_sql(table: PartitionedTable, month: date) -> str:
    name = partition_name(table.name, month)
    return (
        f'CREATE TABLE IF NOT EXISTS "{table.schema}"."{name}" PARTITION OF {table.qualified}'
        f" FOR VALUES FROM ({_bound(month)}) TO ({_bound(add_months(month, 1))})"
    )


def create_default_sql(table: PartitionedTable) -> str:
    return f'CREATE TABLE IF NOT EXISTS "{table.schema}"."{table.name}_default" PARTITION OF {table.qualified} DEFAULT'


def move_out_of_default_sql(table: PartitionedTable, month: date) -> list[str]:
    """Create a month's partition when the default partition already holds rows of that month: detach the
    default, create the month, move its rows there, attach the default again (one transaction)."""
    default = f'"{table.schema}"."{table.name}_default"'
    lo, hi = _bound(month), _bound(add_months(month, 1))
    within = f'"{table.column}" >= {lo} AND "{table.column}" < {hi}'
    return [
        f"ALTER TABLE {table.qualified} DETACH PARTITION {default}",
        create_partition_sql(table, month),
        f"INSERT INTO {table.qualified} SELECT * FROM {default} WHERE {within}",
        f"DELETE FROM {default} WHERE {within}",
        f"ALTER TABLE {table.qualified} ATTACH PARTITION {default} DEFAULT",
    ]


_PARTITIONS = text(
    """
    SELECT c.relname FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
    JOIN pg_namespace n ON n.oid = p.relnamespace
    WHERE n.nspname = :schema AND p.relname = :name
    """
)
_PARTMAN = text(
    """
    SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_partman')
    """
)


def _default_has_rows_sql(table: PartitionedTable, month: date) -> str:
    lo, hi = _bound(month), _bound(add_months(month, 1))
    return (
        f'SELECT EXISTS (SELECT FROM "{table.schema}"."{table.name}_default"'
        f' WHERE "{table.column}" >= {lo} AND "{table.column}" < {hi})'
    )


def ensure_sync(conn: Connection, table: PartitionedTable, months: Sequence[date]) -> list[str]:
    """Create the default partition and the `months` missing (migrations); the names created."""
    existing = {r[0] for r in conn.execute(_PARTITIONS, {"schema": table.schema, "name": table.name})}
    if f"{table.name}_default" not in existing:
        conn.execute(text(create_default_sql(table)))
    created = []
    for month in months:
        name = partition_name(table.name, month)
        if name in existing:
            continue
        if conn.execute(text(_default_has_rows_sql(table, month))).scalar():
            for statement in move_out_of_default_sql(table, month):
                conn.execute(text(statement))
        else:
            conn.execute(text(create_partition_sql(table, month)))
        created.append(name)
    return created


async def managed_by_partman(conn: AsyncConnection, table: PartitionedTable) -> bool:
    """Whether pg_partman is installed and manages `table` (then the service leaves it alone)."""
    if not (await conn.execute(_PARTMAN)).scalar():
        return False
    schema = (
        await conn.execute(
            text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_partman'")
        )
    ).scalar_one()
    found = await conn.execute(
        text(f'SELECT EXISTS (SELECT FROM "{schema}".part_config WHERE parent_table = :t)'),
        {"t": f"{table.schema}.{table.name}"},
    )
    return bool(found.scalar())


async def is_partitioned(conn: AsyncConnection, table: PartitionedTable) -> bool:
    """Whether `table` is a partitioned table (else maintenance and retention leave it alone)."""
    found = await conn.execute(
        text("SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table.qualified}
    )
    return bool(found.scalar())


async def partitions(conn: AsyncConnection, table: PartitionedTable) -> list[str]:
    return [r[0] for r in await conn.execute(_PARTITIONS, {"schema": table.schema, "name": table.name})]


async def ensure(
    conn: AsyncConnection, table: PartitionedTable, now: datetime, ahead: int = DEFAULT_AHEAD
) -> list[str]:
    """Create the default partition and every month from the current one to `ahead` months later that is
    missing; the names created. Serialised between replicas by an advisory lock held to the end of the
    caller's transaction."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": table.qualified})
    existing = set(await partitions(conn, table))
    if f"{table.name}_default" not in existing:
        await conn.execute(text(create_default_sql(table)))
    created = []
    for month in months_wanted(now, ahead):
        name = partition_name(table.name, month)
        if name in existing:
            continue
        if (await conn.execute(text(_default_has_rows_sql(table, month)))).scalar():
            for statement in move_out_of_default_sql(table, month):
                await conn.execute(text(statement))
        else:
            await conn.execute(text(create_partition_sql(table, month)))
        created.append(name)
    return created


async def drop_expired(
    conn: AsyncConnection, table: PartitionedTable, now: datetime, retention_months: int
) -> list[str]:
    """Drop every month partition of `table` older than `retention_months` (whole tables); the names dropped."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": table.qualified})
    gone = expired(table.name, await partitions(conn, table), now, retention_months)
    for name in gone:
        await conn.execute(text(f'DROP TABLE "{table.schema}"."{name}"'))
    return gone


@dataclass(frozen=True, slots=True)
class Maintenance:
    """What one service keeps up: its partitioned tables, how far ahead, how long kept (None: for ever),
    statements run after a retention pass with `:cutoff` (the first instant kept; e.g. deleting the keys of
    a dropped month from an unpartitioned table), and other periodic work of the same pass (the purge of
    expired idempotency keys)."""

    tables: Sequence[PartitionedTable]
    ahead: int = DEFAULT_AHEAD
    retention_months: int | None = None
    after_retention: Sequence[str] = ()
    also: Sequence[Callable[[AsyncEngine], Awaitable[object]]] = ()


async def maintain(engine: AsyncEngine, plan: Maintenance, now: datetime | None = None) -> dict[str, list[str]]:
    """One pass: partitions created ahead and expired ones dropped, each table in its own transaction.
    Tables pg_partman manages, and tables not partitioned, are skipped. Answers {table: names created or
    dropped (prefixed '-')}."""
    now = now or datetime.now(UTC)
    done: dict[str, list[str]] = {}
    for table in plan.tables:
        async with engine.begin() as conn:
            if not await is_partitioned(conn, table) or await managed_by_partman(conn, table):
                done[table.name] = []
                continue
            changed = await ensure(conn, table, now, plan.ahead)
            if plan.retention_months is not None:
                changed += ["-" + n for n in await drop_expired(conn, table, now, plan.retention_months)]
            done[table.name] = changed
        if done[table.name]:
            log.info("partitions of %s: %s", table.qualified, ", ".join(done[table.name]))
    if plan.retention_months is not None and plan.after_retention:
        cutoff = retention_horizon(now, plan.retention_months)
        async with engine.begin() as conn:
            for statement in plan.after_retention:
                await conn.execute(text(statement), {"cutoff": cutoff})
    for job in plan.also:
        await job(engine)
    return done


def maintenance_step(engine: AsyncEngine, plan: Maintenance) -> Callable[[], Awaitable[bool]]:
    """One pass of `maintain`, as a round of the service's worker kit (`Workers.add_polling`, every
    `*_MAINTENANCE_INTERVAL_SECONDS`; its first round at startup). A pass that fails (a lock not granted, the
    database away) is logged and retried at the next round: it never makes the service unready, since the
    partitions are made months ahead."""

    async def step() -> bool:
        try:
            await maintain(engine, plan)
        except Exception:
            log.exception("partition maintenance failed")
        return False  # nothing more to do before the next interval

    return step


# Converting an existing table (migrations) ------------------------------------------------------------------

_INDEXES = text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = :t")


def _columns(conn: Connection, table: str) -> list[str]:
    rows = conn.execute(
        text(
            "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attnum > 0"
            " AND NOT attisdropped ORDER BY attnum"
        ),
        {"t": table},
    )
    return [r[0] for r in rows]


def _rename_indexes(conn: Connection, table: str, suffix: str) -> None:
    """Free the index (and constraint) names of `table` for the table that replaces it."""
    for (name,) in conn.execute(_INDEXES, {"t": table}).all():
        conn.execute(text(f'ALTER INDEX "{name}" RENAME TO "{(name + suffix)[-63:]}"'))


def convert_sync(
    conn: Connection,
    table: str,
    column: str,
    *,
    primary_key: Sequence[str],
    indexes: Sequence[str],
    new_column: str | None = None,
    existing_value: str | None = None,
    history_months: int = 120,
    ahead: int = DEFAULT_AHEAD,
) -> None:
    """Replace `table` (in the current schema) by a table partitioned by month on `column` with the same rows:
    the old table renamed, a partitioned parent created like it (plus `new_column`, a column definition, filled
    for existing rows with the SQL expression `existing_value`), a partition per month from the oldest row
    (at most `history_months` back; older rows go to the default partition) to `ahead` months after now, the
    rows copied, the old table dropped, then `indexes` (CREATE INDEX statements on the parent) created."""
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    old = f"{table}_unpartitioned"
    key = existing_value or f'"{column}"'
    conn.execute(text(f'ALTER TABLE "{table}" RENAME TO "{old}"'))
    _rename_indexes(conn, old, "_unpartitioned")
    extra = f"{new_column}, " if new_column else ""
    conn.execute(
        text(
            f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS, {extra}'
            f'PRIMARY KEY ({", ".join(primary_key)})) PARTITION BY RANGE ("{column}")'
        )
    )
    oldest = conn.execute(text(f'SELECT min({key}) FROM "{old}"')).scalar()
    now = datetime.now(UTC)
    floor = add_months(month_start(now), -history_months)
    since = max(month_start(oldest), floor) if oldest is not None else None
    ensure_sync(conn, PartitionedTable(schema, table, column), months_wanted(now, ahead, since))
    columns = _columns(conn, f'"{schema}"."{old}"')
    names = ", ".join(f'"{c}"' for c in columns)
    if new_column:
        conn.execute(text(f'INSERT INTO "{table}" ({names}, "{column}") SELECT {names}, {key} FROM "{old}"'))
    else:
        conn.execute(text(f'INSERT INTO "{table}" ({names}) SELECT {names} FROM "{old}"'))
    conn.execute(text(f'DROP TABLE "{old}"'))
    for statement in indexes:
        conn.execute(text(statement))
    conn.execute(text(f'ANALYZE "{table}"'))


def unconvert_sync(
    conn: Connection, table: str, *, primary_key: Sequence[str], indexes: Sequence[str], drop_column: str | None = None
) -> None:
    """The reverse of `convert_sync`: one plain table with every row of the partitions (and `drop_column`
    dropped), then `indexes` created."""
    old = f"{table}_partitioned"
    conn.execute(text(f'ALTER TABLE "{table}" RENAME TO "{old}"'))
    _rename_indexes(conn, old, "_partitioned")
    conn.execute(text(f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)'))
    if drop_column:
        conn.execute(text(f'ALTER TABLE "{table}" DROP COLUMN "{drop_column}"'))
    columns = _columns(conn, table)
    names = ", ".join(f'"{c}"' for c in columns)
    conn.execute(text(f'INSERT INTO "{table}" ({names}) SELECT {names} FROM "{old}"'))
    conn.execute(text(f'DROP TABLE "{old}"'))
    conn.execute(text(f'ALTER TABLE "{table}" ADD PRIMARY KEY ({", ".join(primary_key)})'))
    for statement in indexes:
        conn.execute(text(statement))
    conn.execute(text(f'ANALYZE "{table}"'))
