"""The OpenAPI `webhooks` section declares every event a subscription can receive, as it is delivered."""

from typing import get_args

from evaluation_svc.main import create_app
from evaluation_svc.webhooks.schemas import WebhookEvent


def test_every_subscribable_event_is_a_declared_webhook_with_its_signature_headers() -> None:
    document = create_app().openapi()
    hooks = document["webhooks"]
    assert set(hooks) == set(get_args(WebhookEvent))
    for event, item in hooks.items():
        post = item["post"]
        headers = {p["name"] for p in post["parameters"] if p["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}, event
        body = post["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/AlertDelivery"}
        assert "422" not in post["responses"]  # the subscriber answers; any non-2xx is retried
    schemas = document["components"]["schemas"]
    assert "AlertPublic" in schemas  # one alert schema, as answers write it (no -Input/-Output split)
    assert not [n for n in schemas if n.startswith("AlertPublic-")]
