"""Achievement-report benchmark: the API against the same SQL run directly, at N and 5xN node runs.

    uv run python bench/reports.py                 # 1 000 000 then 5 000 000 node runs
    uv run python bench/reports.py --rows 100000   # a smaller run (then 500 000)

A fresh database on the embedded Postgres, evaluation-svc's migrations, then node runs generated straight
into its read model (one month, 2026-10, of a power-supply company: 4 processes, 14 nodes, 3 segments,
2 sources; durations log-uniform from 5 min to 3.5 days; 3 % cancelled, 1 % never finished) together with
the rollups the projection keeps (durations by day of Asia/Shanghai, EVALUATION_ROLLUP_TIMEZONE).
evaluation-svc runs as a real process (uvicorn); the same report is asked
  (a) through its API: GET /v1/reports/achievement?from=…&to=… grouped by process and node, and
  (b) as the very SQL the API runs (ReportRepository.state_sql / duration_sql), over asyncpg.
Each is timed best-of and median of --repeat runs. Goals: API ÷ SQL ≤ 1.5; time at 5xN ÷ time at N ≤ 2
(the rollups make the cost follow the number of groups, not of rows).
"""

import argparse
import asyncio
import statistics
import time
from datetime import datetime, timedelta, timezone

import asyncpg
from evaluation_svc.reports.query import build_query
from evaluation_svc.reports.repository import ReportFilter, ReportRepository
from kit import start_evaluation, time_get
from pledge_common.settings import to_plain_url
from pledge_dev import migrate
from pledge_dev.paths import DATA_DIR
from pledge_dev.pg import fresh_database

CST = timezone(timedelta(hours=8))
MONTH = (datetime(2026, 10, 1, tzinfo=CST), datetime(2026, 11, 1, tzinfo=CST))
NODES = {
    "fault-repair": ["dispatch", "arrive", "restore"],
    "call-centre-order": ["accept", "handle", "reply"],
    "new-connection": ["accept", "survey", "design-approval", "construction", "connection"],
    "complaint-handling": ["acknowledge", "resolve"],
}

GENERATE = """
WITH spec AS (
    SELECT * FROM unnest(CAST($3 AS text[]), CAST($4 AS text[])) WITH ORDINALITY AS s(process_key, node_key, k)
), raw AS (
    SELECT g,
           1 + (g * 7919) % (SELECT count(*) FROM spec) AS k,
           (ARRAY['residential','residential','enterprise','vip'])[1 + (g * 31) % 4] AS segment,
           (ARRAY['crm','field-app'])[1 + (g * 17) % 2] AS source,
           $5::timestamptz + make_interval(secs => (g * 2654435761::bigint % 2678400)) AS started_at,
           make_interval(secs => 300 * power(2, (g * 40503::bigint % 1000) / 100.0)) AS took,
           (g % 100) AS bucket100
    FROM generate_series($1::bigint, $2::bigint) AS g
)
INSERT INTO node_runs (id, kind, ticket_id, source, external_id, process_key, node_key, segment, customer_ref,
    cycle, department, position, status, started_at, completed_at, cancelled_at, ended_at, pauses, commitment_id,
    commitment_key, prewarning_due_at, commitment_due_at, tolerance_due_at, counted_seconds, duration_bucket,
    final_state, exempted, alert_level_done, next_alert_at)
SELECT 'b' || g, 'node', 't' || (g / 4), r.source, 'x' || g, s.process_key, s.node_key, r.segment, 'c' || (g % 5000),
       1, 'dept-' || s.node_key, 'pos', st.status, r.started_at,
       CASE WHEN st.status = 'completed' THEN r.started_at + r.took END,
       CASE WHEN st.status = 'cancelled' THEN r.started_at + r.took / 3 END,
       CASE WHEN st.status = 'completed' THEN r.started_at + r.took
            WHEN st.status = 'cancelled' THEN r.started_at + r.took / 3 END,
       '[]', 'v-' || s.process_key || '-' || s.node_key || '-' || r.segment, s.process_key || '-' || s.node_key,
       r.started_at + interval '4 hours' * 0.8, r.started_at + interval '4 hours', r.started_at + interval '12 hours',
       CASE WHEN st.status = 'completed' THEN extract(epoch FROM r.took) END,
       CASE WHEN st.status = 'completed' THEN 1 + floor(ln(extract(epoch FROM r.took)) / ln(1.02))::int END,
       CASE WHEN st.status = 'cancelled' THEN 'cancelled'
            WHEN st.status = 'completed' AND r.took <= interval '4 hours' THEN 'completed_normal'
            WHEN st.status = 'completed' AND r.took <= interval '12 hours' THEN 'completed_acceptable'
            WHEN st.status = 'completed' THEN 'completed_warning' END,
       false, 0, NULL
FROM raw r JOIN spec s ON s.k = r.k
CROSS JOIN LATERAL (SELECT CASE WHEN r.bucket100 < 3 THEN 'cancelled'
                                WHEN r.bucket100 < 4 OR r.started_at + r.took > $6::timestamptz THEN 'in_progress'
                                ELSE 'completed' END AS status) st
"""
DIMS = "process_key, node_key, segment, department, position, source, commitment_id, commitment_key, exempted"
ROLLUPS = (
    "TRUNCATE run_state_hourly, run_duration_daily",
    f"""INSERT INTO run_state_hourly (hour, {DIMS}, state, n)
        SELECT date_trunc('hour', ended_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', process_key,
               coalesce(node_key, ''), segment, coalesce(department, ''), coalesce(position, ''), source,
               coalesce(commitment_id, ''), coalesce(commitment_key, ''), exempted, final_state, count(*)
        FROM node_runs WHERE ended_at IS NOT NULL AND started_at IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11""",
    f"""INSERT INTO run_duration_daily (day, {DIMS}, bucket, n, seconds)
        SELECT date_trunc('day', ended_at AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai', process_key,
               coalesce(node_key, ''), segment, coalesce(department, ''), coalesce(position, ''), source,
               coalesce(commitment_id, ''), coalesce(commitment_key, ''), exempted, duration_bucket, count(*),
               sum(CAST(counted_seconds AS numeric))
        FROM node_runs WHERE final_state LIKE 'completed%' AND duration_bucket IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11""",
    "VACUUM ANALYZE node_runs",
    "VACUUM ANALYZE run_state_hourly",
    "VACUUM ANALYZE run_duration_daily",
)


async def generate(url: str, first: int, last: int) -> float:
    processes = [p for p, nodes in NODES.items() for _ in nodes]
    nodes = [n for ns in NODES.values() for n in ns]
    started = time.perf_counter()
    conn = await asyncpg.connect(to_plain_url(url), server_settings={"search_path": "evaluation"})
    try:
        step = 500_000
        for lo in range(first, last + 1, step):
            hi = min(last, lo + step - 1)
            await conn.execute(GENERATE, lo, hi, processes, nodes, MONTH[0], MONTH[1])
        for statement in ROLLUPS:
            await conn.execute(statement)
    finally:
        await conn.close()
    return time.perf_counter() - started


def report_sql() -> tuple[str, dict[str, object], str, dict[str, object]]:
    query = build_query(
        now=datetime.now(CST), as_of=None, start=MONTH[0], end=MONTH[1], bucket=None, timezone="UTC",
        group_by="process,node", default_group=(), flt=ReportFilter(), agreement=None, max_days=366,
        rollup_timezone="Asia/Shanghai",
    )  # fmt: skip
    states, sp = ReportRepository.state_sql(query.windows, query.filter, query.group_by)
    durations, dp = ReportRepository.duration_sql(query.windows, query.filter, query.group_by)
    return states, sp, durations, dp


def to_asyncpg(sql: str, params: dict[str, object]) -> tuple[str, list[object]]:
    """`:name` binds → `$n` (the same statement SQLAlchemy sends)."""
    names = sorted(params, key=len, reverse=True)
    order: list[str] = []
    for name in names:
        if f":{name}" in sql:
            order.append(name)
            sql = sql.replace(f":{name}", f"${len(order)}")
    return sql, [params[n] for n in order]


async def time_direct(url: str, repeat: int) -> list[float]:
    states, sp, durations, dp = report_sql()
    s_sql, s_args = to_asyncpg(states, sp)
    d_sql, d_args = to_asyncpg(durations, dp)
    conn = await asyncpg.connect(to_plain_url(url), server_settings={"search_path": "evaluation,public"})
    times = []
    try:
        for _ in range(repeat + 1):
            t = time.perf_counter()
            await conn.fetch(s_sql, *s_args)
            await conn.fetch(d_sql, *d_args)
            times.append(time.perf_counter() - t)
    finally:
        await conn.close()
    return times[1:]  # the first run warms the caches for both sides alike


async def time_api(base: str, repeat: int) -> tuple[list[float], dict[str, object]]:
    params = {"from": MONTH[0].isoformat(), "to": MONTH[1].isoformat(), "group_by": "process,node"}
    return await time_get(base, "/v1/reports/achievement", params, repeat, client_timeout=600)


def summary(times: list[float]) -> str:
    return f"best {min(times) * 1000:8.1f} ms   median {statistics.median(times) * 1000:8.1f} ms"


async def measure(url: str, base: str, rows: int, repeat: int) -> tuple[float, float]:
    direct = await time_direct(url, repeat)
    api, body = await time_api(base, repeat)
    overall = body["overall"][0]  # type: ignore[index]
    print(f"\n{rows:>10,} node runs   (report: {overall['runs']:,} runs active in the month, "  # type: ignore[index]
          f"{len(body['groups']):,} groups)")  # type: ignore[arg-type]  # fmt: skip
    print(f"  direct SQL   {summary(direct)}")
    print(f"  through API  {summary(api)}")
    ratio = statistics.median(api) / statistics.median(direct)
    print(f"  API ÷ SQL    {ratio:.2f}   (goal ≤ 1.5)")
    return statistics.median(api), statistics.median(direct)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--factor", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    (DATA_DIR / "logs").mkdir(parents=True, exist_ok=True)
    with fresh_database("test") as url:
        migrate.upgrade(migrate.COMPONENTS["evaluation"], url)
        took = asyncio.run(generate(url, 1, args.rows))
        print(f"generated {args.rows:,} node runs and their rollups in {took:.0f} s")
        process, base = start_evaluation(url, "reports", {"EVALUATION_ROLLUP_TIMEZONE": "Asia/Shanghai"})
        try:
            api_small, sql_small = asyncio.run(measure(url, base, args.rows, args.repeat))
            took = asyncio.run(generate(url, args.rows + 1, args.rows * args.factor))
            print(f"\ngenerated up to {args.rows * args.factor:,} node runs in {took:.0f} s")
            api_big, sql_big = asyncio.run(measure(url, base, args.rows * args.factor, args.repeat))
        finally:
            process.terminate()
            process.wait(timeout=20)
    print(f"\n{args.factor}x the rows: API time x {api_big / api_small:.2f}, SQL time x {sql_big / sql_small:.2f}"
          "   (goal ≤ 2)")  # fmt: skip


if __name__ == "__main__":
    main()
