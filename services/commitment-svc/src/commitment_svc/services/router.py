from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pledge_common.db import SessionDep
from pledge_common.etags import etag_of, not_modified, set_etag
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.openapi import sends
from pledge_common.pagination import Page, PageParams, decode_cursor, encode_cursor, paged
from pledge_common.scopes import Scope, scoped

from commitment_svc.core.params import IfMatch, KeyPath, MergePatch
from commitment_svc.core.schemas import KEY_PATTERN
from commitment_svc.services import service
from commitment_svc.services.repository import ServiceRepository
from commitment_svc.services.schemas import CustomerRef, ServiceCreate, ServicePublic, ServiceStatus

router = APIRouter(
    prefix="/v1/services", tags=["services"], dependencies=scoped(Scope.definitions_read, Scope.definitions_write)
)


@router.get("")
async def list_services(
    session: SessionDep,
    request: Request,
    response: Response,
    page: PageParams,
    customer_ref: Annotated[CustomerRef | None, Query(description="only this customer's services")] = None,
    segment: Annotated[str | None, Query(pattern=KEY_PATTERN)] = None,
    status: ServiceStatus | None = None,
) -> Page[ServicePublic]:
    """Services (configuration items), by key; filter by customer_ref, segment, status."""
    cursor = decode_cursor(page.cursor, str)
    rows = await ServiceRepository(session).page(
        cursor[0] if cursor else None, page.limit + 1, customer_ref=customer_ref, segment_key=segment, status=status
    )
    items = [service.public(r) for r in rows[: page.limit]]
    return paged(
        request,
        response,
        Page(items=items, next_cursor=encode_cursor(items[-1].key) if len(rows) > page.limit else None),
    )


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=ServicePublic, openapi_extra=sends("ETag", "Location")
)
async def create_service(
    request: Request, session: SessionDep, caller: CallerDep, body: ServiceCreate, idem: IdempotencyDep
) -> Response:
    """A new service (configuration item) that availability, count, frequency and clause commitments name."""

    async def create() -> Answer:
        row = await service.create_service(session, body)
        headers = {"ETag": etag_of(row.row_version), "Location": f"/v1/services/{row.key}"}
        return Answer(status.HTTP_201_CREATED, service.public(row), headers)

    return await idem.answer(create, body)


@router.get("/{key}", response_model=ServicePublic)
async def get_service(
    key: KeyPath, session: SessionDep, request: Request, response: Response
) -> ServicePublic | Response:
    """One service."""
    row = await service.get_service(session, key)
    if (unchanged := not_modified(request, row.row_version)) is not None:
        return unchanged
    set_etag(response, row.row_version)
    return service.public(row)


@router.patch("/{key}")
async def patch_service(
    key: KeyPath, session: SessionDep, response: Response, patch: MergePatch, if_match: IfMatch = None
) -> ServicePublic:
    """Change some fields (JSON merge patch; needs If-Match): a field sent replaces it whole, null resets it."""
    row = await service.patch_service(session, key, patch, if_match)
    set_etag(response, row.row_version)
    return service.public(row)
