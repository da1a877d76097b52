from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status
from pledge_common.db import SessionDep
from pledge_common.etags import etag_of, not_modified, set_etag
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.openapi import sends
from pledge_common.pagination import Page, PageParams, decode_cursor, encode_cursor, int32, paged
from pledge_common.scopes import Scope, scoped

from commitment_svc.agreements import service
from commitment_svc.agreements.models import AgreementRow
from commitment_svc.agreements.repository import AgreementRepository
from commitment_svc.agreements.schemas import (
    AgreementCreate,
    AgreementPublic,
    AgreementStatus,
    AgreementTransition,
    AgreementUpdate,
    AgreementVersionCreate,
)
from commitment_svc.core.params import IfMatch
from commitment_svc.core.schemas import KEY_PATTERN

router = APIRouter(
    prefix="/v1/agreements", tags=["agreements"], dependencies=scoped(Scope.definitions_read, Scope.definitions_write)
)


@router.get("")
async def list_agreements(
    session: SessionDep,
    request: Request,
    response: Response,
    page: PageParams,
    key: Annotated[str | None, Query(pattern=KEY_PATTERN)] = None,
    kind: Literal["sla", "ola"] | None = None,
    status: AgreementStatus | None = None,
) -> Page[AgreementPublic]:
    """Agreements (SLA/OLA) by key then version; filter by key, kind, status."""
    cursor = decode_cursor(page.cursor, str, int32)
    rows = await AgreementRepository(session).page(
        (cursor[0], cursor[1]) if cursor else None, page.limit + 1, key=key, kind=kind, status=status
    )
    items = [service.public(r) for r in rows[: page.limit]]
    last = items[-1] if items else None
    return paged(
        request,
        response,
        Page(
            items=items, next_cursor=encode_cursor(last.key, last.version) if last and len(rows) > page.limit else None
        ),
    )


def _created(row: AgreementRow) -> Answer:
    headers = {"ETag": etag_of(row.row_version), "Location": f"/v1/agreements/{row.id}"}
    return Answer(status.HTTP_201_CREATED, service.public(row), headers)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=AgreementPublic, openapi_extra=sends("ETag", "Location")
)
async def create_agreement(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    body: AgreementCreate,
    idem: IdempotencyDep,
) -> Response:
    """A new agreement (version 1, draft)."""

    async def create() -> Answer:
        return _created(await service.create_agreement(session, body, caller))

    return await idem.answer(create, body)


@router.get("/{id}", response_model=AgreementPublic)
async def get_agreement(
    id: UUID, session: SessionDep, request: Request, response: Response
) -> AgreementPublic | Response:
    """One agreement version."""
    row = await service.get_agreement(session, id)
    if (unchanged := not_modified(request, row.row_version)) is not None:
        return unchanged
    set_etag(response, row.row_version)
    return service.public(row)


@router.patch("/{id}")
async def update_agreement(
    id: UUID, session: SessionDep, response: Response, body: AgreementUpdate, if_match: IfMatch = None
) -> AgreementPublic:
    """Change a draft or negotiating agreement (needs If-Match); signed ones are immutable."""
    row = await service.update_agreement(session, id, body, if_match)
    set_etag(response, row.row_version)
    return service.public(row)


@router.get("/{id}/versions")
async def list_agreement_versions(
    id: UUID, session: SessionDep, request: Request, response: Response, page: PageParams
) -> Page[AgreementPublic]:
    """Every version of this agreement, oldest first."""
    row = await service.get_agreement(session, id)
    cursor = decode_cursor(page.cursor, int32)
    rows = await AgreementRepository(session).page(
        (row.key, cursor[0]) if cursor else None, page.limit + 1, key=row.key
    )
    items = [service.public(r) for r in rows[: page.limit]]
    last = items[-1] if items else None
    next_cursor = encode_cursor(last.version) if last and len(rows) > page.limit else None
    return paged(request, response, Page(items=items, next_cursor=next_cursor))


@router.post(
    "/{id}/versions",
    status_code=status.HTTP_201_CREATED,
    response_model=AgreementPublic,
    openapi_extra=sends("ETag", "Location"),
)
async def create_agreement_version(
    id: UUID,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    body: AgreementVersionCreate,
    idem: IdempotencyDep,
) -> Response:
    """A new draft version with this version's terms and the given changes."""

    async def create() -> Answer:
        return _created(await service.create_version(session, id, body, caller))

    return await idem.answer(create, body)


@router.post("/{id}/transitions", response_model=AgreementPublic)
async def transition_agreement(
    id: UUID,
    session: SessionDep,
    caller: CallerDep,
    body: AgreementTransition,
    idem: IdempotencyDep,
    if_match: IfMatch = None,
) -> Response:
    """draft → negotiating → signed → terminated; records who and when. Signing supersedes the signed version."""

    async def transition() -> Answer:
        row = await service.transition(session, id, body, caller, if_match)
        return Answer(status.HTTP_200_OK, service.public(row), {"ETag": etag_of(row.row_version)})

    return await idem.answer(transition, body)
