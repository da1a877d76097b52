from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status
from pledge_common.db import SessionDep
from pledge_common.etags import etag_of, not_modified, set_etag
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.openapi import sends
from pledge_common.pagination import Page, PageParams, decode_cursor, encode_cursor, int32, paged
from pledge_common.problems import invalid
from pledge_common.scopes import Scope, scoped

from commitment_svc.commitments import service
from commitment_svc.commitments.kinds import Kind
from commitment_svc.commitments.models import CommitmentVersion
from commitment_svc.commitments.repository import CommitmentRepository
from commitment_svc.commitments.schemas import (
    CommitmentCreate,
    CommitmentPublic,
    CommitmentStatus,
    CommitmentTransition,
    CommitmentUpdate,
    CommitmentVersionCreate,
)
from commitment_svc.core.models import now_utc
from commitment_svc.core.params import IfMatch
from commitment_svc.core.schemas import KEY_PATTERN

router = APIRouter(
    prefix="/v1/commitments", tags=["commitments"], dependencies=scoped(Scope.definitions_read, Scope.definitions_write)
)
KeyQuery = Annotated[str | None, Query(pattern=KEY_PATTERN)]


@router.get("")
async def list_commitments(
    session: SessionDep,
    request: Request,
    response: Response,
    page: PageParams,
    key: KeyQuery = None,
    process: KeyQuery = None,
    node: KeyQuery = None,
    segment: KeyQuery = None,
    status: CommitmentStatus | None = None,
    kind: Kind | None = None,
    service_key: Annotated[str | None, Query(alias="service", pattern=KEY_PATTERN)] = None,
) -> Page[CommitmentPublic]:
    """Commitment versions, by commitment key then version; filter by key, kind, process, node, service,
    segment, status."""
    cursor = decode_cursor(page.cursor, str, int32)
    rows = await CommitmentRepository(session).page(
        (cursor[0], cursor[1]) if cursor else None,
        page.limit + 1,
        key=key,
        process_key=process,
        node_key=node,
        segment_key=segment,
        status=status,
        kind=kind,
        service_key=service_key,
    )
    items = [service.public(r) for r in rows[: page.limit]]
    last = items[-1] if items else None
    return paged(
        request,
        response,
        Page(
            items=items,
            next_cursor=encode_cursor(last.commitment_key, last.version) if last and len(rows) > page.limit else None,
        ),
    )


@router.get("/resolve")
async def resolve_commitment(
    session: SessionDep,
    process: Annotated[str, Query(pattern=KEY_PATTERN)],
    node: KeyQuery = None,
    segment: Annotated[str, Query(pattern=KEY_PATTERN)] = "default",
    at: Annotated[datetime | None, Query(description="instant with offset (default now)")] = None,
) -> CommitmentPublic:
    """The version governing (process, node, segment) at an instant, falling back to segment `default`."""
    if at is not None and (at.tzinfo is None or at.utcoffset() is None):
        raise invalid("query.at", "must carry a UTC offset (e.g. 2026-03-03T10:00:00+08:00)")
    instant = now_utc() if at is None else at
    return service.public(await service.resolve(session, process, node, segment, instant))


def _created(row: CommitmentVersion) -> Answer:
    headers = {"ETag": etag_of(row.row_version), "Location": f"/v1/commitments/{row.id}"}
    return Answer(status.HTTP_201_CREATED, service.public(row), headers)


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=CommitmentPublic, openapi_extra=sends("ETag", "Location")
)
async def create_commitment(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    body: CommitmentCreate,
    idem: IdempotencyDep,
) -> Response:
    """A new commitment (version 1, draft): of a node, or the whole process when `node` is null (kind `duration`),
    or of a service (kinds `availability`, `count`, `frequency`, `clause`; docs/kinds.md)."""

    async def create() -> Answer:
        return _created(await service.create_commitment(session, body, caller))

    return await idem.answer(create, body)


@router.get("/{id}", response_model=CommitmentPublic)
async def get_commitment(
    id: UUID, session: SessionDep, request: Request, response: Response
) -> CommitmentPublic | Response:
    """One commitment version."""
    row = await service.get_version(session, id)
    if (unchanged := not_modified(request, row.row_version)) is not None:
        return unchanged
    set_etag(response, row.row_version)
    return service.public(row)


@router.patch("/{id}")
async def update_commitment(
    id: UUID, session: SessionDep, response: Response, body: CommitmentUpdate, if_match: IfMatch = None
) -> CommitmentPublic:
    """Change a draft or negotiating version (needs If-Match); active versions are never edited in place."""
    row = await service.update_draft(session, id, body, if_match)
    set_etag(response, row.row_version)
    return service.public(row)


@router.delete("/{id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_commitment(id: UUID, session: SessionDep, if_match: IfMatch = None) -> None:
    """Delete a draft or negotiating version (versions that governed are history and stay)."""
    await service.delete_draft(session, id, if_match)


@router.get("/{id}/versions")
async def list_commitment_versions(
    id: UUID, session: SessionDep, request: Request, response: Response, page: PageParams
) -> Page[CommitmentPublic]:
    """Every version of the commitment this version belongs to, oldest first."""
    row = await service.get_version(session, id)
    cursor = decode_cursor(page.cursor, int32)
    rows = await CommitmentRepository(session).page(
        (row.commitment_key, cursor[0]) if cursor else None, page.limit + 1, key=row.commitment_key
    )
    items = [service.public(r) for r in rows[: page.limit]]
    last = items[-1] if items else None
    next_cursor = encode_cursor(last.version) if last and len(rows) > page.limit else None
    return paged(request, response, Page(items=items, next_cursor=next_cursor))


@router.post(
    "/{id}/versions",
    status_code=status.HTTP_201_CREATED,
    response_model=CommitmentPublic,
    openapi_extra=sends("ETag", "Location"),
)
async def create_commitment_version(
    id: UUID,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    body: CommitmentVersionCreate,
    idem: IdempotencyDep,
) -> Response:
    """A new draft version with the terms of this one and the given changes; activate it to take effect."""

    async def create() -> Answer:
        return _created(await service.create_version(session, id, body, caller))

    return await idem.answer(create, body)


@router.post("/{id}/transitions", response_model=CommitmentPublic)
async def transition_commitment(
    id: UUID,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    body: CommitmentTransition,
    idem: IdempotencyDep,
    if_match: IfMatch = None,
) -> Response:
    """Move a version: draft → negotiating → active → retired (negotiating → draft to revise).

    Activating a new version closes the range of the version it replaces at its `effective_from`, in the
    same transaction; both changes go on the feed. A version may start in the past when no judged run would
    change its governing version; otherwise 409 listing them, unless `rejudge` is true (an audited act).
    """

    async def transition() -> Answer:
        changed = await service.transition(session, id, body, caller, if_match, request.app.state.evaluation)
        row = changed[-1]
        return Answer(status.HTTP_200_OK, service.public(row), {"ETag": etag_of(row.row_version)})

    return await idem.answer(transition, body)
