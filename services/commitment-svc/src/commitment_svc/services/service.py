from typing import Any

from pledge_common.etags import check_if_match
from pledge_common.outbox import emit
from pledge_common.problems import Conflict, NotFound, field_error, invalid
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from commitment_svc.core.errors import problem_for
from commitment_svc.core.merge_patch import merge_patch
from commitment_svc.core.models import now_utc
from commitment_svc.departments.service import require_department
from commitment_svc.segments.repository import SegmentRepository
from commitment_svc.services.models import ServiceRow
from commitment_svc.services.repository import ServiceRepository
from commitment_svc.services.schemas import ServiceCreate, ServiceFields, ServicePublic

CONSTRAINTS = {
    "services_pkey": (409, "key", "a service with this key was created concurrently"),
    "services_segment_key_fkey": (422, "segment", "the segment was deleted concurrently"),
    "services_owner_department_fkey": (422, "owner_department", "the department was deleted concurrently"),
}
FIELDS = ("name", "description", "customer_ref", "segment_key", "owner_department", "status")


def public(row: ServiceRow) -> ServicePublic:
    return ServicePublic.model_validate(row)


async def get_service(session: AsyncSession, key: str) -> ServiceRow:
    row = await ServiceRepository(session).get(key)
    if row is None:
        raise NotFound(f"no service `{key}`")
    return row


async def require_service(session: AsyncSession, field: str, key: str) -> ServiceRow:
    """The service `key`, or a 422 naming `field`."""
    row = await ServiceRepository(session).get(key)
    if row is None:
        raise invalid(field, f"unknown service `{key}` (define it with POST /v1/services)")
    return row


async def _check_references(session: AsyncSession, body: ServiceFields) -> None:
    if await SegmentRepository(session).get(body.segment_key) is None:
        raise invalid("segment", f"unknown segment `{body.segment_key}`")
    await require_department(session, "owner_department", body.owner_department)


async def _save(session: AsyncSession, row: ServiceRow) -> None:
    try:
        await ServiceRepository(session).add(row)
    except IntegrityError as err:
        raise problem_for(err, CONSTRAINTS) from None
    await emit(session, "service.upserted", row.key, public(row).feed_payload())


async def create_service(session: AsyncSession, body: ServiceCreate) -> ServiceRow:
    repo = ServiceRepository(session)
    if await repo.get(body.key, for_update=True) is not None:
        raise Conflict(
            f"service `{body.key}` exists; change it with PATCH /v1/services/{body.key}",
            errors=[field_error("key", "already exists")],
        )
    await _check_references(session, body)
    now = now_utc()
    row = ServiceRow(key=body.key, **{f: getattr(body, f) for f in FIELDS}, created_at=now, updated_at=now)
    await _save(session, row)
    return row


async def patch_service(session: AsyncSession, key: str, patch: dict[str, Any], if_match: str | None) -> ServiceRow:
    """Change some fields (If-Match required): the merged service is checked as a create body would be."""
    repo = ServiceRepository(session)
    row = await repo.get(key, for_update=True)
    if row is None:
        raise NotFound(f"no service `{key}`")
    check_if_match(if_match, row.row_version, required=True)
    document = {"segment" if f == "segment_key" else f: getattr(row, f) for f in FIELDS}
    current = ServiceFields.model_validate(document)
    body = merge_patch(ServiceFields, document, patch)
    if body == current:
        return row
    await _check_references(session, body)
    for field in FIELDS:
        setattr(row, field, getattr(body, field))
    row.row_version += 1
    row.updated_at = now_utc()
    await _save(session, row)
    return row
