from fastapi import APIRouter, Request, Response, status
from pledge_common.db import SessionDep
from pledge_common.etags import not_modified, set_etag
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.pagination import Page, PageParams, decode_cursor, encode_cursor, int32, paged
from pledge_common.problems import NotFound
from pledge_common.scopes import Scope, scoped

from commitment_svc.core.params import IfMatch, KeyPath, MergePatch
from commitment_svc.core.schemas import created, upserted
from commitment_svc.processes import service
from commitment_svc.processes.repository import ProcessRepository
from commitment_svc.processes.schemas import NodePublic, NodeUpsert, ProcessPublic, ProcessUpsert

router = APIRouter(
    prefix="/v1/processes", tags=["processes"], dependencies=scoped(Scope.definitions_read, Scope.definitions_write)
)


@router.get("")
async def list_processes(
    session: SessionDep, request: Request, response: Response, page: PageParams
) -> Page[ProcessPublic]:
    """Service processes (服务流程) with their ordered nodes, by key."""
    cursor = decode_cursor(page.cursor, str)
    rows = await ProcessRepository(session).page(cursor[0] if cursor else None, page.limit + 1)
    items = await service.public(session, rows[: page.limit])
    return paged(
        request,
        response,
        Page(items=items, next_cursor=encode_cursor(items[-1].key) if len(rows) > page.limit else None),
    )


@router.get("/{key}", response_model=ProcessPublic)
async def get_process(
    key: KeyPath, session: SessionDep, request: Request, response: Response
) -> ProcessPublic | Response:
    """One process with its nodes."""
    process = await service.get_process(session, key)
    if (unchanged := not_modified(request, process.version)) is not None:
        return unchanged
    set_etag(response, process.version)
    return process


@router.put("/{key}", response_model=ProcessPublic, responses=created(ProcessPublic))
async def put_process(
    key: KeyPath,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    body: ProcessUpsert,
    idem: IdempotencyDep,
    if_match: IfMatch = None,
) -> Response:
    """Create a process (201) or replace it with its nodes (needs If-Match); nodes are ordered as listed."""

    async def upsert() -> Answer:
        process, created = await service.upsert_process(session, key, body, if_match)
        return upserted(process, created, process.version)

    return await idem.answer(upsert, body)


@router.patch("/{key}")
async def patch_process(
    key: KeyPath, session: SessionDep, response: Response, patch: MergePatch, if_match: IfMatch = None
) -> ProcessPublic:
    """Change some fields (JSON merge patch; needs If-Match): a field sent replaces it whole, null resets it."""
    process = await service.patch_process(session, key, patch, if_match)
    set_etag(response, process.version)
    return process


@router.delete("/{key}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_process(key: KeyPath, session: SessionDep, if_match: IfMatch = None) -> None:
    """Delete a process no commitment names (409 names the commitments that do)."""
    await service.delete_process(session, key, if_match)


@router.get("/{key}/nodes", response_model=Page[NodePublic])
async def list_nodes(
    key: KeyPath, session: SessionDep, request: Request, response: Response, page: PageParams
) -> Page[NodePublic] | Response:
    """The nodes of a process, in order (the ETag is the process's)."""
    cursor = decode_cursor(page.cursor, int32)
    process = await service.get_process(session, key)
    if (unchanged := not_modified(request, process.version)) is not None:
        return unchanged
    set_etag(response, process.version)
    rows = await ProcessRepository(session).nodes_page(key, cursor[0] if cursor else None, page.limit + 1)
    items = [NodePublic.model_validate(n) for n in rows[: page.limit]]
    next_cursor = encode_cursor(items[-1].position) if len(rows) > page.limit else None
    return paged(request, response, Page(items=items, next_cursor=next_cursor))


@router.get("/{key}/nodes/{node_key}", response_model=NodePublic)
async def get_node(
    key: KeyPath, node_key: KeyPath, session: SessionDep, request: Request, response: Response
) -> NodePublic | Response:
    """One node of a process (the ETag is the process's)."""
    process = await service.get_process(session, key)
    if (unchanged := not_modified(request, process.version)) is not None:
        return unchanged
    set_etag(response, process.version)
    for node in process.nodes:
        if node.key == node_key:
            return node
    raise NotFound(f"process `{key}` has no node `{node_key}`")


@router.put("/{key}/nodes/{node_key}", responses=created(ProcessPublic))
async def put_node(
    key: KeyPath,
    node_key: KeyPath,
    session: SessionDep,
    response: Response,
    body: NodeUpsert,
    if_match: IfMatch = None,
) -> ProcessPublic:
    """Add a node (201) or change one (needs If-Match with the process ETag); answers the whole process."""
    process, created = await service.upsert_node(session, key, node_key, body, if_match)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    set_etag(response, process.version)
    return process


@router.delete("/{key}/nodes/{node_key}")
async def delete_node(
    key: KeyPath, node_key: KeyPath, session: SessionDep, response: Response, if_match: IfMatch = None
) -> ProcessPublic:
    """Remove a node no commitment names; answers the process with the remaining nodes."""
    process = await service.delete_node(session, key, node_key, if_match)
    set_etag(response, process.version)
    return process
