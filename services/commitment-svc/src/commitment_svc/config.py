"""commitment-svc settings: environment variables prefixed `COMMITMENT_` (DATABASE_URL as fallback)."""

from pledge_common.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="COMMITMENT_", extra="ignore")

    db_schema: str = "commitment"
    evaluation_url: str = Field(
        default="http://127.0.0.1:8003",
        description="evaluation-svc, asked which judged runs a version starting in the past would change",
    )
    evaluation_timeout: float = Field(default=30.0, gt=0, description="seconds to wait for that answer")
