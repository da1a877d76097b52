from collections.abc import Sequence

from pledge_common.etags import check_if_match
from pledge_common.outbox import emit
from pledge_common.problems import Conflict, NotFound, invalid
from sqlalchemy.ext.asyncio import AsyncSession

from commitment_svc import feed
from commitment_svc.core.models import now_utc
from commitment_svc.departments.models import Department, Position
from commitment_svc.departments.repository import DepartmentRepository
from commitment_svc.departments.schemas import DepartmentPublic, DepartmentUpsert, PositionPublic


async def public(session: AsyncSession, departments: Sequence[Department]) -> list[DepartmentPublic]:
    positions = await DepartmentRepository(session).positions_of([d.key for d in departments])
    return [
        DepartmentPublic(
            key=d.key,
            name=d.name,
            parent_key=d.parent_key,
            positions=[PositionPublic(key=p.key, name=p.name) for p in positions[d.key]],
            created_at=d.created_at,
            updated_at=d.updated_at,
        )
        for d in departments
    ]


async def get_department(session: AsyncSession, key: str) -> Department:
    department = await DepartmentRepository(session).get(key)
    if department is None:
        raise NotFound(f"no department `{key}`")
    return department


async def upsert_department(
    session: AsyncSession, key: str, body: DepartmentUpsert, if_match: str | None
) -> tuple[Department, bool]:
    repo = DepartmentRepository(session)
    department = await repo.get(key, for_update=True)
    if body.parent_key is not None:
        if body.parent_key == key:
            raise invalid("parent_key", "a department cannot be its own parent")
        if await repo.get(body.parent_key) is None:
            raise invalid("parent_key", f"unknown department `{body.parent_key}`")
        if key in await repo.ancestors(body.parent_key):
            raise invalid("parent_key", f"`{body.parent_key}` is below `{key}`; that would make a cycle")
    now = now_utc()
    wanted = [(p.key, p.name) for p in body.positions]
    if department is None:
        department = Department(key=key, name=body.name, parent_key=body.parent_key, created_at=now, updated_at=now)
        await repo.add(department)
        created = True
    else:
        check_if_match(if_match, department.row_version, required=False)
        current = [(p.key, p.name) for p in (await repo.positions_of([key]))[key]]
        if department.name == body.name and department.parent_key == body.parent_key and current == wanted:
            return department, False
        removed = sorted({k for k, _ in current} - {k for k, _ in wanted})
        refs = await repo.position_references(key, removed)
        if refs:
            raise Conflict(
                f"positions {', '.join(removed)} are still referenced by {', '.join(refs)}",
                errors=[{"field": "positions", "message": f"still referenced by {', '.join(refs)}"}],
                referenced_by=refs,
            )
        department.name = body.name
        department.parent_key = body.parent_key
        department.row_version += 1
        department.updated_at = now
        await repo.add(department)
        created = False
    await repo.replace_positions(
        key, [Position(department_key=key, key=k, name=n, ordinal=i) for i, (k, n) in enumerate(wanted)]
    )
    (out,) = await public(session, [department])
    await emit(session, "department.upserted", key, out.feed_payload())
    return department, created


async def delete_department(session: AsyncSession, key: str, if_match: str | None) -> None:
    repo = DepartmentRepository(session)
    department = await repo.get(key, for_update=True)
    if department is None:
        raise NotFound(f"no department `{key}`")
    check_if_match(if_match, department.row_version, required=False)
    refs = await repo.references(key)
    if refs:
        raise Conflict(f"department `{key}` is still referenced by {', '.join(refs)}", referenced_by=refs)
    await repo.delete(department)
    await emit(session, "department.deleted", key, feed.payload("department.deleted", {"key": key}))


async def require_department(
    session: AsyncSession, field: str, key: str | None, position_field: str = "", position_key: str | None = None
) -> None:
    """422 naming `field` when the department (or its position) is unknown."""
    if key is None:
        if position_key is not None:
            raise invalid(position_field, "a position needs its department")
        return
    repo = DepartmentRepository(session)
    if await repo.get(key) is None:
        raise invalid(field, f"unknown department `{key}`")
    if position_key is not None and not await repo.position_exists(key, position_key):
        raise invalid(position_field, f"department `{key}` has no position `{position_key}`")
