from fastapi import APIRouter, Request, Response, status
from pledge_common.db import SessionDep
from pledge_common.identity import CallerDep
from pledge_common.pagination import decode_cursor, encode_cursor
from pledge_common.scopes import Scope, scoped

from commitment_svc.core.etags import set_etag
from commitment_svc.core.idempotency import Answer, IdempotencyKey, answer_once
from commitment_svc.core.params import AFTER_FIELD, After, IfMatch, KeyPath, Limit
from commitment_svc.core.schemas import Page, created
from commitment_svc.departments import service
from commitment_svc.departments.repository import DepartmentRepository
from commitment_svc.departments.schemas import DepartmentPublic, DepartmentUpsert

router = APIRouter(
    prefix="/v1/departments", tags=["departments"], dependencies=scoped(Scope.definitions_read, Scope.definitions_write)
)


@router.get("")
async def list_departments(
    session: SessionDep, after: After = None, limit: Limit = 100, parent: str | None = None
) -> Page[DepartmentPublic]:
    """Departments (部门) with their positions (岗位), by key; `parent` lists one department's children."""
    cursor = decode_cursor(after, str, field=AFTER_FIELD)
    rows = await DepartmentRepository(session).page(cursor[0] if cursor else None, limit + 1, parent)
    items = await service.public(session, rows[:limit])
    return Page(items=items, next=encode_cursor(items[-1].key) if len(rows) > limit else None)


@router.get("/{key}")
async def get_department(key: KeyPath, session: SessionDep, response: Response) -> DepartmentPublic:
    """One department with its positions."""
    department = await service.get_department(session, key)
    set_etag(response, department.row_version)
    return (await service.public(session, [department]))[0]


@router.put("/{key}", response_model=DepartmentPublic, responses=created(DepartmentPublic))
async def put_department(
    key: KeyPath,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    body: DepartmentUpsert,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create or replace a department and its positions (201 when created)."""

    async def upsert() -> Answer:
        department, created = await service.upsert_department(session, key, body, if_match)
        return Answer.upserted((await service.public(session, [department]))[0], created, department.row_version)

    return await answer_once(request, session, caller, idempotency_key, body, upsert)


@router.delete("/{key}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_department(key: KeyPath, session: SessionDep, if_match: IfMatch = None) -> None:
    """Delete a department nothing refers to (409 names what still does)."""
    await service.delete_department(session, key, if_match)
