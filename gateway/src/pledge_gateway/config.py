"""Gateway settings: environment variables prefixed `GATEWAY_` (DATABASE_URL as fallback)."""

import math

from pledge_common.settings import ServiceSettings
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import SettingsConfigDict

MIB = 1024 * 1024
# A bucket's bounds: below MIN_RATE (one request in about 17 minutes) the seconds to wait overflow what a
# header or a timer can hold; above MAX_RATE a bucket is no limit at all.
MIN_RATE = 0.001
MAX_RATE = 1_000_000.0
MAX_BURST = 1_000_000_000


class RateLimit(BaseModel):
    """A token bucket: `rate` requests per second on average, bursts of up to `burst`."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    rate: float = Field(ge=MIN_RATE, le=MAX_RATE)
    burst: int = Field(ge=1, le=MAX_BURST)

    @classmethod
    def within_bounds(cls, rate: float, burst: int) -> "RateLimit":
        """A limit read back from storage, brought within the bounds (it may predate them): never an error."""
        rate = float(rate)
        if math.isnan(rate):
            rate = MIN_RATE
        return cls(rate=min(max(rate, MIN_RATE), MAX_RATE), burst=min(max(int(burst), 1), MAX_BURST))


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    db_schema: str = "gateway"
    commitment_url: str = "http://127.0.0.1:8001"
    tracking_url: str = "http://127.0.0.1:8002"
    evaluation_url: str = "http://127.0.0.1:8003"
    feedback_url: str = "http://127.0.0.1:8004"
    console_url: str = Field(default="http://127.0.0.1:8005", description="the web console (`/console/...`)")

    # routing
    timeout_seconds: float = Field(default=10.0, gt=0, description="default upstream timeout of a route")
    report_timeout_seconds: float = Field(default=30.0, gt=0, description="timeout of report and what-if routes")
    bulk_timeout_seconds: float = Field(default=900.0, gt=0, description="timeout of bulk event ingest")
    connect_timeout_seconds: float = Field(default=2.0, gt=0)
    max_body_bytes: int = Field(default=1 * MIB, ge=0, description="request body limit of ordinary routes")
    bulk_max_body_bytes: int = Field(default=2048 * MIB, ge=0, description="request body limit of bulk ingest")
    openapi_ttl_seconds: float = Field(default=30.0, ge=0)
    readiness_timeout_seconds: float = Field(default=2.0, gt=0)

    # authentication
    auth_enabled: bool = Field(default=True, description="false only for benchmarks, refused outside local/test")
    key_cache_seconds: float = Field(default=5.0, ge=0, description="how long a verified API key stays cached")
    key_rotation_grace_seconds: int = Field(default=86400, ge=0, description="default validity of a rotated key")
    jwt_public_key: str = Field(default="", description="PEM public key (RSA or EC) that signs user tokens")
    jwt_jwks_url: str = Field(default="", description="JWKS URL of the identity provider")
    jwt_jwks_ttl_seconds: float = 300.0
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    jwt_roles_claim: str = Field(default="roles", description="claim holding the user's roles; dots for nesting")
    jwt_sources_claim: str = Field(default="", description="optional claim restricting a user to source systems")
    jwt_department_claim: str = Field(
        default="", description="optional claim naming the user's department (GET /v1/me reports it); dots for nesting"
    )
    jwt_role_scopes: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "pledge-admin": ["admin"],
            "pledge-manager": [
                "definitions:read",
                "definitions:write",
                "tickets:read",
                "reports:read",
                "alerts:manage",
                "feedback:read",
                "feedback:write",
                "complaints:read",
                "complaints:manage",
            ],
            "pledge-viewer": ["definitions:read", "tickets:read", "reports:read", "feedback:read", "complaints:read"],
        }
    )
    jwt_leeway_seconds: int = 30
    metrics_token: str = Field(
        default="",
        description="bearer token that may read /metrics (for Prometheus); credentials with `admin` always may",
    )

    # limits
    rate_limit_enabled: bool = True
    rate_limits: dict[str, RateLimit] = Field(
        default_factory=lambda: {
            "default": RateLimit(rate=100, burst=200),
            "events:write": RateLimit(rate=200, burst=400),
        },
        description='buckets by "default", a scope ("events:write") or a route ("POST /v1/events/bulk")',
    )
    redis_url: str = Field(default="", description="shared rate-limit state for several replicas")
    wrong_secret_limit: RateLimit = Field(
        default_factory=lambda: RateLimit(rate=1, burst=10),
        description="wrong secrets hashed per client address and key prefix (past it: refused without hashing)",
    )
    auth_failure_limit: RateLimit = Field(
        default_factory=lambda: RateLimit(rate=1, burst=30),
        description="failed authentications allowed per client address (past it: 429 instead of 401)",
    )

    # browser hygiene
    cors_origins: list[str] = Field(default_factory=list)
    hsts: bool = Field(default=False, description="send Strict-Transport-Security (behind TLS only)")

    @model_validator(mode="after")
    def _no_open_gateway_in_production(self) -> "Settings":
        if not self.auth_enabled and self.environment not in {"local", "test"}:
            raise ValueError("GATEWAY_AUTH_ENABLED=false is refused outside local/test environments")
        if self.jwt_public_key or self.jwt_jwks_url:
            if not self.jwt_issuer or not self.jwt_audience:
                raise ValueError("JWT needs GATEWAY_JWT_ISSUER and GATEWAY_JWT_AUDIENCE")
            if any(alg.lower() == "none" or alg.startswith("HS") for alg in self.jwt_algorithms):
                raise ValueError("GATEWAY_JWT_ALGORITHMS allows only asymmetric algorithms (RS*, ES*, PS*, EdDSA)")
        if "default" not in self.rate_limits:
            raise ValueError('GATEWAY_RATE_LIMITS must define "default"')
        return self

    def service_url(self, service: str) -> str:
        url: str = getattr(self, f"{service}_url")
        return url.rstrip("/")
