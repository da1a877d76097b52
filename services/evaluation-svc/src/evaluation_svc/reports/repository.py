"""SQL of the reports. Finished runs are read from hourly/daily rollups (cost follows groups, not rows);
only the edges of a period and the runs still in progress at its as-of instant are read row by row.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

# instants standing for "no bound" (asyncpg has no infinity for datetime)
DAWN = datetime(1900, 1, 1, tzinfo=UTC)
DUSK = datetime(9999, 1, 1, tzinfo=UTC)

DIMENSIONS: dict[str, str] = {
    "process": "process_key",
    "node": "node_key",
    "segment": "segment",
    "department": "department",
    "position": "position",
    "source": "source",
    "commitment": "commitment_key",
    "version": "commitment_id",
}
_NULLABLE = {"node_key", "department", "position", "commitment_id", "commitment_key"}
# the group of the agreements covering a run (a run is in one group per agreement covering it)
AGREEMENT = "agreement"
# the population of a run: `node`, or `end_to_end` for a ticket judged as a whole (reports/populations.py);
# every report groups by it, so that no group ever holds both
POPULATION = "population"


def _raw(column: str) -> str:
    return f"coalesce(r.{column}, '')" if column in _NULLABLE else f"r.{column}"


def _rolled(column: str) -> str:
    return f"r.{column}"


def _population(expr: Any) -> str:
    """The population of a run or rollup row: the same test as the `scope` filter (no node: end to end)."""
    return f"CASE WHEN {expr('node_key')} = '' THEN 'end_to_end' ELSE 'node' END"


def _dimension(name: str, expr: Any) -> str:
    return _population(expr) if name == POPULATION else str(expr(DIMENSIONS[name]))


IN_PROGRESS_STATE = """
CASE WHEN r.commitment_id IS NULL THEN 'unjudged'
     WHEN r.commitment_due_at IS NULL OR {t} <= r.commitment_due_at THEN 'in_progress_normal'
     WHEN r.tolerance_due_at IS NULL OR {t} <= r.tolerance_due_at THEN 'in_progress_acceptable'
     ELSE 'in_progress_warning' END
"""
STATE_AS_OF = "CASE WHEN r.ended_at <= {t} THEN r.final_state ELSE " + IN_PROGRESS_STATE + " END"


def floor_hour(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def ceil_hour(t: datetime) -> datetime:
    f = floor_hour(t)
    return f if f == t else f + timedelta(hours=1)


def floor_day(t: datetime, tz: str = "UTC") -> datetime:
    """The start of t's day in time zone `tz` (the days the duration rollups are kept in)."""
    local = t.astimezone(ZoneInfo(tz))
    return datetime.combine(local.date(), time(0), ZoneInfo(tz)).astimezone(UTC)


def ceil_day(t: datetime, tz: str = "UTC") -> datetime:
    f = floor_day(t, tz)
    if f == t:
        return f
    return datetime.combine(t.astimezone(ZoneInfo(tz)).date() + timedelta(days=1), time(0), ZoneInfo(tz)).astimezone(
        UTC
    )


@dataclass(frozen=True, slots=True)
class Window:
    """One period of a report: runs active in [start, end), judged as of `as_of` = min(end, now)."""

    idx: int
    start: datetime | None  # None: every run started by as_of (an as-of table)
    end: datetime | None
    as_of: datetime
    rollup_tz: str = "UTC"

    def spans(self, raw: bool) -> tuple[datetime, datetime, datetime, datetime, datetime, datetime]:
        """(from, to, hour_lo, hour_hi, day_lo, day_hi): rollups cover [lo, hi), raw rows the rest."""
        start = self.start or DAWN
        end = self.end or DUSK
        h_lo, h_hi = ceil_hour(start), floor_hour(self.as_of)
        d_lo, d_hi = ceil_day(start, self.rollup_tz), floor_day(self.as_of, self.rollup_tz)
        if raw or h_lo >= h_hi:
            h_lo = h_hi = start
        if raw or d_lo >= d_hi:
            d_lo = d_hi = start
        return start, end, h_lo, h_hi, d_lo, d_hi


@dataclass(frozen=True, slots=True)
class Covered:
    """Runs one agreement covers through one of its commitments: those of the commitment key, in one of the
    agreement's segments and of one of its customers (an empty list: every segment, every customer)."""

    agreement: str  # the agreement's key
    commitment_key: str
    segments: Sequence[str] = ()
    customer_refs: Sequence[str] = ()


def _coverage(covered: Sequence[Covered], all_raw: bool) -> str:
    """The coverage as JSON rows for `jsonb_to_recordset`; `raw`: the agreement's runs are read row by row
    (every run of the report is, or the agreement is scoped to customers, whom the rollups do not keep)."""
    return json.dumps(
        [
            {
                "agreement_key": c.agreement,
                "commitment_key": c.commitment_key,
                "segments": list(c.segments),
                "customer_refs": list(c.customer_refs),
                "raw": all_raw or bool(c.customer_refs),
            }
            for c in covered
        ]
    )


def _coverage_rows(param: str, alias: str) -> str:
    return (
        f"jsonb_to_recordset(CAST(:{param} AS jsonb)) AS {alias}(agreement_key text, commitment_key text,"
        " segments text[], customer_refs text[], raw boolean)"
    )


def _covers(alias: str, expr: Any, customers: bool) -> str:
    """A run, rollup row or fact (its columns named by `expr`) is covered by the coverage row `alias`."""
    clause = (
        f"{alias}.commitment_key = {expr('commitment_key')}"
        f" AND (cardinality({alias}.segments) = 0 OR {expr('segment')} = ANY({alias}.segments))"
    )
    if customers:
        clause += (
            f" AND (cardinality({alias}.customer_refs) = 0 OR {expr('customer_ref')} = ANY({alias}.customer_refs))"
        )
    return clause


# the columns of a summed fact that a coverage row is matched on (see `_read`)
_FACT_KEYS = {"commitment_key": "f.k_commitment", "segment": "f.k_segment", "customer_ref": "f.k_customer"}


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """Which runs a report reads. Each list means "one of"; empty means all."""

    process: Sequence[str] = ()
    node: Sequence[str] = ()
    segment: Sequence[str] = ()
    department: Sequence[str] = ()
    position: Sequence[str] = ()
    source: Sequence[str] = ()
    commitment: Sequence[str] = ()
    version: Sequence[str] = ()
    customer_ref: Sequence[str] = ()  # only answerable from raw rows (agreements scoped to customers)
    ticket_id: Sequence[str] = ()  # likewise (the runs of one ticket)
    scope: str = "all"  # all | node | end_to_end
    caller_sources: frozenset[str] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    # and covered by one of these at least (the runs of several agreements, each counted once); empty: no run
    covered_by: Sequence[Covered] | None = None

    @property
    def needs_raw(self) -> bool:
        return bool(self.customer_ref or self.ticket_id) or any(c.customer_refs for c in self.covered_by or ())

    def sql(self, expr: Any, params: dict[str, Any]) -> str:
        clauses = []
        for name, column in DIMENSIONS.items():
            values = getattr(self, name)
            if values:
                params[f"f_{name}"] = list(values)
                clauses.append(f"{expr(column)} = ANY(:f_{name})")
        if self.customer_ref:
            params["f_customer_ref"] = list(self.customer_ref)
            clauses.append("r.customer_ref = ANY(:f_customer_ref)")
        if self.ticket_id:
            params["f_ticket_id"] = list(self.ticket_id)
            clauses.append("r.ticket_id = ANY(:f_ticket_id)")
        if self.caller_sources is not None:
            params["f_caller_sources"] = sorted(self.caller_sources)
            clauses.append(f"{expr('source')} = ANY(:f_caller_sources)")
        if self.scope == "node":
            clauses.append(f"{expr('node_key')} <> ''")
        elif self.scope == "end_to_end":
            clauses.append(f"{expr('node_key')} = ''")
        if self.covered_by is not None:
            params["f_covered_by"] = _coverage(self.covered_by, all_raw=False)
            customers = any(c.customer_refs for c in self.covered_by)
            clauses.append(
                f"EXISTS (SELECT FROM {_coverage_rows('f_covered_by', 'cv')} WHERE {_covers('cv', expr, customers)})"
            )
        return " AND ".join(clauses) or "TRUE"


def _periods(windows: Sequence[Window], modes: Sequence[bool], params: dict[str, Any]) -> str:
    """The report's periods, once per way of reading them (`raw`: row by row, else rollups and the edges)."""
    names = ("idx", "raw", "p_from", "p_to", "t", "h_lo", "h_hi", "d_lo", "d_hi")
    cols: list[list[Any]] = [[] for _ in names]
    for raw in modes:
        for w in windows:
            start, end, h_lo, h_hi, d_lo, d_hi = w.spans(raw)
            for i, value in enumerate((w.idx, raw, start, end, w.as_of, h_lo, h_hi, d_lo, d_hi)):
                cols[i].append(value)
    types = {"idx": "integer", "raw": "boolean"}
    for name, values in zip(names, cols, strict=True):
        params[f"w_{name}"] = values
    casts = ", ".join(f"CAST(:w_{n} AS {types.get(n, 'timestamptz')}[])" for n in names)
    return f"periods AS (SELECT * FROM unnest({casts}) AS p({', '.join(names)}))"


@dataclass(frozen=True, slots=True)
class _Read:
    """The parts of one report statement: its CTEs, the columns each source of facts is read and grouped by,
    and their filters. Each part of `facts` sums its rows per period, state and `facts_cols`; the final select
    sums the facts per group (`out`), joined to the agreements' coverage (`cover`) when grouped by agreement."""

    ctes: str
    rolled_select: str  # "expr, expr, " (empty without columns), likewise the others
    rolled_group: str
    raw_select: str
    raw_group: str
    facts_cols: str
    out: str
    cover: str
    rolled_filter: str
    raw_filter: str


def _read(
    windows: Sequence[Window],
    flt: ReportFilter,
    group: Sequence[str],
    coverage: Sequence[Covered],
    raw: bool,
    params: dict[str, Any],
) -> _Read:
    """Grouped by agreement, one statement counts the groups of every agreement: the facts are summed per
    commitment key, segment (and customer, for the agreements scoped to customers) besides the other groups,
    then joined to the agreements' coverage, once per agreement covering them. An agreement scoped to
    customers is read row by row (the rollups do not keep customers), the others from the rollups."""
    all_raw = raw or flt.needs_raw
    dims = [g for g in group if g != AGREEMENT]
    rolled = [_dimension(g, _rolled) for g in dims]
    raw_cols = [_dimension(g, _raw) for g in dims]
    names = [f"d{i}" for i in range(len(dims))]
    rolled_select, raw_select = list(rolled), list(raw_cols)
    out = [f"f.{n}" for n in names]
    cover = ""
    modes = [all_raw]
    if AGREEMENT in group:
        modes = sorted({all_raw or bool(c.customer_refs) for c in coverage}) or modes
        params["coverage"] = _coverage(coverage, all_raw)
        customer = "CASE WHEN p.raw THEN r.customer_ref END" if any(c.customer_refs for c in coverage) else ""
        rolled += ["r.commitment_key", "r.segment", "p.raw"]
        rolled_select += ["r.commitment_key", "r.segment", "NULL::text", "p.raw"]
        raw_cols += [_raw("commitment_key"), "r.segment", *([customer] if customer else []), "p.raw"]
        raw_select += [_raw("commitment_key"), "r.segment", customer or "NULL::text", "p.raw"]
        names += ["k_commitment", "k_segment", "k_customer", "k_raw"]
        out.insert(group.index(AGREEMENT), "c.agreement_key")
        cover = (
            f"JOIN {_coverage_rows('coverage', 'c')}"
            f" ON c.raw = f.k_raw AND {_covers('c', _FACT_KEYS.__getitem__, customers=True)}"
        )

    def cols(values: Sequence[str]) -> str:
        return "".join(f"{v}, " for v in values)

    return _Read(
        ctes=_periods(windows, modes, params),
        rolled_select=cols(rolled_select),
        rolled_group=cols(rolled),
        raw_select=cols(raw_select),
        raw_group=cols(raw_cols),
        facts_cols=cols(names),
        out=cols(out),
        cover=cover,
        raw_filter=flt.sql(_raw, params),
        # read raw, the rollups contribute nothing (and have no customer_ref or ticket_id to filter on)
        rolled_filter="FALSE" if all_raw else flt.sql(_rolled, params),
    )


class ReportRepository:
    def __init__(self, conn: AsyncSession | AsyncConnection) -> None:
        self.conn = conn

    @staticmethod
    def state_sql(
        windows: Sequence[Window],
        flt: ReportFilter,
        group: Sequence[str],
        *,
        raw: bool = False,
        coverage: Sequence[Covered] = (),
    ) -> tuple[str, dict[str, Any]]:
        """Counts per (period, group, state, exempted) — the seven-state table, before pivoting. `group` may
        name `agreement`: each run then counts in the group of every agreement of `coverage` covering it."""
        params: dict[str, Any] = {}
        x = _read(windows, flt, group, coverage, raw, params)
        sql = f"""
        WITH {x.ctes},
        facts({x.facts_cols}idx, state, exempted, n) AS (
            SELECT {x.rolled_select}p.idx, r.state, r.exempted, sum(r.n)::bigint
            FROM periods p JOIN run_state_hourly r ON r.hour >= p.h_lo AND r.hour < p.h_hi
            WHERE {x.rolled_filter}
            GROUP BY {x.rolled_group}p.idx, r.state, r.exempted
          UNION ALL
            SELECT {x.raw_select}p.idx, r.final_state, r.exempted, count(*)
            FROM periods p JOIN node_runs r ON r.ended_at >= p.p_from AND r.ended_at < p.h_lo
            WHERE r.started_at IS NOT NULL AND {x.raw_filter}
            GROUP BY {x.raw_group}p.idx, r.final_state, r.exempted
          UNION ALL
            SELECT {x.raw_select}p.idx, r.final_state, r.exempted, count(*)
            FROM periods p JOIN node_runs r ON r.ended_at >= p.h_hi AND r.ended_at <= p.t
            WHERE r.started_at IS NOT NULL AND r.started_at < p.p_to AND r.ended_at >= p.p_from AND {x.raw_filter}
            GROUP BY {x.raw_group}p.idx, r.final_state, r.exempted
          UNION ALL
            SELECT {x.raw_select}p.idx, s.state, r.exempted, count(*)
            FROM periods p JOIN node_runs r ON tstzrange(r.started_at, r.ended_at, '[)') @> p.t
            CROSS JOIN LATERAL (SELECT {IN_PROGRESS_STATE.format(t="p.t")} AS state) s
            WHERE r.started_at IS NOT NULL AND r.started_at < p.p_to AND {x.raw_filter}
            GROUP BY {x.raw_group}p.idx, s.state, r.exempted
        )
        SELECT {x.out}f.idx, f.state, f.exempted, sum(f.n)::bigint AS n FROM facts f {x.cover}
        GROUP BY {x.out}f.idx, f.state, f.exempted
        """
        return sql, params

    @staticmethod
    def duration_sql(
        windows: Sequence[Window],
        flt: ReportFilter,
        group: Sequence[str],
        *,
        raw: bool = False,
        coverage: Sequence[Covered] = (),
    ) -> tuple[str, dict[str, Any]]:
        """Histogram of counted durations of runs completed (not exempted) per (period, group), with each
        bucket's sum of counted seconds."""
        params: dict[str, Any] = {}
        x = _read(windows, flt, group, coverage, raw, params)
        completed = "r.final_state LIKE 'completed%' AND NOT r.exempted AND r.duration_bucket IS NOT NULL"
        sql = f"""
        WITH {x.ctes},
        facts({x.facts_cols}idx, bucket, n, seconds) AS (
            SELECT {x.rolled_select}p.idx, r.bucket, sum(r.n)::bigint, sum(r.seconds)
            FROM periods p JOIN run_duration_daily r ON r.day >= p.d_lo AND r.day < p.d_hi
            WHERE NOT r.exempted AND {x.rolled_filter}
            GROUP BY {x.rolled_group}p.idx, r.bucket
          UNION ALL
            SELECT {x.raw_select}p.idx, r.duration_bucket, count(*), sum(CAST(r.counted_seconds AS numeric))
            FROM periods p JOIN node_runs r ON r.ended_at >= p.p_from AND r.ended_at < p.d_lo
            WHERE {completed} AND {x.raw_filter}
            GROUP BY {x.raw_group}p.idx, r.duration_bucket
          UNION ALL
            SELECT {x.raw_select}p.idx, r.duration_bucket, count(*), sum(CAST(r.counted_seconds AS numeric))
            FROM periods p JOIN node_runs r ON r.ended_at >= p.d_hi AND r.ended_at <= p.t
            WHERE {completed} AND r.started_at < p.p_to AND r.ended_at >= p.p_from AND {x.raw_filter}
            GROUP BY {x.raw_group}p.idx, r.duration_bucket
        )
        SELECT {x.out}f.idx, f.bucket, sum(f.n)::bigint AS n, coalesce(sum(f.seconds), 0) AS seconds
        FROM facts f {x.cover}
        GROUP BY {x.out}f.idx, f.bucket
        """
        return sql, params

    async def state_counts(
        self,
        windows: Sequence[Window],
        flt: ReportFilter,
        group: Sequence[str],
        *,
        raw: bool = False,
        coverage: Sequence[Covered] = (),
    ) -> list[tuple[tuple[str, ...], int, str, bool, int]]:
        """[(group values, period idx, state, exempted, n)]"""
        sql, params = self.state_sql(windows, flt, group, raw=raw, coverage=coverage)
        rows = await self.conn.execute(text(sql), params)
        k = len(group)
        return [(tuple(r[:k]), r[k], r[k + 1], r[k + 2], int(r[k + 3])) for r in rows]

    async def duration_histograms(
        self,
        windows: Sequence[Window],
        flt: ReportFilter,
        group: Sequence[str],
        *,
        raw: bool = False,
        coverage: Sequence[Covered] = (),
    ) -> list[tuple[tuple[str, ...], int, int, int, Decimal]]:
        """[(group values, period idx, bucket, n, sum of counted seconds)]"""
        sql, params = self.duration_sql(windows, flt, group, raw=raw, coverage=coverage)
        rows = await self.conn.execute(text(sql), params)
        k = len(group)
        return [(tuple(r[:k]), r[k], r[k + 1], int(r[k + 2]), Decimal(r[k + 3])) for r in rows]

    def _cell(self, window: Window, flt: ReportFilter, state: str | None, params: dict[str, Any]) -> str:
        """The runs behind a cell of a status table, with their state as of the window's instant (`q`)."""
        params.update({"t": window.as_of, "p_from": window.start or DAWN, "p_to": window.end or DUSK})
        where = flt.sql(_raw, params)
        if state is not None:
            params["state"] = state
            # the same test as `q.state = :state`, on the CASE's one branch that can give the state: a run that
            # ended by t is in its final state (statistics tell the planner how many runs a cell holds, which a
            # CASE hides), a run in progress at t in one of IN_PROGRESS_STATE's (found by the GiST index of the
            # runs' active ranges); `unjudged` comes from either
            t = "CAST(:t AS timestamptz)"
            ended = f"r.ended_at <= {t} AND r.final_state = :state"
            running = f"tstzrange(r.started_at, r.ended_at, '[)') @> {t} AND {IN_PROGRESS_STATE.format(t=t)} = :state"
            if state.startswith("in_progress_"):
                where += f" AND {running}"
            elif state == "unjudged":
                where += f" AND (({ended}) OR ({running}))"
            else:  # completed or cancelled: only a run that ended is
                where += f" AND {ended}"
        return f"""(
            SELECT r.*, {STATE_AS_OF.format(t="CAST(:t AS timestamptz)")} AS state,
                   c.limit_unit, c.commitment_limit, c.tolerance_limit
            FROM node_runs r LEFT JOIN ref_commitments c ON c.id = r.commitment_id
            WHERE r.started_at IS NOT NULL AND r.started_at <= :t AND r.started_at < :p_to
              AND (r.ended_at IS NULL OR r.ended_at >= :p_from) AND {where}
        ) q WHERE TRUE"""

    async def runs_page(
        self, window: Window, flt: ReportFilter, state: str | None, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """The runs behind a cell of a status table, ordered by id (keyset pagination)."""
        params: dict[str, Any] = {"after": after or "", "limit": limit}
        cell = self._cell(window, flt, state, params)
        sql = f"SELECT q.* FROM {cell} AND q.id > :after ORDER BY q.id LIMIT :limit"
        rows = await self.conn.execute(text(sql), params)
        return [dict(r) for r in rows.mappings()]

    async def last_of_page(
        self, window: Window, flt: ReportFilter, state: str | None, after: str | None, limit: int
    ) -> str | None:
        """The id ending a page of `limit` runs after `after`, when more runs follow it (else None)."""
        params: dict[str, Any] = {"after": after or "", "skip": limit - 1}
        cell = self._cell(window, flt, state, params)
        sql = f"SELECT q.id FROM {cell} AND q.id > :after ORDER BY q.id OFFSET :skip LIMIT 2"
        ids = [r[0] for r in await self.conn.execute(text(sql), params)]
        return ids[0] if len(ids) == 2 else None

    async def ended_by_ticket(self, window: Window, flt: ReportFilter, state: str | None) -> int:
        """How many runs behind a cell of a status table were ended by their ticket (a data-quality count)."""
        params: dict[str, Any] = {}
        cell = self._cell(window, flt, state, params)
        counted = await self.conn.execute(text(f"SELECT count(*) FROM {cell} AND q.ended_by_ticket"), params)
        return int(counted.scalar_one())

    async def runs_for_replay(self, window: Window, flt: ReportFilter, limit: int) -> list[dict[str, Any]]:
        """Every run active in the window with its facts (what-if and agreement reviews replay them)."""
        params: dict[str, Any] = {
            "t": window.as_of,
            "p_from": window.start or DAWN,
            "p_to": window.end or DUSK,
            "limit": limit,
        }
        where = flt.sql(_raw, params)
        rows = await self.conn.execute(
            text(
                f"""
                SELECT r.* FROM node_runs r
                WHERE r.started_at IS NOT NULL AND r.started_at <= :t AND r.started_at < :p_to
                  AND (r.ended_at IS NULL OR r.ended_at >= :p_from) AND {where}
                LIMIT :limit
                """
            ),
            params,
        )
        return [dict(r) for r in rows.mappings()]

    async def agreement(self, agreement_id: str) -> dict[str, Any] | None:
        """A version by its id; by key, the signed version (the one in force), else the latest: an open draft of a
        signed agreement is a revision in progress, not what is reviewed or settled."""
        row = (
            await self.conn.execute(
                text(
                    "SELECT payload FROM ref_agreements WHERE id = :i OR key = :i"
                    " ORDER BY status = 'signed' DESC, version DESC LIMIT 1"
                ),
                {"i": agreement_id},
            )
        ).first()
        return None if row is None else dict(row.payload)

    async def agreements(self) -> list[dict[str, Any]]:
        """Per key, the signed version, else the latest, unless that is terminated."""
        rows = await self.conn.execute(
            text(
                """
                SELECT a.payload FROM (
                    SELECT DISTINCT ON (key) key, status, payload FROM ref_agreements
                    ORDER BY key, status = 'signed' DESC, version DESC
                ) a
                WHERE a.status <> 'terminated'
                ORDER BY a.key
                """
            )
        )
        return [dict(r.payload) for r in rows]

    async def names(self, table: str) -> dict[str, str]:
        assert table in {"ref_departments", "ref_processes", "ref_segments"}
        rows = await self.conn.execute(text(f"SELECT key, name FROM {table}"))
        return {r.key: r.name for r in rows}
