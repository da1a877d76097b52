"""feedback-svc settings: environment variables prefixed `FEEDBACK_` (DATABASE_URL as fallback)."""

from pledge_common.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FEEDBACK_", extra="ignore")

    db_schema: str = "feedback"
    tracking_url: str = "http://127.0.0.1:8002"
    evaluation_url: str = "http://127.0.0.1:8003"
    upstream_timeout: float = 5.0
    # the complaint -> tracking command sender (a background loop; tests run one pass at a time)
    run_sender: bool = True
    sender_interval: float = 1.0
    sender_batch: int = 100
    sender_backoff_base: float = 1.0
    sender_backoff_max: float = 60.0
    # period buckets (day/week/month) are cut in this timezone unless a request names another
    report_timezone: str = "UTC"
    complaint_process_key: str = "complaint-handling"
    repeat_window_days: int = 30
    # complaint tickets that source systems send to tracking-svc become complaints (read from tracking's feed)
    run_ticket_consumer: bool = True
    complaint_ticket_processes: list[str] = ["complaint-handling"]
    complaint_ticket_department: str = "customer-service"
    feed_batch_size: int = 500
    feed_wait_seconds: float = 5.0
