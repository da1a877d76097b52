"""What a webhook subscriber receives: the OpenAPI `webhooks` section of evaluation-svc.

One POST per alert event to the subscription's URL, body `{"type": <event>, "alert": <the alert>}`, signed
as Standard Webhooks do (`webhook-id`, `webhook-timestamp`, `webhook-signature`). A 2xx answer is a
delivery; anything else (or no answer) is retried with backoff, and a subscription that keeps failing is
disabled. These operations document requests Pledge sends; nothing serves them."""

from typing import Annotated

from fastapi import APIRouter, Header
from pydantic import BaseModel, ConfigDict, Field

from evaluation_svc.alerts.schemas import AlertPublic
from evaluation_svc.webhooks.schemas import WebhookEvent

RESPONSES: dict[int | str, dict[str, str]] = {
    200: {"description": "any 2xx: delivered"},
    "default": {"description": "anything else, or no answer in time: retried with backoff"},
}
WebhookId = Annotated[str, Header(alias="webhook-id", description="the delivery's id: the same on every retry")]
WebhookTimestamp = Annotated[
    str, Header(alias="webhook-timestamp", description="seconds since the Unix epoch when this attempt was signed")
]
WebhookSignature = Annotated[
    str,
    Header(
        alias="webhook-signature",
        description="`v1,<base64 HMAC-SHA256 of '<webhook-id>.<webhook-timestamp>.<body>'>` with the "
        "subscription's secret (space-separated when several secrets are valid)",
    ),
]


class AlertDelivery(BaseModel):
    """The body of a webhook delivery."""

    model_config = ConfigDict(json_schema_mode_override="serialization")  # the alert as answers write it

    type: WebhookEvent = Field(description="the event, also the subscription's filter")
    alert: AlertPublic


outbound = APIRouter(tags=["webhooks"])


@outbound.post("alert.raised", responses=RESPONSES)
def alert_raised(
    body: AlertDelivery, webhook_id: WebhookId, webhook_timestamp: WebhookTimestamp, webhook_signature: WebhookSignature
) -> None:
    """An alert was raised: a run passed its prewarning, tolerance or commitment limit (`alert.level`)."""


@outbound.post("alert.acknowledged", responses=RESPONSES)
def alert_acknowledged(
    body: AlertDelivery, webhook_id: WebhookId, webhook_timestamp: WebhookTimestamp, webhook_signature: WebhookSignature
) -> None:
    """Someone acknowledged an alert (`alert.acknowledged_by`, `alert.note`)."""
