"""feedback-svc settings: environment variables prefixed `FEEDBACK_` (DATABASE_URL as fallback)."""

from pledge_common.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FEEDBACK_", extra="ignore")

    db_schema: str = "feedback"
    tracking_url: str = "http://127.0.0.1:8002"
    evaluation_url: str = "http://127.0.0.1:8003"
