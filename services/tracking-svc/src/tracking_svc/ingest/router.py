"""`POST /v1/events` (one event) and `POST /v1/events/bulk` (JSON array or NDJSON stream)."""

from typing import Any

import msgspec
from fastapi import APIRouter, Query, Request, Response
from pledge_common.db import SessionDep
from pledge_common.idempotency import Answer, IdempotencyDep, canonical_json
from pledge_common.identity import CallerDep
from pledge_common.jsonlimits import split_array
from pledge_common.problems import (
    Conflict,
    Forbidden,
    PayloadTooLarge,
    Problem,
    Unprocessable,
    field_error,
    invalid,
)
from pledge_common.scopes import Scope, scoped
from pledge_common.textguard import NUL_ESCAPE

from tracking_svc.config import Settings
from tracking_svc.ingest import bulk
from tracking_svc.ingest.coalesce import SingleEvents
from tracking_svc.ingest.schemas import (
    EVENT_ARRAY_DECODER,
    EVENT_DECODER,
    RAW_ARRAY_DECODER,
    BulkResult,
    EventAccepted,
    EventIn,
    decode_error,
)
from tracking_svc.ingest.service import ConcurrentTwin

router = APIRouter(prefix="/v1/events", tags=["events"], dependencies=scoped(Scope.tickets_read, Scope.events_write))

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    403: {"description": "the caller may not write this source"},
    409: {"description": "the same event id was already received with a different payload"},
    422: {"description": "invalid event: unknown process/node/segment, contradicts the history, or in the future"},
}
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines")


_EVENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EventIn"}}},
    }
}


@router.post(
    "",
    status_code=201,
    response_model=EventAccepted,
    responses={
        200: {"model": EventAccepted, "description": "the same event again: `status` is `duplicate`"},
        **_PROBLEMS,
    },
    openapi_extra=_EVENT_BODY,
)
async def ingest_event(request: Request, caller: CallerDep, idem: IdempotencyDep) -> Response:
    """Record one event: 201 `accepted`. The same event sent again answers 200 `duplicate` (as bulk does).

    Single events that arrive together are written together (see `coalesce`); each is answered once
    committed. The event id already makes a resend harmless; an `Idempotency-Key` is honoured on top of it
    (the first answer replayed; another event under the same key a 422), its answer stored once the event is."""
    try:  # a NUL in its text was refused before (pledge_common.textguard)
        event = EVENT_DECODER.decode(await request.body())
    except msgspec.DecodeError as err:
        raise invalid(*decode_error(err)) from None
    digest = idem.fingerprint(canonical_json(msgspec.to_builtins(event)))
    if idem.key is not None and (stored := await idem.claim()) is not None:
        return idem.replay(stored, digest)
    return await idem.record(digest, await _ingest_one(request, caller, event))


async def _ingest_one(request: Request, caller: CallerDep, event: EventIn) -> Answer:
    single_events: SingleEvents = request.app.state.single_events
    try:
        outcome = await single_events.ingest(event, caller)
    except ConcurrentTwin:
        raise Conflict("a concurrent request stored the same event; send it again") from None
    if outcome.status == "rejected":
        kind: type[Problem] = {403: Forbidden, 409: Conflict}.get(outcome.error_status, Unprocessable)
        raise kind(f"{outcome.field}: {outcome.detail}", errors=[field_error(outcome.field, outcome.detail)])
    assert outcome.ticket_id is not None
    assert outcome.received_at is not None
    duplicate = outcome.status == "duplicate"
    accepted = EventAccepted(
        event_id=event.event_id,
        source=event.source,
        status="duplicate" if duplicate else "accepted",
        ticket_id=outcome.ticket_id,
        received_at=outcome.received_at,
    )
    return Answer(200 if duplicate else 201, accepted, {})


_BULK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/EventIn"}}},
            "application/x-ndjson": {"schema": {"type": "string", "description": "one EventIn JSON object per line"}},
        },
    }
}


@router.post(
    "/bulk",
    response_model=BulkResult,
    responses={
        408: {"description": "the body did not arrive in time (see the limits in docs/tracking.md)"},
        413: {"description": "JSON array (or atomic NDJSON stream) longer than the configured maximum"},
        **_PROBLEMS,
    },
    openapi_extra=_BULK_BODY,
)
async def ingest_bulk(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    idem: IdempotencyDep,
    atomic: bool = Query(default=False, description="refuse the whole request if any item is refused"),
) -> Response:
    """Record many events: a JSON array (up to the configured maximum) or an NDJSON stream of any length.

    Each item is accepted, a duplicate, or rejected with its reason; one bad item does not stop the others
    unless `atomic=true`. NDJSON answers list only the duplicates and rejections (and the counts). A JSON
    array and an `atomic=true` stream are bounded in bytes and in time to arrive, and read whole first."""
    settings: Settings = request.app.state.settings
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    is_ndjson = content_type in NDJSON_TYPES
    if not is_ndjson and content_type != "application/json":
        raise Problem(
            f"send application/json (an array) or application/x-ndjson, not {content_type}",
            status=415,
            title="Unsupported Media Type",
        )
    hasher = bulk.request_hash("ndjson" if is_ndjson else "json", atomic)
    declared = bulk.declared_length(request.headers)
    staged: bytes | None = None
    if not is_ndjson or atomic:  # read whole before the database is touched: no client paces a transaction
        staged = await bulk.staged_body(
            request.stream(), settings, declared, "an atomic NDJSON stream" if is_ndjson else "a JSON array"
        )
        hasher.update(staged)
    stored = await idem.claim() if idem.key is not None else None  # a 409 while another holds the key

    if staged is not None and stored is not None:
        return idem.replay(stored, hasher.digest())
    if staged is not None and not is_ndjson:
        items = _json_array(staged, settings)
        result = await bulk.ingest_array(session, items, caller, settings, atomic)
    elif staged is not None:
        staged_items = bulk.ndjson_items(staged, settings.ndjson_max_line_bytes)
        staged = None  # the lines are copies: the body need not stay in memory while they are written
        failure = bulk.staged_failure(staged_items, caller, settings)
        if failure is not None:
            raise failure
        result = await bulk.ingest_stream(session, bulk.staged_lines(staged_items), caller, settings, atomic)
    elif stored is not None:
        async for piece in bulk.paced(request.stream(), settings.body_idle_seconds):
            hasher.update(piece)
        return idem.replay(stored, hasher.digest())
    else:
        pieces = bulk.paced(request.stream(), settings.body_idle_seconds)
        lines = bulk.ndjson_lines(pieces, hasher, settings.ndjson_max_line_bytes)
        result = await bulk.ingest_stream(session, lines, caller, settings, atomic)

    return await idem.record(hasher.digest(), Answer(200, result.decode()))


def _json_array(body: bytes, settings: Settings) -> list[Any]:
    """The array's items, counted (and refused beyond `bulk_max_items`) before any event is decoded: then
    decoded events in one pass when every item is valid (the common case), else each item's JSON text,
    decoded one by one so that each is answered on its own (also when some text holds a NUL, or nests too
    deep, which each item's check then finds)."""
    try:
        items: list[Any] = _bounded(RAW_ARRAY_DECODER.decode(body), settings)  # each item only delimited
    except msgspec.ValidationError:
        raise invalid("body", "expected a JSON array of events (or send application/x-ndjson)") from None
    except msgspec.DecodeError as err:
        raise invalid("body", f"not valid JSON: {err}") from None
    except RecursionError:  # an item nested deeper than the decoder goes: cut out without decoding
        texts = split_array(body)
        if texts is None:
            raise invalid("body", "expected a JSON array of events (or send application/x-ndjson)") from None
        return _bounded(texts, settings)
    if NUL_ESCAPE not in body:
        try:
            events: list[Any] = EVENT_ARRAY_DECODER.decode(body)
        except (msgspec.DecodeError, RecursionError):  # some item is not a valid event: each is answered alone
            pass
        else:
            return events
    return items


def _bounded(items: list[Any], settings: Settings) -> list[Any]:
    if len(items) > settings.bulk_max_items:
        raise PayloadTooLarge(
            f"{len(items)} items; a JSON array may hold at most {settings.bulk_max_items} "
            "(stream larger batches as application/x-ndjson)",
            errors=[field_error("body", f"at most {settings.bulk_max_items} items")],
        )
    return items
