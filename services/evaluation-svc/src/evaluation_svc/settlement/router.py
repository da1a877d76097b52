"""`/v1/reports/agreements/{id}/settlements`: an agreement settled per billing period, draft → approved."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response
from pledge_common.db import SessionDep
from pledge_common.exports import (
    CSV,
    JSON,
    PDF,
    XLSX,
    accepting,
    file_response,
    openapi_responses,
    tabular_response,
)
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import Caller, CallerDep, require_scope
from pledge_common.pagination import PageRequest, page_params, paged
from pledge_common.problems import Forbidden
from pledge_common.scopes import Scope, scoped

from evaluation_svc.config import Settings
from evaluation_svc.exports.pdf import settlement_pdf
from evaluation_svc.exports.repository import governing_versions
from evaluation_svc.exports.respond import TABLES, TabularDep, answer, basename, next_link
from evaluation_svc.exports.rows import settlement_list_rows, settlement_rows
from evaluation_svc.pages import check_page_max
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
DocumentDep = Annotated[str, Depends(accepting(CSV, XLSX, PDF))]


def _whole_agreement(caller: Caller) -> None:
    if caller.sources is not None:
        raise Forbidden("a settlement covers every source system; this key is bound to some of them")


@router.get("", response_model=SettlementList, response_model_by_alias=True, responses=TABLES)
async def list_settlements(
    session: SessionDep,
    caller: CallerDep,
    agreement_id: str,
    media: TabularDep,
    request: Request,
    response: Response,
    page: Annotated[PageRequest, Depends(page_params(maximum=120, default=24))],
) -> SettlementList | Response:
    """The recorded settlements (drafts and approved periods) of an agreement, latest period first, a page at a
    time (a CSV or XLSX export holds the page asked for)."""
    _whole_agreement(caller)
    check_page_max(request, page)
    found = await service.settlements(session, agreement_id, page.cursor, page.limit)
    if media == JSON:
        return paged(request, response, found)
    name = basename("settlements", str(found.agreement.get("key")))
    return await tabular_response(
        media, settlement_list_rows(found), name, headers=next_link(request, found.next_cursor)
    )


@router.get(
    "/{period}",
    response_model=Settlement,
    response_model_by_alias=True,
    responses=openapi_responses(CSV, XLSX, PDF),
)
async def get_settlement(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    agreement_id: str,
    period: PeriodPath,
    media: DocumentDep,
) -> Settlement | Response:
    """A period's settlement: as recorded (draft or approved), else a preview computed now (also a PDF to hand to
    the customer)."""
    _whole_agreement(caller)
    found = await service.settlement(session, agreement_id, period, settling(request))
    name = basename("settlement", str(found.agreement.get("key")), found.period)
    if media == PDF:
        settings: Settings = request.app.state.settings
        keys = [c.commitment_key for c in found.commitments]
        versions = await governing_versions(session, keys, found.from_, found.to)
        body = settlement_pdf(found, versions, settings.organisation_name, datetime.now(UTC))
        return file_response(PDF, body, name)
    return found if media == JSON else await answer(media, found, settlement_rows, name)


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
