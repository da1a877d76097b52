"""Years of history: the month partitions of the event log and node runs, their retention, and the purge
of expired idempotency keys (docs/operations.md, "Years of history")."""

from pledge_common.idempotency import purge_expired_keys
from pledge_common.partitions import Maintenance, PartitionedTable

from tracking_svc.config import Settings

EVENTS = "events"
NODE_RUNS = "node_runs"
# An event id is held once in `event_keys` (unpartitioned); the keys of a dropped month go with it.
_EXPIRED_EVENT_KEYS = "DELETE FROM event_keys WHERE received_at < :cutoff"


def maintenance(settings: Settings) -> Maintenance:
    return Maintenance(
        tables=(
            PartitionedTable(settings.db_schema, EVENTS, "received_at"),
            PartitionedTable(settings.db_schema, NODE_RUNS, "recorded_at"),
        ),
        ahead=settings.partitions_ahead,
        retention_months=settings.retention_months,
        after_retention=(_EXPIRED_EVENT_KEYS,),
        also=(purge_expired_keys,),
    )
