"""`POST /v1/service-facts` (one fact), `POST /v1/service-facts/bulk` (a JSON array) and `GET /v1/outages`."""

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from fastapi import APIRouter, Query, Request, Response
from pledge_common.db import SessionDep
from pledge_common.idempotency import Answer, IdempotencyDep, canonical_json
from pledge_common.identity import CallerDep
from pledge_common.pagination import PageParams, decode_cursor, encode_cursor, paged
from pledge_common.problems import Conflict, Forbidden, PayloadTooLarge, Problem, Unprocessable, field_error, invalid
from pledge_common.scopes import Scope, scoped
from pydantic import AwareDatetime

from tracking_svc.config import Settings
from tracking_svc.facts import repository as repo
from tracking_svc.facts.schemas import (
    FACT_DECODER,
    FACT_UNION_SCHEMA,
    FactAccepted,
    FactBulkResult,
    FactError,
    FactItemResult,
    OutagePage,
    OutagePublic,
)
from tracking_svc.facts.service import ingest_facts
from tracking_svc.ingest import bulk
from tracking_svc.ingest.schemas import RAW_ARRAY_DECODER, decode_error

router = APIRouter(tags=["service facts"], dependencies=scoped(Scope.tickets_read, Scope.events_write))

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    403: {"description": "the caller may not write this source"},
    409: {"description": "the same external id with another content, or a fact contradicting its outage"},
    422: {"description": "invalid fact: unknown service, an end before its start, in the future"},
}


@router.post(
    "/v1/service-facts",
    status_code=201,
    response_model=FactAccepted,
    responses={
        200: {"model": FactAccepted, "description": "the same fact again: `status` is `duplicate`"},
        **_PROBLEMS,
    },
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": FACT_UNION_SCHEMA}}}},
)
async def ingest_service_fact(
    request: Request, session: SessionDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    """Record one fact about a service (an outage's start or end, a sample, an occurrence, a deliverable):
    201 `accepted`; 200 `duplicate` when it is already known or changes nothing."""
    try:
        fact = FACT_DECODER.decode(await request.body())
    except msgspec.DecodeError as err:
        raise invalid(*decode_error(err)) from None

    async def make() -> Answer:
        settings: Settings = request.app.state.settings
        (outcome,) = await ingest_facts(session, [fact], caller=caller, settings=settings)
        if outcome.status == "rejected":
            kind: type[Problem] = {403: Forbidden, 409: Conflict}.get(outcome.error_status, Unprocessable)
            raise kind(f"{outcome.field}: {outcome.detail}", errors=[field_error(outcome.field, outcome.detail)])
        assert outcome.type is not None
        assert outcome.service is not None
        duplicate = outcome.status == "duplicate"
        body = FactAccepted(
            source=fact.source,
            external_id=fact.external_id,
            type=outcome.type,
            service=outcome.service,
            status="duplicate" if duplicate else "accepted",
        )
        return Answer(200 if duplicate else 201, body)

    if idem.key is None:
        return await idem.record(b"", await make())
    digest = idem.fingerprint(canonical_json(msgspec.to_builtins(fact)))
    stored = await idem.claim()
    if stored is not None:
        return idem.replay(stored, digest)
    return await idem.record(digest, await make())


@router.post(
    "/v1/service-facts/bulk",
    response_model=FactBulkResult,
    responses={
        408: {"description": "the body did not arrive in time"},
        413: {"description": "more items (or bytes) than the configured maximum"},
        **_PROBLEMS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "array", "items": FACT_UNION_SCHEMA}}},
        }
    },
)
async def ingest_service_facts_bulk(
    request: Request, session: SessionDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    """Record many facts (a JSON array, up to the configured maximum): each item is accepted, a duplicate, or
    rejected with its reason; one bad item never stops the others."""
    settings: Settings = request.app.state.settings
    staged = await bulk.staged_body(request.stream(), settings, bulk.declared_length(request.headers), "a JSON array")
    digest = idem.fingerprint(staged)
    if idem.key is not None and (stored := await idem.claim()) is not None:
        return idem.replay(stored, digest)
    try:
        raws: list[msgspec.Raw] = RAW_ARRAY_DECODER.decode(staged)
    except msgspec.ValidationError:
        raise invalid("body", "expected a JSON array of facts") from None
    except msgspec.DecodeError as err:
        raise invalid("body", f"not valid JSON: {err}") from None
    except RecursionError:
        raise invalid("body", "nested too deep for a JSON array of facts") from None
    if len(raws) > settings.bulk_max_items:
        raise PayloadTooLarge(
            f"{len(raws)} items; a JSON array may hold at most {settings.bulk_max_items}",
            errors=[field_error("body", f"at most {settings.bulk_max_items} items")],
        )
    outcomes = await ingest_facts(session, [bytes(r) for r in raws], caller=caller, settings=settings)
    items = [
        FactItemResult(
            index=i,
            source=o.source,
            external_id=o.external_id,
            status=o.status,  # type: ignore[arg-type]
            error=FactError(status=o.error_status, field=o.field, detail=o.detail) if o.status == "rejected" else None,
        )
        for i, o in enumerate(outcomes)
    ]
    result = FactBulkResult(
        accepted=sum(o.status == "accepted" for o in outcomes),
        duplicates=sum(o.status == "duplicate" for o in outcomes),
        rejected=sum(o.status == "rejected" for o in outcomes),
        items=items,
    )
    return await idem.record(digest, Answer(200, result))


def _outage(row: Any) -> OutagePublic:
    return OutagePublic(
        id=row.id,
        service=row.service_key,
        outage_ref=row.outage_ref,
        started_at=row.started_at,
        ended_at=row.ended_at,
        planned=row.planned,
        weight=row.weight,
        summary=row.summary,
    )


@router.get("/v1/outages", response_model=OutagePage)
async def list_outages(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    page: PageParams,
    start: AwareDatetime = Query(alias="from", description="outages not ended before this instant"),
    end: AwareDatetime = Query(alias="to", description="outages begun before this instant (exclusive)"),
    service: str | None = Query(default=None, max_length=100, description="a service key"),
) -> OutagePage:
    """Outages overlapping `[from, to)`, in the order they began (an outage whose start has not arrived yet
    is placed at its end). A key bound to sources sees the outages its sources reported."""
    if end <= start:
        raise invalid("query.to", "must be after from")
    after = decode_cursor(page.cursor, datetime.fromisoformat, UUID)
    rows = await repo.list_outages(
        session,
        repo.OutageFilter(service, start, end),
        caller.sources,
        (after[0], after[1]) if after else None,
        page.limit + 1,
    )
    chosen = rows[: page.limit]
    next_cursor = encode_cursor(chosen[-1].first_at, chosen[-1].id) if len(rows) > page.limit else None
    return paged(request, response, OutagePage(items=[_outage(r) for r in chosen], next_cursor=next_cursor))
