"""commitment-svc settings: environment variables prefixed `COMMITMENT_` (DATABASE_URL as fallback)."""

from pledge_common.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="COMMITMENT_", extra="ignore")

    db_schema: str = "commitment"
