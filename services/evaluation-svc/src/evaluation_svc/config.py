"""evaluation-svc settings: environment variables prefixed `EVALUATION_` (DATABASE_URL as fallback)."""

from datetime import timedelta
from typing import Literal

from pledge_common.settings import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from evaluation_svc.alerts.rules import DEFAULT_LATE_AFTER


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EVALUATION_", extra="ignore")

    db_schema: str = "evaluation"
    builtin_calendar: str = Field(
        default="24x7", description="calendar key meaning round the clock, if not in the feed"
    )
    commitment_url: str = "http://127.0.0.1:8001"
    tracking_url: str = "http://127.0.0.1:8002"
    feedback_url: str | None = Field(
        default="http://127.0.0.1:8004", description="feedback-svc, for the satisfaction of settlements (None: none)"
    )
    feedback_timeout_seconds: float = Field(default=5.0, gt=0)

    # background loops (each safe with several replicas); tests switch them off and drive them by hand
    consume_feeds: bool = True
    run_scanner: bool = True
    run_webhooks: bool = True
    # events per feed page: fewer, larger pages keep the projection up with bulk ingest (bench/pipeline.py)
    feed_batch_size: int = Field(default=3000, ge=1, le=5000)
    feed_wait_seconds: float = Field(default=5.0, ge=0, le=30)
    tracking_partitions: int = Field(
        default=2,
        ge=1,
        le=16,
        description="partitions of tracking's feed applied side by side (each with its own cursor and lease; "
        "replicas share them out)",
    )

    # years of history (docs/operations.md): month partitions created ahead, expired ones dropped whole
    partitions_ahead: int = Field(default=3, ge=1, le=24, description="month partitions created beyond the current one")
    retention_months: int | None = Field(
        default=None,
        ge=1,
        description="node runs are kept this many whole months before the current one, older month partitions"
        " dropped; the rollups keep their counts and durations (unset: kept for ever)",
    )
    maintenance_interval_seconds: float = Field(
        default=3600.0, gt=0, description="seconds between passes of partition maintenance and the idempotency purge"
    )
    run_maintenance: bool = Field(default=True, description="run partition maintenance and the idempotency purge")

    # alert scanner
    scanner_interval: float = Field(default=0.5, gt=0, description="seconds between scans when idle")
    scanner_batch_size: int = Field(default=250, ge=1)
    alert_settle_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="a run is alerted on once its last change is this old: a backlog a source sends at once raises "
        "alerts for the runs still open after it, not for each step of its replay (adds at most this to alert latency)",
    )

    alert_late_after: timedelta = Field(
        default=DEFAULT_LATE_AFTER,
        gt=timedelta(0),
        description="a level reached longer ago than this when the scanner detects it (old work orders loaded now) "
        "is recorded as late and not delivered (an ISO 8601 duration: PT1H, PT30M)",
    )

    # outbound webhooks
    webhook_allow_private: bool = Field(
        default=False, description="allow webhook targets in private and loopback ranges (tests, local runs)"
    )
    webhook_allowed_networks: list[str] = Field(
        default_factory=list,
        description="CIDRs (e.g. 127.0.0.0/8) that webhook targets may resolve to although private or loopback",
    )
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1, description="attempts per delivery before it fails")
    webhook_backoff_seconds: float = Field(default=2.0, gt=0, description="first retry delay; doubles per attempt")
    webhook_backoff_max_seconds: float = Field(default=900.0, gt=0)
    webhook_disable_after_failures: int = Field(
        default=20, ge=1, description="consecutive failed attempts that disable a subscription"
    )
    webhook_poll_seconds: float = Field(default=0.5, gt=0)

    # notifications to people (notify/): the planner, the escalator and the sender share one loop
    run_notifications: bool = True
    notify_poll_seconds: float = Field(default=1.0, gt=0, description="seconds between notification rounds when idle")
    notify_max_attempts: int = Field(default=6, ge=1, description="attempts per message before it fails")
    notify_backoff_seconds: float = Field(default=5.0, gt=0, description="first retry delay; doubles per attempt")
    notify_backoff_max_seconds: float = Field(default=900.0, gt=0)
    notify_timeout_seconds: float = Field(default=10.0, gt=0, description="per chat request or SMTP session")
    console_url: str | None = Field(default=None, description="the web console's base URL, for links in messages")
    notify_admin_emails: list[str] = Field(
        default_factory=list, description="addresses told by email when a message fails after its last attempt"
    )
    notify_admin_language: Literal["zh", "en"] = "zh"
    smtp_host: str | None = Field(default=None, description="the SMTP server (None: email channels fail, logged)")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="`starttls` (port 587), `tls` (implicit TLS, port 465), `none` (tests only)"
    )
    smtp_username: str | None = None
    smtp_password: SecretStr | None = Field(default=None, description="never answered nor logged")
    smtp_from: str = Field(default="pledge@localhost", description="the From address of emails")
    smtp_ca_file: str | None = Field(
        default=None,
        description="a PEM file of the certificate authorities trusted for the SMTP server's certificate (a private "
        "CA); by default the system's. The certificate and its host name are always verified",
    )

    # reports
    rollup_timezone: str = Field(
        default="UTC",
        description="time zone whose days the duration rollups follow: set it to the organisation's so that "
        "reports over its local days read only rollups (changing it needs the rollups rebuilt)",
    )
    report_max_days: int = Field(default=366, ge=1)
    page_max: int = Field(default=500, ge=1)
    export_max_rows: int = Field(
        default=100_000, ge=1, description="node runs a CSV or XLSX export of a status cell holds at most"
    )
    organisation_name: str = Field(
        default="Pledge", min_length=1, description="who issues the PDF agreement reviews and settlements"
    )
    kpi_reopen_days: int = Field(
        default=7, ge=1, le=90, description="a repair reopened within this many days was not fixed the first time"
    )
    recommendation_min_sample: int = Field(default=30, ge=1)
    recommendation_raise_at: float = Field(default=0.9, gt=0, le=1)
    recommendation_improve_at: float = Field(default=0.1, ge=0, lt=1)
    replay_max_runs: int = Field(default=200_000, ge=1, description="runs a what-if or agreement review may replay")
