"""`/v1/practices`: the knowledge base of practices that work."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pledge_common.db import SessionDep
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.pagination import Page, PageParams, paged
from pledge_common.problems import invalid
from pledge_common.scopes import Scope, scoped

from feedback_svc.practices import service
from feedback_svc.practices.repository import PracticeFilter
from feedback_svc.practices.schemas import PracticeCreate, PracticePublic, PracticeSummary
from feedback_svc.practices.search import MAX_TERMS, terms
from feedback_svc.upstream import EvaluationDep

router = APIRouter(
    prefix="/v1/practices", tags=["practices"], dependencies=scoped(Scope.complaints_read, Scope.complaints_manage)
)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PracticePublic, response_model_by_alias=True)
async def create_practice(
    data: PracticeCreate, session: SessionDep, evaluation: EvaluationDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    """Record a practice, directly or from a corrective action verified effective (its before/after figures
    attached)."""

    async def create() -> Answer:
        return Answer(status.HTTP_201_CREATED, await service.create(session, evaluation, caller, data))

    return await idem.answer(create, data)


@router.get("", response_model=Page[PracticeSummary], response_model_by_alias=True)
async def list_practices(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    page: PageParams,
    q: Annotated[
        str | None, Query(max_length=200, description="words that must all appear in title, body or tags")
    ] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    process_key: Annotated[str | None, Query(alias="process", max_length=200)] = None,
    node_key: Annotated[str | None, Query(alias="node", max_length=200)] = None,
    root_cause: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[PracticeSummary]:
    """Practices, newest first; `q` searches (Chinese included: substrings, no word breaks needed)."""
    words = terms(q) if q is not None else []
    if len(words) > MAX_TERMS:
        raise invalid("query.q", f"at most {MAX_TERMS} words")
    where = PracticeFilter(
        terms=tuple(words),
        tag=tag,
        process_key=process_key,
        node_key=node_key,
        root_cause=root_cause,
        sources=caller.sources,
    )
    return paged(request, response, await service.list_page(session, where, page.cursor, page.limit))


@router.get("/{practice_id}", response_model=PracticePublic, response_model_by_alias=True)
async def get_practice(practice_id: uuid.UUID, session: SessionDep, caller: CallerDep) -> PracticePublic:
    """One practice with its body and, when it came from a corrective action, its before/after figures."""
    return await service.get(session, caller, practice_id)
