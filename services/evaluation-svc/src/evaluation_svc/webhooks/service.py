"""Webhook subscriptions (create, read, update, delete) and the sender loop."""

import asyncio
import logging
import math
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pledge_common.identity import Caller
from pledge_common.pagination import decode_cursor, encode_cursor
from pledge_common.problems import NotFound, invalid
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from evaluation_svc.config import Settings
from evaluation_svc.webhooks.repository import WebhookRepository
from evaluation_svc.webhooks.schemas import (
    DeliveryPage,
    DeliveryPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookPage,
    WebhookPublic,
    WebhookUpdate,
)
from evaluation_svc.webhooks.signing import EVENT_HEADER, new_secret, signed_headers
from evaluation_svc.webhooks.targets import (
    Network,
    TargetRefused,
    delivery_client,
    parse_networks,
    post_checked,
    target_refused,
)

log = logging.getLogger("evaluation.webhooks")


def _public(row: dict[str, Any]) -> WebhookPublic:
    return WebhookPublic(**{k: v for k, v in row.items() if k in WebhookPublic.model_fields})


def _owned(row: dict[str, Any], caller: Caller) -> bool:
    return caller.sources is None or row["owner"] == caller.holder


def _visible(row: dict[str, Any] | None, caller: Caller) -> dict[str, Any]:
    """Subscriptions of a partner bound to sources are its own (its key's owner: the same after a rotation);
    others see all."""
    if row is None or not _owned(row, caller):
        raise NotFound("no such webhook subscription")
    return row


async def create(session: AsyncSession, settings: Settings, caller: Caller, body: WebhookCreate) -> WebhookCreated:
    refused = await target_refused(
        body.url, parse_networks(settings.webhook_allowed_networks, settings.webhook_allow_private)
    )
    if refused:
        raise invalid("url", refused)
    row = await WebhookRepository(session).create(
        {
            "id": uuid.uuid4(),
            "url": body.url,
            "description": body.description,
            "department": body.department,
            "events": list(body.events),
            "levels": list(body.levels),
            "sources": sorted(caller.sources) if caller.sources is not None else None,
            "created_by": caller.sub,
            "owner": caller.holder,
            "secret": new_secret(),
        }
    )
    return WebhookCreated(**_public(row).model_dump(), secret=row["secret"])


async def list_page(session: AsyncSession, caller: Caller, cursor: str | None, limit: int) -> WebhookPage:
    """A page of the subscriptions the caller sees (`_owned`), by creation."""
    after = decode_cursor(cursor, datetime.fromisoformat, uuid.UUID)
    owner = None if caller.sources is None else caller.holder
    rows = await WebhookRepository(session).page(owner, (after[0], after[1]) if after else None, limit + 1)
    last = rows[limit - 1] if len(rows) > limit else None
    return WebhookPage(
        items=[_public(r) for r in rows[:limit]],
        next_cursor=encode_cursor(last["created_at"], last["id"]) if last else None,
    )


async def get(session: AsyncSession, caller: Caller, subscription_id: uuid.UUID) -> WebhookPublic:
    return _public(_visible(await WebhookRepository(session).get(subscription_id), caller))


async def update(
    session: AsyncSession, settings: Settings, caller: Caller, subscription_id: uuid.UUID, body: WebhookUpdate
) -> WebhookPublic:
    repo = WebhookRepository(session)
    _visible(await repo.get(subscription_id, for_update=True), caller)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    for key in ("url", "events", "levels", "enabled"):
        if key in changes and changes[key] is None:
            raise invalid(key, "must not be null")
    if "url" in changes:
        refused = await target_refused(
            changes["url"], parse_networks(settings.webhook_allowed_networks, settings.webhook_allow_private)
        )
        if refused:
            raise invalid("url", refused)
    if changes.get("enabled") is True:
        changes |= {"consecutive_failures": 0, "disabled_reason": None}
    elif changes.get("enabled") is False:
        changes["disabled_reason"] = "disabled by the user"
    if not changes:
        return await get(session, caller, subscription_id)
    return _public(await repo.update(subscription_id, changes))


async def delete(session: AsyncSession, caller: Caller, subscription_id: uuid.UUID) -> None:
    repo = WebhookRepository(session)
    _visible(await repo.get(subscription_id, for_update=True), caller)
    await repo.delete(subscription_id)


async def deliveries(
    session: AsyncSession, caller: Caller, subscription_id: uuid.UUID, cursor: str | None, limit: int
) -> DeliveryPage:
    repo = WebhookRepository(session)
    _visible(await repo.get(subscription_id), caller)
    after = decode_cursor(cursor, datetime.fromisoformat, uuid.UUID, field="query.cursor")
    rows = await repo.deliveries(subscription_id, after, limit + 1)
    items = [DeliveryPublic(**r) for r in rows[:limit]]
    next_cursor = encode_cursor(items[-1].created_at, items[-1].id) if len(rows) > limit else None
    return DeliveryPage(items=items, next_cursor=next_cursor)


def retry_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: half the capped delay fixed, half random ("equal jitter")."""
    delay: float = min(cap, base * math.pow(2, max(0, attempt - 1)))
    jitter: float = (rng or random.Random()).uniform(0, delay / 2)
    return delay / 2 + jitter


class WebhookSender:
    """Background loop: lease due deliveries, POST them signed, record the outcome. Several replicas share
    the queue (SKIP LOCKED); a sender that dies mid-flight leaves leases that expire and are retried."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.allowed: list[Network] = parse_networks(settings.webhook_allowed_networks, settings.webhook_allow_private)
        # never the service client: it carries the service token, which must not leave the cluster
        self.client = delivery_client(settings.webhook_timeout_seconds)
        self.batch_size = 50

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _send(self, delivery: dict[str, Any]) -> dict[str, Any]:
        body = delivery["body"].encode()
        timestamp = int(time.time())
        started = time.perf_counter()
        status_code: int | None = None
        error: str | None = None
        try:
            # resolved and checked once; the connection goes to the address that was checked
            response = await post_checked(
                self.client,
                delivery["url"],
                self.allowed,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "pledge-webhooks/1",
                    EVENT_HEADER: delivery["event_type"],
                    **signed_headers(delivery["secret"], str(delivery["id"]), timestamp, body),
                },
            )
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except TargetRefused as refused:
            error = str(refused)
        except httpx.HTTPError as err:
            error = f"{type(err).__name__}: {err}"[:500]
        now = datetime.now(UTC)
        s = self.settings
        retry_at = now + timedelta(
            seconds=retry_delay(delivery["attempts"], s.webhook_backoff_seconds, s.webhook_backoff_max_seconds)
        )
        return {
            "id": str(delivery["id"]),
            "subscription_id": str(delivery["subscription_id"]),
            "attempt": delivery["attempts"],
            "ok": error is None,
            "at": now.isoformat(),
            "retry_at": retry_at.isoformat(),
            "status_code": status_code,
            "error": error,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        }

    async def tick(self) -> int:
        s = self.settings
        async with self.sessionmaker() as session, session.begin():
            claimed = await WebhookRepository(session).claim(self.batch_size, s.webhook_timeout_seconds * 3 + 5)
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._send(d) for d in claimed))
        async with self.sessionmaker() as session, session.begin():
            await WebhookRepository(session).record(outcomes, s.webhook_max_attempts, s.webhook_disable_after_failures)
        return len(claimed)

    async def round(self) -> bool:
        """One delivery round (a worker step: after a failed one the leases expire and the deliveries are
        retried); True while deliveries are still waiting."""
        return await self.tick() >= self.batch_size
