from fastapi import APIRouter, Request, Response, status
from pledge_common.db import SessionDep
from pledge_common.etags import not_modified, set_etag
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.pagination import Page, PageParams, decode_cursor, encode_cursor, paged
from pledge_common.scopes import Scope, scoped

from commitment_svc.core.params import IfMatch, KeyPath
from commitment_svc.core.schemas import created, upserted
from commitment_svc.departments import service
from commitment_svc.departments.repository import DepartmentRepository
from commitment_svc.departments.schemas import DepartmentPublic, DepartmentUpsert

router = APIRouter(
    prefix="/v1/departments", tags=["departments"], dependencies=scoped(Scope.definitions_read, Scope.definitions_write)
)


@router.get("")
async def list_departments(
    session: SessionDep, request: Request, response: Response, page: PageParams, parent: str | None = None
) -> Page[DepartmentPublic]:
    """Departments (部门) with their positions (岗位), by key; `parent` lists one department's children."""
    cursor = decode_cursor(page.cursor, str)
    rows = await DepartmentRepository(session).page(cursor[0] if cursor else None, page.limit + 1, parent)
    items = await service.public(session, rows[: page.limit])
    return paged(
        request,
        response,
        Page(items=items, next_cursor=encode_cursor(items[-1].key) if len(rows) > page.limit else None),
    )


@router.get("/{key}", response_model=DepartmentPublic)
async def get_department(
    key: KeyPath, session: SessionDep, request: Request, response: Response
) -> DepartmentPublic | Response:
    """One department with its positions."""
    department = await service.get_department(session, key)
    if (unchanged := not_modified(request, department.row_version)) is not None:
        return unchanged
    set_etag(response, department.row_version)
    return (await service.public(session, [department]))[0]


@router.put("/{key}", response_model=DepartmentPublic, responses=created(DepartmentPublic))
async def put_department(
    key: KeyPath,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    body: DepartmentUpsert,
    idem: IdempotencyDep,
    if_match: IfMatch = None,
) -> Response:
    """Create or replace a department and its positions (201 when created)."""

    async def upsert() -> Answer:
        department, created = await service.upsert_department(session, key, body, if_match)
        return upserted((await service.public(session, [department]))[0], created, department.row_version)

    return await idem.answer(upsert, body)


@router.delete("/{key}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_department(key: KeyPath, session: SessionDep, if_match: IfMatch = None) -> None:
    """Delete a department nothing refers to (409 names what still does)."""
    await service.delete_department(session, key, if_match)
