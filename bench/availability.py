"""Availability-report benchmark: the API against the same SQL run directly.

    uv run python bench/availability.py                          # 10 000 services, 24 outages each in 2026
    uv run python bench/availability.py --services 1000 --outages 50

A fresh database on the embedded Postgres, evaluation-svc's migrations, then generated straight into its read
model: N services (customers acme-0 … acme-99), one availability commitment each (24x7, max single outage
PT4H / PT8H, max 30 outages, max downtime P1D), one signed agreement covering them at 0.999, and M outages per
service over 2026 (durations log-uniform from 1 min to 1.5 days, one in ten planned, one in five a degradation
at weight 0.5). evaluation-svc runs as a real process (uvicorn); the report of the year is asked
  (a) through its API: GET /v1/reports/availability?from=2026-01-01&to=2027-01-01, and
  (b) as the SQL that report runs (commitments, services, targets, calendars, outages), over asyncpg.
Each is timed best-of and median of --repeat runs; the difference is the judging in Python (availability,
each outage's state, MTTR/MTBF, budget, burn rates) and the JSON of N rows.
"""

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime

import asyncpg
from kit import start_evaluation, time_get
from pledge_common.settings import to_plain_url
from pledge_dev import migrate
from pledge_dev.paths import DATA_DIR
from pledge_dev.pg import fresh_database

YEAR = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))

GENERATE = """
WITH s AS (SELECT g FROM generate_series(1, $1::int) AS g),
services AS (
    INSERT INTO ref_services (key, name, customer_ref, segment, owner_department, status)
    SELECT 'svc-' || g, 'Service ' || g, 'acme-' || (g % 100), 'default', 'ops', 'active' FROM s
),
commitments AS (
    INSERT INTO ref_kind_commitments (id, commitment_key, version, kind, service_key, obligation_key, segment_key,
        limit_unit, commitment_limit, tolerance_limit, calendar_key, objective, owner_department, status,
        effective_from, effective_to)
    SELECT 'c-' || g, 'uptime-' || g, 1, 'availability', 'svc-' || g, NULL, 'default', 'duration', 'PT4H', 'PT8H',
           '24x7', '{"max_outages": 30, "max_downtime": "P1D", "planned_maintenance_exempt": true}',
           'ops', 'active', '2025-01-01T00:00:00Z', NULL
    FROM s
),
agreement AS (
    INSERT INTO ref_agreements (id, key, version, kind, title, status, payload)
    SELECT 'sla-bench', 'sla-bench', 1, 'sla', 'Bench', 'signed',
           jsonb_build_object('id', 'sla-bench', 'key', 'sla-bench', 'status', 'signed',
                              'covers', jsonb_agg(jsonb_build_object('commitment_key', 'uptime-' || g,
                                                                     'target_rate', 0.999)))
    FROM s
)
INSERT INTO service_outages (id, service_key, outage_ref, started_at, ended_at, planned, weight)
SELECT 'o-' || g || '-' || k, 'svc-' || g, 'ref-' || k,
       $2::timestamptz + make_interval(secs => ((g * 7919 + k * 104729)::bigint * 2654435761 % 31536000)),
       $2::timestamptz + make_interval(secs => ((g * 7919 + k * 104729)::bigint * 2654435761 % 31536000)
                                               + 60 * power(2160, ((g * 31 + k * 17) % 1000) / 1000.0)),
       (g + k) % 10 = 0, CASE WHEN (g * 3 + k) % 5 = 0 THEN 0.5 ELSE 1 END
FROM s CROSS JOIN generate_series(1, $3::int) AS k
"""

# the statements the report runs, as the repositories write them
STATEMENTS = (
    (
        "SELECT * FROM ref_kind_commitments WHERE kind = ANY($1) AND status IN ('active', 'retired')"
        " AND (effective_from IS NULL OR effective_from < $3) AND (effective_to IS NULL OR effective_to > $2)"
        " ORDER BY commitment_key, service_key, segment_key, version",
        lambda: (["availability"], YEAR[0], YEAR[1]),
    ),
    ("SELECT * FROM ref_services WHERE key = ANY($1)", lambda: (SERVICE_KEYS,)),
    (
        "SELECT k.key, max((c.value->>'target_rate')::double precision) AS target"
        " FROM ref_agreements a CROSS JOIN LATERAL jsonb_array_elements(a.payload->'covers') AS c(value)"
        " JOIN unnest(CAST($1 AS text[])) AS k(key) ON k.key = c.value->>'commitment_key'"
        " WHERE a.status = 'signed' GROUP BY 1",
        lambda: (COMMITMENT_KEYS,),
    ),
    ("SELECT * FROM ref_calendars WHERE key = ANY($1)", lambda: ([],)),
    (
        "SELECT * FROM service_outages WHERE service_key = ANY($1) AND started_at IS NOT NULL AND started_at < $3"
        " AND (ended_at IS NULL OR ended_at > $2) ORDER BY service_key, started_at, id",
        lambda: (SERVICE_KEYS, YEAR[0], YEAR[1]),
    ),
)
SERVICE_KEYS: list[str] = []
COMMITMENT_KEYS: list[str] = []


async def generate(url: str, services: int, outages: int) -> float:
    started = time.perf_counter()
    conn = await asyncpg.connect(to_plain_url(url), server_settings={"search_path": "evaluation"})
    try:
        await conn.execute(GENERATE, services, YEAR[0], outages)
        for table in ("ref_services", "ref_kind_commitments", "service_outages", "ref_agreements"):
            await conn.execute(f"VACUUM ANALYZE {table}")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def time_direct(url: str, repeat: int) -> tuple[list[float], list[float]]:
    """Total times of the statements, and the best time of each."""
    conn = await asyncpg.connect(to_plain_url(url), server_settings={"search_path": "evaluation,public"})
    times = []
    each = [float("inf")] * len(STATEMENTS)
    try:
        for _ in range(repeat + 1):
            total = 0.0
            for i, (sql, args) in enumerate(STATEMENTS):
                t = time.perf_counter()
                await conn.fetch(sql, *args())
                took = time.perf_counter() - t
                total += took
                each[i] = min(each[i], took)
            times.append(total)
    finally:
        await conn.close()
    return times[1:], each  # the first run warms the caches for both sides alike


async def time_api(base: str, repeat: int) -> tuple[list[float], dict[str, object]]:
    params = {"from": YEAR[0].isoformat(), "to": YEAR[1].isoformat()}
    return await time_get(base, "/v1/reports/availability", params, repeat, client_timeout=1200)


def summary(times: list[float]) -> str:
    return f"best {min(times) * 1000:9.1f} ms   median {statistics.median(times) * 1000:9.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--outages", type=int, default=24, help="outages per service over 2026")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    SERVICE_KEYS[:] = [f"svc-{g}" for g in range(1, args.services + 1)]
    COMMITMENT_KEYS[:] = [f"uptime-{g}" for g in range(1, args.services + 1)]
    (DATA_DIR / "logs").mkdir(parents=True, exist_ok=True)
    with fresh_database("test") as url:
        migrate.upgrade(migrate.COMPONENTS["evaluation"], url)
        took = asyncio.run(generate(url, args.services, args.outages))
        print(f"generated {args.services:,} services and {args.services * args.outages:,} outages in {took:.1f} s")
        process, base = start_evaluation(url, "availability")
        try:
            direct, each = asyncio.run(time_direct(url, args.repeat))
            api, body = asyncio.run(time_api(base, args.repeat))
        finally:
            process.terminate()
            process.wait(timeout=20)
    rows: list[dict[str, object]] = body["rows"]  # type: ignore[assignment]
    missed = sum(1 for r in rows if r["target_met"] is False)
    print(f"\nreport of 2026: {len(rows):,} rows ({missed:,} under the 0.999 target)")
    print(f"  direct SQL   {summary(direct)}")
    for (sql, _), took in zip(STATEMENTS, each, strict=True):
        print(f"    {took * 1000:9.1f} ms  {' '.join(sql.split()[:8])} …")
    print(f"  through API  {summary(api)}")
    print(f"  API ÷ SQL    {statistics.median(api) / statistics.median(direct):.1f}")
    print(f"  per service  {statistics.median(api) / max(len(rows), 1) * 1e6:.0f} µs through the API")


if __name__ == "__main__":
    main()
