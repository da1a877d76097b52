from collections.abc import Sequence
from typing import Any

from pledge_common.etags import check_if_match
from pledge_common.outbox import emit
from pledge_common.problems import Conflict, NotFound, PreconditionFailed, field_error, invalid
from sqlalchemy.ext.asyncio import AsyncSession

from commitment_svc import feed
from commitment_svc.core.merge_patch import merge_patch
from commitment_svc.core.models import now_utc
from commitment_svc.departments.service import require_department
from commitment_svc.processes.models import Process, ProcessNode
from commitment_svc.processes.repository import ProcessRepository
from commitment_svc.processes.schemas import NodeIn, NodePublic, NodeUpsert, ProcessPublic, ProcessUpsert


async def public(session: AsyncSession, rows: Sequence[Process]) -> list[ProcessPublic]:
    nodes = await ProcessRepository(session).nodes_of([r.key for r in rows])
    return [
        ProcessPublic(
            key=r.key,
            name=r.name,
            description=r.description,
            owner_department=r.owner_department,
            nodes=[NodePublic.model_validate(n) for n in nodes[r.key]],
            version=r.row_version,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )
        for r in rows
    ]


async def get_process(session: AsyncSession, key: str) -> ProcessPublic:
    row = await ProcessRepository(session).get(key)
    if row is None:
        raise NotFound(f"no process `{key}`")
    return (await public(session, [row]))[0]


async def _check_nodes(session: AsyncSession, nodes: Sequence[NodeIn], prefix: str = "nodes") -> None:
    for index, node in enumerate(nodes):
        await require_department(
            session,
            f"{prefix}[{index}].department",
            node.department,
            f"{prefix}[{index}].position_key",
            node.position_key,
        )


async def _save(session: AsyncSession, row: Process, nodes: Sequence[NodeIn], *, bump: bool) -> ProcessPublic:
    repo = ProcessRepository(session)
    current = [n.key for n in (await repo.nodes_of([row.key]))[row.key]]
    removed = sorted(set(current) - {n.key for n in nodes})
    refs = await repo.references(row.key, removed) if removed else []
    if refs:
        raise Conflict(
            f"nodes {', '.join(removed)} are still referenced by {', '.join(refs)}",
            errors=[field_error("nodes", f"removed nodes still referenced by {', '.join(refs)}")],
            referenced_by=refs,
        )
    if bump:
        row.row_version += 1
        row.updated_at = now_utc()
    await repo.add(row)
    await repo.replace_nodes(
        row.key,
        [
            ProcessNode(
                process_key=row.key,
                key=n.key,
                name=n.name,
                position=i + 1,
                department=n.department,
                position_key=n.position_key,
            )
            for i, n in enumerate(nodes)
        ],
    )
    out = (await public(session, [row]))[0]
    await emit(session, "process.upserted", row.key, out.feed_payload())
    return out


async def _check_references(session: AsyncSession, body: ProcessUpsert) -> None:
    await require_department(session, "owner_department", body.owner_department)
    await _check_nodes(session, body.nodes)


async def upsert_process(
    session: AsyncSession, key: str, body: ProcessUpsert, if_match: str | None
) -> tuple[ProcessPublic, bool]:
    """Create a process with its nodes, or replace it (If-Match required). The key never changes."""
    await _check_references(session, body)
    repo = ProcessRepository(session)
    row = await repo.get(key, for_update=True)
    if row is None:
        if if_match is not None and if_match.strip() != "*":
            raise PreconditionFailed(
                f"process `{key}` does not exist", errors=[field_error("header.If-Match", "the process does not exist")]
            )
        now = now_utc()
        row = Process(
            key=key,
            name=body.name,
            description=body.description,
            owner_department=body.owner_department,
            created_at=now,
            updated_at=now,
        )
        return await _save(session, row, body.nodes, bump=False), True
    check_if_match(if_match, row.row_version, required=True)
    return await _replace(session, row, (await public(session, [row]))[0], body), False


async def patch_process(session: AsyncSession, key: str, patch: dict[str, Any], if_match: str | None) -> ProcessPublic:
    """Change some fields of a process (If-Match required): the merged process is checked as a PUT body."""
    row = await ProcessRepository(session).get(key, for_update=True)
    if row is None:
        raise NotFound(f"no process `{key}`")
    check_if_match(if_match, row.row_version, required=True)
    current = (await public(session, [row]))[0]
    fields: dict[str, Any] = {name: True for name in ProcessUpsert.model_fields}
    fields["nodes"] = {"__all__": set(NodeIn.model_fields)}
    body = merge_patch(ProcessUpsert, current.model_dump(mode="json", include=fields), patch)
    await _check_references(session, body)
    return await _replace(session, row, current, body)


async def _replace(session: AsyncSession, row: Process, current: ProcessPublic, body: ProcessUpsert) -> ProcessPublic:
    """Replace a stored process and its nodes (`current` is its public form; If-Match already checked)."""
    wanted = [NodePublic(position=i + 1, **n.model_dump()) for i, n in enumerate(body.nodes)]
    if (current.name, current.description, current.owner_department, current.nodes) == (
        body.name,
        body.description,
        body.owner_department,
        wanted,
    ):
        return current
    row.name, row.description, row.owner_department = body.name, body.description, body.owner_department
    return await _save(session, row, body.nodes, bump=True)


async def _locked(session: AsyncSession, key: str) -> tuple[Process, list[NodeIn]]:
    row = await ProcessRepository(session).get(key, for_update=True)
    if row is None:
        raise NotFound(f"no process `{key}`")
    nodes = (await ProcessRepository(session).nodes_of([key]))[key]
    return row, [NodeIn(key=n.key, name=n.name, department=n.department, position_key=n.position_key) for n in nodes]


async def upsert_node(
    session: AsyncSession, key: str, node_key: str, body: NodeUpsert, if_match: str | None
) -> tuple[ProcessPublic, bool]:
    """Add a node (appended, or at `position`), or change one (If-Match with the process ETag required)."""
    row, nodes = await _locked(session, key)
    existing = next((i for i, n in enumerate(nodes) if n.key == node_key), None)
    check_if_match(if_match, row.row_version, required=existing is not None)
    await _check_nodes(session, [NodeIn(key=node_key, **body.model_dump(exclude={"position"}))], prefix="body")
    node = NodeIn(key=node_key, name=body.name, department=body.department, position_key=body.position_key)
    reordered = [n for n in nodes if n.key != node_key]
    if body.position is not None:
        place = min(body.position, len(reordered) + 1) - 1
    else:
        place = existing if existing is not None else len(reordered)
    reordered.insert(place, node)
    if reordered == nodes:
        return (await public(session, [row]))[0], False
    return await _save(session, row, reordered, bump=True), existing is None


async def delete_node(session: AsyncSession, key: str, node_key: str, if_match: str | None) -> ProcessPublic:
    """Remove a node no commitment names; the nodes after it move up one place."""
    row, nodes = await _locked(session, key)
    if not any(n.key == node_key for n in nodes):
        raise NotFound(f"process `{key}` has no node `{node_key}`")
    check_if_match(if_match, row.row_version, required=False)
    refs = await ProcessRepository(session).references(key, [node_key])
    if refs:
        raise Conflict(f"node `{key}/{node_key}` is still referenced by {', '.join(refs)}", referenced_by=refs)
    return await _save(session, row, [n for n in nodes if n.key != node_key], bump=True)


async def delete_process(session: AsyncSession, key: str, if_match: str | None) -> None:
    repo = ProcessRepository(session)
    row = await repo.get(key, for_update=True)
    if row is None:
        raise NotFound(f"no process `{key}`")
    check_if_match(if_match, row.row_version, required=False)
    refs = await repo.references(key)
    if refs:
        raise Conflict(f"process `{key}` is still referenced by {', '.join(refs)}", referenced_by=refs)
    await repo.delete(row)
    await emit(session, "process.deleted", key, feed.payload("process.deleted", {"key": key}))


async def require_node(
    session: AsyncSession,
    process_key: str,
    node_key: str | None,
    process_field: str = "process",
    node_field: str = "node",
) -> None:
    """422 naming the field when the process (or its node) is unknown."""
    repo = ProcessRepository(session)
    if await repo.get(process_key) is None:
        raise invalid(process_field, f"unknown process `{process_key}`")
    if node_key is not None and not await repo.node_exists(process_key, node_key):
        raise invalid(node_field, f"process `{process_key}` has no node `{node_key}`")
