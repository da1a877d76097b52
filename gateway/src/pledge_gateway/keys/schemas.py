"""The HTTP contract of /v1/api-keys (inputs forbid unknown fields; the hash never leaves the gateway)."""

import uuid
from datetime import timedelta
from typing import Annotated, Literal

from pledge_common.instants import Instant
from pledge_common.pagination import Page
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from pledge_gateway.config import MAX_BURST, MAX_RATE, MIN_RATE
from pledge_gateway.routes import Scope


class RateLimitOverride(BaseModel):
    """A key's own token bucket for one of the gateway's rate-limit buckets (same meaning as the settings')."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    rate: float = Field(
        ge=MIN_RATE, le=MAX_RATE, description=f"requests per second on average, {MIN_RATE:g} to {MAX_RATE:g}"
    )
    burst: int = Field(ge=1, le=MAX_BURST, description="requests at once")


RateLimitOverrides = dict[Annotated[str, StringConstraints(min_length=1, max_length=200)], RateLimitOverride]
RATE_LIMITS_DESCRIPTION = (
    'this key\'s own limits by bucket name ("default", "events:write", ...: only the buckets of the gateway\'s '
    "settings); the settings' limit applies to the other buckets"
)

SourceName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    scopes: list[Scope] = Field(min_length=1, description="what the key may do")
    sources: list[SourceName] | None = Field(
        default=None,
        min_length=1,
        description="source systems whose tickets the key may push and read; null = every source",
    )
    expires_at: AwareDatetime | None = Field(default=None, description="null = never expires")
    rate_limits: RateLimitOverrides = Field(default_factory=dict, description=RATE_LIMITS_DESCRIPTION)


class ApiKeyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate_limits: RateLimitOverrides | None = Field(
        default=None, description=RATE_LIMITS_DESCRIPTION + "; replaces the key's overrides, null or {} clears them"
    )


class ApiKeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_period: timedelta | None = Field(
        default=None,
        description="how long the old key stays valid (ISO 8601 duration, e.g. PT24H); default from settings",
    )


class ApiKeyPublic(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="the public lookup part of the key (pledge_<prefix>_...)")
    scopes: list[str]
    sources: list[str] | None
    status: Literal["active", "expired", "revoked"]
    created_at: Instant
    created_by: str | None
    expires_at: Instant | None
    revoked_at: Instant | None
    replaced_by: uuid.UUID | None
    owner_id: uuid.UUID = Field(
        description="the first key of this key's rotation chain (its own id until rotated): what the holder owns "
        "in the services, such as webhook subscriptions, belongs to it and survives rotation"
    )
    rate_limits: dict[str, RateLimitOverride]


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="the full key; shown only in this answer, store it now")


ApiKeyPage = Page[ApiKeyPublic]
