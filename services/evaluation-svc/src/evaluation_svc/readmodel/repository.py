"""SQL of the read model. Never commits: the consumer's transaction (or the request's) does."""

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.rules import (
    CommitmentVersion,
    ForceMajeure,
    PauseFacts,
    RunFacts,
    duration_bucket,
    pauses_of,
)

# The next due instant the alert scanner must look at, from the levels already alerted (`done`).
# `e` names the row holding the due instants; the same rule is `next_alert_at` in alerts/service.py.
NEXT_ALERT_SQL = """
CASE WHEN {e}.ended_at IS NOT NULL OR {e}.started_at IS NULL THEN NULL
     WHEN {d} < 1 AND {e}.prewarning_due_at IS NOT NULL THEN {e}.prewarning_due_at
     WHEN {d} < 2 AND {e}.commitment_due_at IS NOT NULL THEN {e}.commitment_due_at
     WHEN {d} < 3 THEN {e}.tolerance_due_at END
"""

RUN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "text"),
    ("kind", "text"),
    ("ticket_id", "text"),
    ("source", "text"),
    ("external_id", "text"),
    ("process_key", "text"),
    ("node_key", "text"),
    ("segment", "text"),
    ("customer_ref", "text"),
    ("cycle", "integer"),
    ("department", "text"),
    ("position", "text"),
    ("status", "text"),
    ("started_at", "timestamptz"),
    ("completed_at", "timestamptz"),
    ("cancelled_at", "timestamptz"),
    ("ended_at", "timestamptz"),
    ("pauses", "jsonb"),
    ("commitment_id", "text"),
    ("commitment_key", "text"),
    ("prewarning_due_at", "timestamptz"),
    ("commitment_due_at", "timestamptz"),
    ("tolerance_due_at", "timestamptz"),
    ("counted_seconds", "double precision"),
    ("duration_bucket", "integer"),
    ("final_state", "text"),
    ("exempted", "boolean"),
    ("ended_by_ticket", "boolean"),
)
_NAMES = [name for name, _ in RUN_COLUMNS]
# Rows travel by binary COPY into a temporary table of this connection (emptied by the statement that
# upserts them; its dead rows go at commit): no JSON text to build or parse, no per-row statement.
STAGING = "node_runs_in"
_CREATE_STAGING = text(
    f"CREATE TEMP TABLE IF NOT EXISTS {STAGING} ({', '.join(f'{n} {k}' for n, k in RUN_COLUMNS)}) ON COMMIT DELETE ROWS"
)

# A finished run's contribution to the rollups (and the stored columns it depends on): the UTC hour and the
# local day (in :tz) of its end, the dimensions, its final state, and its duration bucket if it completed
# with the sum of its counted seconds (numeric: sums are exact whatever the order of the deltas).
ROLLUP_DIMS = ("process_key", "node_key", "segment", "department", "position", "source", "commitment_id",
               "commitment_key", "exempted")  # fmt: skip
_CONTRIBUTING = ("id, started_at, ended_at, final_state, duration_bucket, counted_seconds, process_key, node_key, "
                 "segment, department, position, source, commitment_id, commitment_key, exempted")  # fmt: skip
CONTRIBUTIONS = """
    SELECT date_trunc('hour', ended_at, 'UTC') AS hour, (ended_at AT TIME ZONE CAST(:tz AS text))::date AS day,
           process_key, coalesce(node_key, '') AS node_key, segment, coalesce(department, '') AS department,
           coalesce(position, '') AS position, source, coalesce(commitment_id, '') AS commitment_id,
           coalesce(commitment_key, '') AS commitment_key, exempted, final_state AS state,
           CASE WHEN starts_with(final_state, 'completed_') THEN duration_bucket END AS bucket, count(*) AS n,
           coalesce(sum(CAST(counted_seconds AS numeric)) FILTER (WHERE starts_with(final_state, 'completed_')), 0)
               AS seconds
    FROM {source}
    WHERE ended_at IS NOT NULL AND started_at IS NOT NULL AND final_state IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
"""
# The first instant of local day {day} (a date) in time zone {tz}, as `day_start` computes it in Python
# (`datetime.combine`, fold 0): the earlier instant of a repeated midnight, the offset before the change
# for a skipped one. `l` is the local midnight, `b` Postgres's reading of it, `a` its reading with the offset
# of an hour before `b`.
LOCAL_DAY_START_SQL = """(
    SELECT CASE WHEN (b AT TIME ZONE {tz}) <> l THEN a WHEN (a AT TIME ZONE {tz}) = l THEN least(a, b) ELSE b END
    FROM (SELECT l, b, (l - ((b - interval '1 hour') AT TIME ZONE {tz} - (b - interval '1 hour') AT TIME ZONE 'UTC'))
                       AT TIME ZONE 'UTC' AS a
          FROM (SELECT CAST({day} AS timestamp) AS l, CAST({day} AS timestamp) AT TIME ZONE {tz} AS b) AS m) AS m)"""
# Locks the staged runs' rows (in id order, like every writer of node_runs) before they are read and written.
_LOCK_STAGED = text(
    f"SELECT count(*) FROM (SELECT FROM node_runs WHERE id IN (SELECT id FROM pg_temp.{STAGING}) ORDER BY id"
    " FOR UPDATE) AS locked"
)
_DIMS_SQL = ", ".join(ROLLUP_DIMS)
# Writes the staged rows (and empties the staging table) and moves their rollup contributions from what
# they were (`old`: the statement sees the rows as before its own writes) to what they are (`new`). The
# cells are updated in the order of their keys: writers sharing cells (the partitions of tracking's feed,
# the rejudging of definitions) then wait for one another instead of deadlocking.
_WRITE_STAGED = text(
    f"""
    WITH old AS (SELECT {_CONTRIBUTING} FROM node_runs WHERE id IN (SELECT id FROM pg_temp.{STAGING})),
    new AS (
        INSERT INTO node_runs AS r ({", ".join(_NAMES)}, next_alert_at, updated_at)
        SELECT {", ".join("x." + n for n in _NAMES)}, {NEXT_ALERT_SQL.format(e="x", d="0")}, now()
        FROM pg_temp.{STAGING} AS x
        ON CONFLICT (id) DO UPDATE SET
            {", ".join(f"{n} = EXCLUDED.{n}" for n in _NAMES if n != "id")},
            next_alert_at = {NEXT_ALERT_SQL.format(e="EXCLUDED", d="r.alert_level_done")},
            updated_at = now()
        RETURNING {", ".join("r." + c for c in _CONTRIBUTING.split(", "))}
    ),
    emptied AS (DELETE FROM pg_temp.{STAGING}),  -- a transaction may write several batches
    cells AS MATERIALIZED (
        SELECT hour, day, {_DIMS_SQL}, state, bucket, -n AS n, -seconds AS seconds
        FROM ({CONTRIBUTIONS.format(source="old")}) AS o
        UNION ALL
        SELECT hour, day, {_DIMS_SQL}, state, bucket, n, seconds FROM ({CONTRIBUTIONS.format(source="new")}) AS w
    ),
    states AS (
        INSERT INTO run_state_hourly AS t (hour, {_DIMS_SQL}, state, n)
        SELECT hour, {_DIMS_SQL}, state, sum(n) FROM cells
        GROUP BY hour, {_DIMS_SQL}, state HAVING sum(n) <> 0
        ORDER BY hour, {_DIMS_SQL}, state
        ON CONFLICT (hour, {_DIMS_SQL}, state) DO UPDATE SET n = t.n + EXCLUDED.n
    )
    INSERT INTO run_duration_daily AS t (day, {_DIMS_SQL}, bucket, n, seconds)
    SELECT {LOCAL_DAY_START_SQL.format(day="day", tz="CAST(:tz AS text)")}, {_DIMS_SQL}, bucket, sum(n), sum(seconds)
    FROM cells
    WHERE bucket IS NOT NULL
    GROUP BY day, {_DIMS_SQL}, bucket HAVING sum(n) <> 0 OR sum(seconds) <> 0
    ORDER BY day, {_DIMS_SQL}, bucket
    ON CONFLICT (day, {_DIMS_SQL}, bucket) DO UPDATE SET n = t.n + EXCLUDED.n,
        seconds = t.seconds + EXCLUDED.seconds
    """
)


class RunRow(msgspec.Struct, frozen=True, gc=False):
    """One row of node_runs as the projection writes it."""

    facts: RunFacts
    commitment_id: str | None
    commitment_key: str | None
    prewarning_due_at: datetime | None
    commitment_due_at: datetime | None
    tolerance_due_at: datetime | None
    counted_seconds: float | None
    final_state: str | None
    exempted: bool
    department: str | None
    position: str | None

    def values(self) -> tuple[Any, ...]:
        """The row's values in RUN_COLUMNS order (pauses as JSON text)."""
        f = self.facts
        counted = self.counted_seconds
        return (
            f.id,
            f.kind,
            f.ticket_id,
            f.source,
            f.external_id,
            f.process_key,
            f.node_key,
            f.segment,
            f.customer_ref,
            f.cycle,
            self.department,
            self.position,
            f.status,
            f.started_at,
            f.completed_at,
            f.cancelled_at,
            f.ended_at,
            _pauses_json(f.pauses),
            self.commitment_id,
            self.commitment_key,
            self.prewarning_due_at,
            self.commitment_due_at,
            self.tolerance_due_at,
            counted,
            None if counted is None else duration_bucket(counted),
            self.final_state,
            self.exempted,
            f.ended_by_ticket,
        )


def _pauses_json(pauses: Sequence[PauseFacts]) -> str:
    if not pauses:
        return "[]"
    return json.dumps([{"start": _iso(p.start), "end": _iso(p.end), "reason": p.reason} for p in pauses])


def day_start(day: date, tz: str) -> datetime:
    """The instant (UTC) a local day of `tz` starts: floor_day of any instant of that day."""
    return datetime.combine(day, time(0), ZoneInfo(tz)).astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def run_row_from_db(m: Mapping[Any, Any]) -> RunRow:
    """A stored node_runs row (every column) as the projection wrote it."""
    pauses = pauses_of(m)
    facts = RunFacts(
        id=m["id"],
        kind=m["kind"],
        ticket_id=m["ticket_id"],
        source=m["source"],
        external_id=m["external_id"],
        process_key=m["process_key"],
        node_key=m["node_key"],
        segment=m["segment"],
        customer_ref=m["customer_ref"],
        cycle=m["cycle"],
        department=m["department"],
        position=m["position"],
        status=m["status"],
        started_at=m["started_at"],
        completed_at=m["completed_at"],
        cancelled_at=m["cancelled_at"],
        pauses=pauses,
        ended_by_ticket=m["ended_by_ticket"],
    )
    return RunRow(
        facts=facts,
        commitment_id=m["commitment_id"],
        commitment_key=m["commitment_key"],
        prewarning_due_at=m["prewarning_due_at"],
        commitment_due_at=m["commitment_due_at"],
        tolerance_due_at=m["tolerance_due_at"],
        counted_seconds=m["counted_seconds"],
        final_state=m["final_state"],
        exempted=m["exempted"],
        department=m["department"],
        position=m["position"],
    )


class ReadModelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # reference tables --------------------------------------------------------------------------

    async def upsert_departments(self, payloads: Sequence[Mapping[str, Any]]) -> None:
        await self.session.execute(
            text(
                """
                INSERT INTO ref_departments (key, name, parent_key, positions)
                SELECT x.key, coalesce(x.name, x.key), x.parent_key, coalesce(x.positions, '[]')
                FROM jsonb_to_recordset(CAST(:rows AS jsonb))
                     AS x(key text, name text, parent_key text, positions jsonb)
                ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, parent_key = EXCLUDED.parent_key,
                    positions = EXCLUDED.positions
                """
            ),
            {"rows": json.dumps(list(payloads))},
        )

    async def upsert_segments(self, payloads: Sequence[Mapping[str, Any]]) -> None:
        await self.session.execute(
            text(
                """
                INSERT INTO ref_segments (key, name)
                SELECT x.key, coalesce(x.name, x.key)
                FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(key text, name text)
                ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name
                """
            ),
            {"rows": json.dumps(list(payloads))},
        )

    async def upsert_calendars(self, payloads: Sequence[Mapping[str, Any]]) -> None:
        await self.session.execute(
            text(
                """
                INSERT INTO ref_calendars (key, name, timezone, weekly, holidays, extra_working_days,
                                           extra_day_windows, version)
                SELECT x.key, coalesce(x.name, x.key), x.timezone, x.weekly, coalesce(x.holidays, '[]'),
                       coalesce(x.extra_working_days, '[]'), x.extra_day_windows, coalesce(x.version, 1)
                FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(key text, name text, timezone text, weekly jsonb,
                     holidays jsonb, extra_working_days jsonb, extra_day_windows jsonb, version integer)
                ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, timezone = EXCLUDED.timezone,
                    weekly = EXCLUDED.weekly, holidays = EXCLUDED.holidays,
                    extra_working_days = EXCLUDED.extra_working_days,
                    extra_day_windows = EXCLUDED.extra_day_windows, version = EXCLUDED.version
                """
            ),
            {"rows": json.dumps(list(payloads))},
        )

    async def upsert_processes(self, payloads: Sequence[Mapping[str, Any]]) -> None:
        await self.session.execute(
            text(
                """
                INSERT INTO ref_processes (key, name, owner_department, nodes)
                SELECT x.key, coalesce(x.name, x.key), x.owner_department, coalesce(x.nodes, '[]')
                FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(key text, name text, owner_department text,
                     nodes jsonb)
                ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, owner_department = EXCLUDED.owner_department,
                    nodes = EXCLUDED.nodes
                """
            ),
            {"rows": json.dumps(list(payloads))},
        )

    async def in_force_since(self, ids: Sequence[str]) -> dict[str, datetime | None]:
        """The stored versions among `ids` that are active: id -> the instant they govern from."""
        rows = await self.session.execute(
            text("SELECT id, effective_from FROM ref_commitments WHERE id = ANY(:i) AND status = 'active'"),
            {"i": list(ids)},
        )
        return {r.id: r.effective_from for r in rows}

    async def upsert_commitments(self, versions: Sequence[CommitmentVersion]) -> None:
        rows = [
            {
                "id": v.id,
                "commitment_key": v.commitment_key,
                "version": v.version,
                "process_key": v.process_key,
                "node_key": v.node_key,
                "segment_key": v.segment_key,
                "limit_unit": v.limit_unit,
                "commitment_limit": v.commitment_limit,
                "tolerance_limit": v.tolerance_limit,
                "calendar_key": v.calendar_key,
                "allowed_pause_reasons": sorted(v.allowed_pause_reasons),
                "owner_department": v.owner_department,
                "owner_position": v.owner_position,
                "prewarning_fraction": v.prewarning_fraction,
                "status": v.status,
                "effective_from": _iso(v.effective_from),
                "effective_to": _iso(v.effective_to),
            }
            for v in versions
        ]
        await self.session.execute(
            text(
                """
                INSERT INTO ref_commitments (id, commitment_key, version, process_key, node_key, segment_key,
                    limit_unit, commitment_limit, tolerance_limit, calendar_key, allowed_pause_reasons,
                    owner_department, owner_position, prewarning_fraction, status, effective_from, effective_to)
                SELECT x.id, x.commitment_key, x.version, x.process_key, x.node_key, x.segment_key, x.limit_unit,
                    x.commitment_limit, x.tolerance_limit, x.calendar_key,
                    ARRAY(SELECT jsonb_array_elements_text(x.allowed_pause_reasons)),
                    x.owner_department, x.owner_position, x.prewarning_fraction, x.status, x.effective_from,
                    x.effective_to
                FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(id text, commitment_key text, version integer,
                    process_key text, node_key text, segment_key text, limit_unit text, commitment_limit text,
                    tolerance_limit text, calendar_key text, allowed_pause_reasons jsonb, owner_department text,
                    owner_position text, prewarning_fraction double precision, status text,
                    effective_from timestamptz, effective_to timestamptz)
                ON CONFLICT (id) DO UPDATE SET commitment_key = EXCLUDED.commitment_key,
                    version = EXCLUDED.version, process_key = EXCLUDED.process_key, node_key = EXCLUDED.node_key,
                    segment_key = EXCLUDED.segment_key, limit_unit = EXCLUDED.limit_unit,
                    commitment_limit = EXCLUDED.commitment_limit, tolerance_limit = EXCLUDED.tolerance_limit,
                    calendar_key = EXCLUDED.calendar_key, allowed_pause_reasons = EXCLUDED.allowed_pause_reasons,
                    owner_department = EXCLUDED.owner_department, owner_position = EXCLUDED.owner_position,
                    prewarning_fraction = EXCLUDED.prewarning_fraction, status = EXCLUDED.status,
                    effective_from = EXCLUDED.effective_from, effective_to = EXCLUDED.effective_to
                """
            ),
            {"rows": json.dumps(rows)},
        )

    async def upsert_agreements(self, payloads: Sequence[Mapping[str, Any]], windows: Sequence[ForceMajeure]) -> None:
        ids = [str(p["id"]) for p in payloads]
        await self.session.execute(
            text(
                """
                INSERT INTO ref_agreements (id, key, version, kind, title, status, payload)
                SELECT x.payload->>'id', coalesce(x.payload->>'key', x.payload->>'id'),
                       coalesce((x.payload->>'version')::int, 1), coalesce(x.payload->>'kind', 'sla'),
                       coalesce(x.payload->>'title', ''), coalesce(x.payload->>'status', 'draft'), x.payload
                FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS x(payload)
                ON CONFLICT (id) DO UPDATE SET key = EXCLUDED.key, version = EXCLUDED.version, kind = EXCLUDED.kind,
                    title = EXCLUDED.title, status = EXCLUDED.status, payload = EXCLUDED.payload
                """
            ),
            {"rows": json.dumps(list(payloads), default=str)},
        )
        await self.session.execute(text("DELETE FROM force_majeure WHERE agreement_id = ANY(:ids)"), {"ids": ids})
        if windows:
            await self.session.execute(
                text(
                    """
                    INSERT INTO force_majeure (agreement_id, idx, starts_at, ends_at, reason, commitment_keys,
                                               segments, customer_refs)
                    SELECT x.agreement_id, x.idx, x.starts_at, x.ends_at, x.reason,
                           ARRAY(SELECT jsonb_array_elements_text(x.commitment_keys)),
                           ARRAY(SELECT jsonb_array_elements_text(x.segments)),
                           ARRAY(SELECT jsonb_array_elements_text(x.customer_refs))
                    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(agreement_id text, idx integer,
                         starts_at timestamptz, ends_at timestamptz, reason text, commitment_keys jsonb,
                         segments jsonb, customer_refs jsonb)
                    """
                ),
                {
                    "rows": json.dumps(
                        [
                            {
                                "agreement_id": w.agreement_id,
                                "idx": i,
                                "starts_at": w.starts_at.isoformat(),
                                "ends_at": w.ends_at.isoformat(),
                                "reason": w.reason,
                                "commitment_keys": sorted(w.commitment_keys),
                                "segments": sorted(w.segments),
                                "customer_refs": sorted(w.customer_refs),
                            }
                            for i, w in enumerate(windows)
                        ]
                    )
                },
            )

    async def delete_refs(self, table: str, keys: Sequence[str]) -> None:
        assert table in {"ref_departments", "ref_calendars", "ref_processes", "ref_segments"}
        await self.session.execute(text(f"DELETE FROM {table} WHERE key = ANY(:k)"), {"k": list(keys)})

    async def delete_commitments(self, ids: Sequence[str]) -> None:
        await self.session.execute(
            text("DELETE FROM ref_commitments WHERE id = ANY(:i) AND status NOT IN ('active', 'retired')"),
            {"i": list(ids)},
        )

    async def processes_of_commitments(self, ids: Iterable[str]) -> set[str]:
        rows = await self.session.execute(
            text("SELECT DISTINCT process_key FROM ref_commitments WHERE id = ANY(:i)"), {"i": sorted(set(ids))}
        )
        return {r[0] for r in rows}

    async def commitments_for(self, process_keys: Iterable[str]) -> list[CommitmentVersion]:
        rows = await self.session.execute(
            text("SELECT * FROM ref_commitments WHERE process_key = ANY(:p)"), {"p": sorted(set(process_keys))}
        )
        return [_version(r) for r in rows.mappings()]

    async def commitment_versions(self, ids: Iterable[str]) -> list[CommitmentVersion]:
        rows = await self.session.execute(text("SELECT * FROM ref_commitments WHERE id = ANY(:i)"), {"i": list(ids)})
        return [_version(r) for r in rows.mappings()]

    async def calendars(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        rows = await self.session.execute(
            text("SELECT * FROM ref_calendars WHERE key = ANY(:k)"), {"k": sorted(set(keys))}
        )
        return {r["key"]: dict(r) for r in rows.mappings()}

    async def force_majeure(self) -> list[ForceMajeure]:
        rows = await self.session.execute(text("SELECT * FROM force_majeure"))
        return [
            ForceMajeure(
                agreement_id=r["agreement_id"],
                starts_at=r["starts_at"],
                ends_at=r["ends_at"],
                reason=r["reason"],
                commitment_keys=frozenset(r["commitment_keys"]),
                segments=frozenset(r["segments"]),
                customer_refs=frozenset(r["customer_refs"]),
            )
            for r in rows.mappings()
        ]

    async def process_owners(self, process_keys: Iterable[str]) -> dict[str, str | None]:
        rows = await self.session.execute(
            text("SELECT key, owner_department FROM ref_processes WHERE key = ANY(:k)"),
            {"k": sorted(set(process_keys))},
        )
        return {r.key: r.owner_department for r in rows}

    # node runs ---------------------------------------------------------------------------------

    async def runs(self, ids: Sequence[str]) -> dict[str, RunRow]:
        """Current rows for `ids`, locked so the alert scanner and this projection never interleave."""
        if not ids:
            return {}
        rows = await self.session.execute(
            text("SELECT * FROM node_runs WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"), {"ids": list(ids)}
        )
        return {r["id"]: run_row_from_db(r) for r in rows.mappings()}

    async def run_ids_to_rejudge_for_processes(self, process_keys: Sequence[str]) -> list[str]:
        """Runs whose governing version may change: still open, or never judged, in these processes."""
        rows = await self.session.execute(
            text(
                """
                SELECT id FROM node_runs WHERE process_key = ANY(:p) AND ended_at IS NULL AND started_at IS NOT NULL
                UNION
                SELECT id FROM node_runs WHERE process_key = ANY(:p) AND commitment_id IS NULL
                ORDER BY id  -- rows are locked chunk after chunk: in one order, as every writer does
                """
            ),
            {"p": list(process_keys)},
        )
        return [r.id for r in rows]

    async def processes_on_calendars(self, calendar_keys: Sequence[str]) -> set[str]:
        rows = await self.session.execute(
            text("SELECT DISTINCT process_key FROM ref_commitments WHERE calendar_key = ANY(:k)"),
            {"k": list(calendar_keys)},
        )
        return {r.process_key for r in rows}

    async def run_ids_touching(self, windows: Sequence[ForceMajeure], agreement_ids: Sequence[str]) -> list[str]:
        """Runs whose exemption may change: exempted today by these agreements, or touching their windows."""
        spans = [
            {"keys": sorted(w.commitment_keys), "from": w.starts_at.isoformat(), "to": w.ends_at.isoformat()}
            for w in windows
        ]
        rows = await self.session.execute(
            text(
                """
                SELECT r.id FROM node_runs r
                JOIN jsonb_to_recordset(CAST(:spans AS jsonb)) AS w(keys jsonb, "from" timestamptz, "to" timestamptz)
                  ON r.commitment_key IN (SELECT jsonb_array_elements_text(w.keys))
                 AND r.started_at < w."to" AND (r.ended_at IS NULL OR r.ended_at > w."from")
                UNION
                SELECT r.id FROM node_runs r WHERE r.exempted
                  AND r.commitment_key IN (SELECT jsonb_array_elements(a.payload->'covers') ->> 'commitment_key'
                                           FROM ref_agreements a WHERE a.id = ANY(:ids))
                """
            ),
            {"spans": json.dumps(spans), "ids": list(agreement_ids)},
        )
        return [r.id for r in rows]

    async def write_runs(self, rows: Sequence[RunRow], rollup_tz: str = "UTC") -> None:
        """Write judged runs and move their rollup contributions from what they were to what they are."""
        if not rows:
            return
        await self.session.execute(_CREATE_STAGING)
        connection = await self.session.connection()
        driver: Any = (await connection.get_raw_connection()).driver_connection  # asyncpg, in the transaction
        await driver.copy_records_to_table(
            STAGING, schema_name="pg_temp", columns=_NAMES, records=[r.values() for r in rows]
        )
        await self.session.execute(_LOCK_STAGED)
        await self.session.execute(_WRITE_STAGED, {"tz": rollup_tz})


def _version(r: Mapping[Any, Any]) -> CommitmentVersion:
    return CommitmentVersion(
        id=r["id"],
        commitment_key=r["commitment_key"],
        version=r["version"],
        process_key=r["process_key"],
        node_key=r["node_key"],
        segment_key=r["segment_key"],
        limit_unit=r["limit_unit"],
        commitment_limit=r["commitment_limit"],
        tolerance_limit=r["tolerance_limit"],
        calendar_key=r["calendar_key"],
        allowed_pause_reasons=frozenset(r["allowed_pause_reasons"]),
        owner_department=r["owner_department"],
        owner_position=r["owner_position"],
        prewarning_fraction=r["prewarning_fraction"],
        status=r["status"],
        effective_from=r["effective_from"],
        effective_to=r["effective_to"],
    )
