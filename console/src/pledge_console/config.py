"""Console settings: environment variables prefixed `CONSOLE_` (DATABASE_URL as fallback)."""

from pledge_common.settings import ServiceSettings
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore")

    db_schema: str = "console"
    db_pool_size: int = 5
    gateway_url: str = Field(default="http://127.0.0.1:8000", description="the gateway whose public API it reads")
    api_key: str = Field(
        default="", description="the console's own admin API key: it creates each session's key and revokes it"
    )
    session_seconds: int = Field(default=8 * 3600, ge=300, le=7 * 86400, description="a session's lifetime")
    sign_in_burst: int = Field(default=5, ge=1, description="failed sign-ins allowed at once per account+address")
    sign_in_rate: float = Field(default=1 / 60, gt=0, description="failed sign-ins regained per second")
    timezone: str = Field(default="Asia/Shanghai", description="time zone of months and of the instants shown")
    timeout_seconds: float = Field(default=30.0, gt=0, description="timeout of a call to the gateway")

    @model_validator(mode="after")
    def _key_outside_local(self) -> "Settings":
        if self.environment not in {"local", "test"} and not self.api_key:
            raise ValueError("CONSOLE_API_KEY must be set outside local/test environments")
        return self
