"""tracking-svc settings: environment variables prefixed `TRACKING_` (DATABASE_URL as fallback)."""

from pledge_common.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRACKING_", extra="ignore")

    db_schema: str = "tracking"
    db_parallel_workers: int | None = Field(
        default=0,
        ge=0,
        description="parallel workers per query: none (ingest runs many small statements; once the event log "
        "is large, plans starting workers cost more than they save)",
    )
    commitment_url: str = "http://127.0.0.1:8001"
    consume_feeds: bool = Field(default=True, description="pull commitment-svc's feed in the background")
    bulk_max_items: int = Field(default=10_000, ge=1, description="largest JSON array accepted by /v1/events/bulk")
    ingest_chunk_size: int = Field(default=5_000, ge=1, description="events processed per set-based chunk")
    max_clock_skew_seconds: float = Field(
        default=300.0, ge=0, description="how far in the future an event's occurred_at may be"
    )
    max_attributes_bytes: int = Field(default=16_384, ge=2, description="size limit of a ticket's attributes JSON")
    max_attributes_depth: int = Field(
        default=16, ge=1, le=30, description="nesting limit of a ticket's attributes (the object itself is level 1)"
    )
    bulk_item_bytes: int = Field(
        default=2_048,
        ge=512,
        description="room per item of a JSON array: an array (or an atomic=true NDJSON stream) may be at most "
        "bulk_max_items x bulk_item_bytes bytes; it is also the most an NDJSON chunk holds",
    )
    body_read_seconds: float = Field(
        default=60.0, gt=0, description="time allowed to send a JSON array or an atomic=true NDJSON stream whole"
    )
    body_idle_seconds: float = Field(
        default=30.0, gt=0, description="longest pause allowed between two pieces of any bulk body"
    )
    ndjson_max_listed_items: int = Field(
        default=10_000, ge=0, description="NDJSON answers list at most this many non-accepted items"
    )
    alertmanager_max_alerts: int = Field(
        default=1_000, ge=1, description="most alerts accepted in one Alertmanager webhook payload"
    )
    ndjson_max_line_bytes: int = Field(default=1_048_576, ge=1024, description="longest NDJSON line accepted")

    # years of history (docs/operations.md): month partitions created ahead, expired ones dropped whole
    partitions_ahead: int = Field(default=3, ge=1, le=24, description="month partitions created beyond the current one")
    retention_months: int | None = Field(
        default=None,
        ge=1,
        description="the event log and node runs are kept this many whole months before the current one, older"
        " month partitions dropped (unset: kept for ever)",
    )
    maintenance_interval_seconds: float = Field(
        default=3600.0, gt=0, description="seconds between passes of partition maintenance and the idempotency purge"
    )
    run_maintenance: bool = Field(default=True, description="run partition maintenance and the idempotency purge")

    @property
    def bulk_max_bytes(self) -> int:
        """The largest JSON array (or atomic NDJSON stream) accepted, in bytes: refused before decoding."""
        return self.bulk_max_items * self.bulk_item_bytes
