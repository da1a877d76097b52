"""Keep the catalogue copy current from commitment-svc's feed (`process.*`, `segment.upserted`,
`service.upserted`)."""

import logging
from collections.abc import Sequence

import msgspec
from fastapi import FastAPI
from pledge_common.consumer import FeedConsumer
from pledge_common.internal import make_http_client
from pledge_common.outbox import FeedEvent
from sqlalchemy.ext.asyncio import AsyncSession

from tracking_svc.catalogue import repository as repo
from tracking_svc.catalogue.upstream import DECODERS, ProcessIn, SegmentIn, ServiceIn
from tracking_svc.config import Settings

CONSUMER_NAME = "commitment"
log = logging.getLogger("tracking.catalogue")


async def apply_commitment_events(session: AsyncSession, events: Sequence[FeedEvent]) -> None:
    """Apply a batch of commitment-svc feed events (full-state payloads: the last one per key wins); a payload
    that does not decode is logged and skipped."""
    processes: dict[str, ProcessIn | None] = {}
    segments: dict[str, SegmentIn] = {}
    services: dict[str, ServiceIn] = {}
    for event in events:
        if event.type == "process.deleted":
            processes[event.key] = None
            continue
        decoder = DECODERS.get(event.type)
        if decoder is None:
            continue
        try:
            decoded = msgspec.convert(event.payload, decoder, strict=False)
        except msgspec.ValidationError as err:
            log.warning("skipping malformed %s %s: %s", event.type, event.key, err)
            continue
        if isinstance(decoded, ProcessIn):
            processes[event.key] = decoded
        elif isinstance(decoded, SegmentIn):
            segments[event.key] = decoded
        elif isinstance(decoded, ServiceIn):
            services[decoded.key] = decoded
    await repo.delete_processes(session, [k for k, p in processes.items() if p is None])
    await repo.replace_processes(session, [p for p in processes.values() if p is not None])
    await repo.upsert_segments(session, list(segments.values()))
    await repo.upsert_services(session, list(services.values()))


def commitment_consumer(app: FastAPI) -> FeedConsumer:
    settings: Settings = app.state.settings
    return FeedConsumer(
        name=CONSUMER_NAME,
        client=make_http_client(settings.commitment_url, token=settings.service_token),
        feed_path="/internal/v1/events",
        engine=app.state.engine,
        sessionmaker=app.state.sessionmaker,
        handler=apply_commitment_events,
    )


def register_commitment_consumer(app: FastAPI) -> None:
    """Run the consumer as one of the app's workers (unless disabled by settings)."""
    settings: Settings = app.state.settings
    if not settings.consume_feeds:
        return
    consumer = commitment_consumer(app)
    app.state.commitment_consumer = consumer
    consumer.register(app.state.workers)
