"""tracking-svc settings: environment variables prefixed `TRACKING_` (DATABASE_URL as fallback)."""

from pledge_common.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRACKING_", extra="ignore")

    db_schema: str = "tracking"
    commitment_url: str = "http://127.0.0.1:8001"
