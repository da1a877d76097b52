"""`/v1/risk-points`: the service-collaboration risk points (服务协同风险点) with their controls and owner."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pledge_common.db import SessionDep
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.pagination import Page, PageParams, paged
from pledge_common.scopes import Scope, scoped

from feedback_svc.risks import service
from feedback_svc.risks.repository import RiskFilter
from feedback_svc.risks.schemas import RiskPointPublic, RiskPointWrite
from feedback_svc.upstream import TrackingDep

router = APIRouter(
    prefix="/v1/risk-points", tags=["risk points"], dependencies=scoped(Scope.complaints_read, Scope.complaints_manage)
)
Filter = Annotated[str | None, Query(max_length=200)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=RiskPointPublic, response_model_by_alias=True)
async def create_risk_point(
    data: RiskPointWrite, session: SessionDep, tracking: TrackingDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    """Record a risk point of a process (and node) or a department, with its controls, owner, and the KPIs
    and alerts it explains."""

    async def create() -> Answer:
        return Answer(status.HTTP_201_CREATED, await service.create(session, tracking, caller, data))

    return await idem.answer(create, data)


@router.get("", response_model=Page[RiskPointPublic], response_model_by_alias=True)
async def list_risk_points(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    page: PageParams,
    process_key: Annotated[str | None, Query(alias="process", max_length=200)] = None,
    node_key: Annotated[str | None, Query(alias="node", max_length=200)] = None,
    department: Filter = None,
    kpi: Annotated[str | None, Query(max_length=200, description="risk points linked to this KPI key")] = None,
    alert: Annotated[str | None, Query(max_length=200, description="risk points that explain this alert")] = None,
) -> Page[RiskPointPublic]:
    """Risk points, newest first."""
    where = RiskFilter(
        process_key=process_key,
        node_key=node_key,
        department=department,
        kpi_key=kpi,
        alert_ref=alert,
        sources=caller.sources,
    )
    return paged(request, response, await service.list_page(session, where, page.cursor, page.limit))


@router.get("/{risk_id}", response_model=RiskPointPublic, response_model_by_alias=True)
async def get_risk_point(risk_id: uuid.UUID, session: SessionDep, caller: CallerDep) -> RiskPointPublic:
    """One risk point."""
    return await service.get(session, caller, risk_id)


@router.put("/{risk_id}", response_model=RiskPointPublic, response_model_by_alias=True)
async def replace_risk_point(
    risk_id: uuid.UUID, data: RiskPointWrite, session: SessionDep, tracking: TrackingDep, caller: CallerDep
) -> RiskPointPublic:
    """Replace a risk point whole (its version goes up by one)."""
    return await service.replace(session, tracking, caller, risk_id, data)


@router.delete("/{risk_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_risk_point(risk_id: uuid.UUID, session: SessionDep, caller: CallerDep) -> Response:
    """Remove a risk point."""
    await service.remove(session, caller, risk_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
