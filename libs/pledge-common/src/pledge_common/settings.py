"""Settings base shared by every service: one class per service, one env prefix per service."""

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SERVICE_TOKEN = "dev-service-token-change-me"


class ServiceSettings(BaseSettings):
    """Common settings; subclasses set `model_config = SettingsConfigDict(env_prefix="X_")`."""

    # populate_by_name: `Settings(environment="test")` works as well as PLEDGE_ENVIRONMENT=test
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    environment: str = Field(default="local", validation_alias=AliasChoices("PLEDGE_ENVIRONMENT"))
    database_url: str = ""
    db_schema: str = ""
    db_pool_size: int = 10
    db_parallel_workers: int | None = Field(
        default=None,
        ge=0,
        description="max_parallel_workers_per_gather of this service's connections (unset: the server's)",
    )
    service_token: str = Field(
        default=DEV_SERVICE_TOKEN,
        validation_alias=AliasChoices("PLEDGE_SERVICE_TOKEN"),
        description="shared secret of the suite: /internal calls and identity signatures use keys derived from it",
    )
    service_token_previous: str = Field(
        default="",
        validation_alias=AliasChoices("PLEDGE_SERVICE_TOKEN_PREVIOUS"),
        description="a second service token, also accepted (never sent) while the token rotates; empty: none",
    )
    require_identity: bool = Field(
        default=False,
        validation_alias=AliasChoices("PLEDGE_REQUIRE_IDENTITY"),
        description="refuse public requests without gateway-signed identity headers",
    )
    log_level: str = "INFO"
    log_json: bool = True
    worker_stall_seconds: float = Field(
        default=120.0,
        gt=0,
        description="a background worker with no heartbeat for this long (or three poll intervals, if longer)"
        " makes the service not ready",
    )
    worker_max_failures: int = Field(
        default=3, ge=1, description="crashes in a row after which a background worker makes the service not ready"
    )
    worker_backoff_seconds: float = Field(
        default=1.0, ge=0, description="first pause before restarting a crashed worker"
    )
    worker_backoff_max_seconds: float = Field(default=30.0, ge=0, description="longest pause before a restart")
    idempotency_key_ttl_seconds: int = Field(
        default=24 * 3600,
        ge=60,
        description="how long the first answer to a POST with an Idempotency-Key is replayed (default 24 h)",
    )

    @model_validator(mode="after")
    def _database_url_fallback(self) -> "ServiceSettings":
        if not self.database_url:
            import os

            self.database_url = os.environ.get("DATABASE_URL", "")
        if self.environment not in {"local", "test"} and self.service_token == DEV_SERVICE_TOKEN:
            raise ValueError("PLEDGE_SERVICE_TOKEN must be set outside local/test environments")
        return self

    @property
    def accepted_service_tokens(self) -> tuple[str, ...]:
        """The tokens whose bearer and signatures are accepted: the current one first, then the previous."""
        previous = self.service_token_previous
        return (self.service_token,) + ((previous,) if previous and previous != self.service_token else ())

    @property
    def async_database_url(self) -> str:
        return to_async_url(self.database_url)


def to_async_url(url: str) -> str:
    """Normalise any postgres URL to the asyncpg dialect SQLAlchemy expects."""
    for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]!r}")


def to_plain_url(url: str) -> str:
    """The libpq-style URL (for asyncpg.connect and psql)."""
    return "postgresql://" + to_async_url(url)[len("postgresql+asyncpg://") :]
