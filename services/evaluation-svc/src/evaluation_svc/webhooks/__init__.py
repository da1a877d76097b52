"""Outbound webhooks: subscriptions, signed deliveries with retries, a delivery log."""
