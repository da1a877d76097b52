"""evaluation-svc settings: environment variables prefixed `EVALUATION_` (DATABASE_URL as fallback)."""

from pledge_common.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EVALUATION_", extra="ignore")

    db_schema: str = "evaluation"
    commitment_url: str = "http://127.0.0.1:8001"
    tracking_url: str = "http://127.0.0.1:8002"
