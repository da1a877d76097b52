"""Years of history: the month partitions of node runs, their retention, and the purge of expired
idempotency keys (docs/operations.md, "Years of history"). The rollups (`run_state_hourly`,
`run_duration_daily`) are not partitioned and keep the counts and durations of the months dropped."""

from pledge_common.idempotency import purge_expired_keys
from pledge_common.partitions import Maintenance, PartitionedTable

from evaluation_svc.config import Settings

NODE_RUNS = "node_runs"


def maintenance(settings: Settings) -> Maintenance:
    return Maintenance(
        tables=(PartitionedTable(settings.db_schema, NODE_RUNS, "recorded_at"),),
        ahead=settings.partitions_ahead,
        retention_months=settings.retention_months,
        also=(purge_expired_keys,),
    )
