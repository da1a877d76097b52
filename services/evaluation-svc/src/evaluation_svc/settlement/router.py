"""`/v1/reports/agreements/{id}/settlements`: an agreement settled per billing period, draft → approved."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response
from pledge_common.db import SessionDep
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import Caller, CallerDep, require_scope
from pledge_common.problems import Forbidden
from pledge_common.scopes import Scope, scoped

from evaluation_svc.settlement import service
from evaluation_svc.settlement.dependencies import settling
from evaluation_svc.settlement.schemas import Approval, Settlement, SettlementList

router = APIRouter(
    prefix="/v1/reports/agreements/{agreement_id}/settlements",
    tags=["settlements"],
    dependencies=scoped(Scope.reports_read, Scope.alerts_manage),
)
APPROVE_SCOPE = Scope.alerts_manage
PeriodPath = Annotated[str, "2026-11 (monthly) or 2026-Q4 (quarterly)"]


def _whole_agreement(caller: Caller) -> None:
    if caller.sources is not None:
        raise Forbidden("a settlement covers every source system; this key is bound to some of them")


@router.get("", response_model=SettlementList, response_model_by_alias=True)
async def list_settlements(
    session: SessionDep,
    caller: CallerDep,
    agreement_id: str,
    limit: Annotated[int, Query(ge=1, le=120, description="most recent periods first")] = 24,
) -> SettlementList:
    """The recorded settlements (drafts and approved periods) of an agreement, latest period first."""
    _whole_agreement(caller)
    return await service.settlements(session, agreement_id, limit)


@router.get("/{period}", response_model=Settlement, response_model_by_alias=True)
async def get_settlement(
    request: Request, session: SessionDep, caller: CallerDep, agreement_id: str, period: PeriodPath
) -> Settlement:
    """A period's settlement: as recorded (draft or approved), else a preview computed now."""
    _whole_agreement(caller)
    return await service.settlement(session, agreement_id, period, settling(request))


@router.post("/{period}", response_model=Settlement, response_model_by_alias=True)
async def draft_settlement(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    agreement_id: str,
    period: PeriodPath,
    idem: IdempotencyDep,
) -> Response:
    """Compute the period now and record it as its draft (409 once the period is approved)."""
    require_scope(caller, APPROVE_SCOPE)
    _whole_agreement(caller)

    async def draft() -> Answer:
        return Answer(200, await service.draft(session, agreement_id, period, caller, settling(request)))

    return await idem.answer(draft)


@router.post("/{period}/approval", response_model=Settlement, response_model_by_alias=True)
async def approve_settlement(
    session: SessionDep,
    caller: CallerDep,
    agreement_id: str,
    period: PeriodPath,
    idem: IdempotencyDep,
    body: Annotated[Approval | None, Body()] = None,
) -> Response:
    """Approve the recorded draft of an ended period: frozen from now on, with who and when."""
    require_scope(caller, APPROVE_SCOPE)
    _whole_agreement(caller)
    expected = body.expected_credits if body is not None else None

    async def approve() -> Answer:
        return Answer(200, await service.approve(session, agreement_id, period, caller, datetime.now(UTC), expected))

    return await idem.answer(approve, body)
