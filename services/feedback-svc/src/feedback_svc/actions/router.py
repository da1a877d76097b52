"""`/v1/corrective-actions`: improvement plans from complaints, recommendations and survey gaps."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pledge_common.db import SessionDep
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.pagination import Page, PageParams, paged
from pledge_common.scopes import Scope, scoped

from feedback_svc.actions import service
from feedback_svc.actions.repository import ActionFilter
from feedback_svc.actions.rules import ActionStatus
from feedback_svc.actions.schemas import ActionCreate, ActionPublic, ActionSummary, ActionTransitionCreate
from feedback_svc.upstream import EvaluationDep, TrackingDep

router = APIRouter(
    prefix="/v1/corrective-actions",
    tags=["corrective actions"],
    dependencies=scoped(Scope.complaints_read, Scope.complaints_manage),
)


def _tz(request: Request) -> str:
    zone: str = request.app.state.settings.report_timezone
    return zone


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ActionPublic, response_model_by_alias=True)
async def create_action(
    data: ActionCreate,
    request: Request,
    session: SessionDep,
    tracking: TrackingDep,
    evaluation: EvaluationDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    """Open a corrective action linked to the complaints, recommendations or survey gaps behind it."""

    async def create() -> Answer:
        action = await service.create(session, tracking, evaluation, _tz(request), caller, data)
        return Answer(status.HTTP_201_CREATED, action)

    return await idem.answer(create, data)


@router.get("", response_model=Page[ActionSummary])
async def list_actions(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    page: PageParams,
    status: ActionStatus | None = None,
    overdue: Annotated[bool, Query(description="only open actions past their due date")] = False,
    owner_department: str | None = None,
    process_key: Annotated[str | None, Query(alias="process", description="process key")] = None,
) -> Page[ActionSummary]:
    """Corrective actions by due date (soonest first); `overdue=true` lists the overdue ones."""
    tz = _tz(request)
    where = ActionFilter(
        status, owner_department, process_key, service.today_in(tz) if overdue else None, caller.sources
    )
    return paged(request, response, await service.list_page(session, where, tz, page.cursor, page.limit))


@router.get("/{action_id}", response_model=ActionPublic, response_model_by_alias=True)
async def get_action(
    action_id: uuid.UUID, request: Request, session: SessionDep, evaluation: EvaluationDep, caller: CallerDep
) -> ActionPublic:
    """One corrective action with its history and, once done, its effectiveness check."""
    return await service.get(session, evaluation, _tz(request), caller, action_id)


@router.post("/{action_id}/transitions", response_model=ActionPublic, response_model_by_alias=True)
async def transition_action(
    action_id: uuid.UUID,
    data: ActionTransitionCreate,
    request: Request,
    session: SessionDep,
    evaluation: EvaluationDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    """Move an action: open → in_progress → done → verified (done → in_progress when verification fails)."""

    async def transition() -> Answer:
        action = await service.transition(session, evaluation, _tz(request), caller, action_id, data)
        return Answer(status.HTTP_200_OK, action)

    return await idem.answer(transition, data)
