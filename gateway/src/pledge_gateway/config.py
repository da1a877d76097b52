"""Gateway settings: environment variables prefixed `GATEWAY_` (DATABASE_URL as fallback)."""

from pydantic_settings import SettingsConfigDict

from pledge_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    db_schema: str = "gateway"
    commitment_url: str = "http://127.0.0.1:8001"
    tracking_url: str = "http://127.0.0.1:8002"
    evaluation_url: str = "http://127.0.0.1:8003"
    feedback_url: str = "http://127.0.0.1:8004"
