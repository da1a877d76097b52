"""Public shapes of webhook subscriptions and their delivery log."""

import uuid
from typing import Literal

from pledge_common.instants import Instant
from pledge_common.pagination import Page
from pydantic import BaseModel, ConfigDict, Field

from evaluation_svc.alerts.schemas import AlertLevel

WebhookEvent = Literal["alert.raised", "alert.acknowledged"]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, description="http(s) URL receiving POSTed JSON deliveries")
    description: str | None = Field(default=None, max_length=500)
    department: str | None = Field(default=None, description="only alerts of this department (null: all)")
    events: list[WebhookEvent] = Field(default_factory=list, description="event types to deliver (empty: all)")
    levels: list[AlertLevel] = Field(default_factory=list, description="alert levels to deliver (empty: all)")


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, max_length=500)
    department: str | None = None
    events: list[WebhookEvent] | None = None
    levels: list[AlertLevel] | None = None
    enabled: bool | None = Field(default=None, description="true re-enables a subscription disabled by failures")


class WebhookPublic(BaseModel):
    id: uuid.UUID
    url: str
    description: str | None
    department: str | None
    events: list[str]
    levels: list[str]
    enabled: bool
    disabled_reason: str | None
    consecutive_failures: int
    created_at: Instant
    updated_at: Instant


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description="Standard Webhooks signing secret (`whsec_<base64>`), for `webhook-signature`; shown only once",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


WebhookPage = Page[WebhookPublic]


class AttemptPublic(BaseModel):
    attempt: int
    at: Instant
    status_code: int | None
    error: str | None
    duration_ms: float


class DeliveryPublic(BaseModel):
    id: uuid.UUID
    alert_id: uuid.UUID = Field(description="the alert this delivery carries")
    event_type: str
    status: Literal["pending", "delivered", "failed", "skipped"] = Field(
        description="`skipped`: its alert resolved (the run ended) before it was delivered; never sent"
    )
    attempts: int
    created_at: Instant
    next_attempt_at: Instant | None
    delivered_at: Instant | None
    last_status_code: int | None
    last_error: str | None
    log: list[AttemptPublic]


DeliveryPage = Page[DeliveryPublic]
