"""`/v1/alerts`: list (filters), read, acknowledge."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pledge_common.db import SessionDep
from pledge_common.identity import CallerDep
from pledge_common.problems import invalid
from pledge_common.scopes import Scope, scoped

from evaluation_svc.alerts import service
from evaluation_svc.alerts.schemas import AlertAcknowledge, AlertLevel, AlertPage, AlertPublic, AlertState

router = APIRouter(prefix="/v1/alerts", tags=["alerts"], dependencies=scoped(Scope.reports_read, Scope.alerts_manage))


@router.get("", response_model=AlertPage)
async def list_alerts(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    department: Annotated[list[str] | None, Query()] = None,
    level: Annotated[list[AlertLevel] | None, Query()] = None,
    state: Annotated[list[AlertState] | None, Query()] = None,
    process: Annotated[list[str] | None, Query()] = None,
    node_run_id: Annotated[str | None, Query()] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1)] = 100,
) -> AlertPage:
    """Alerts, newest first."""
    if limit > request.app.state.settings.page_max:
        raise invalid("limit", f"a page holds at most {request.app.state.settings.page_max} alerts")
    return await service.list_alerts(
        session,
        caller,
        department=department or (),
        level=level or (),
        state=state or (),
        process=process or (),
        node_run_id=node_run_id,
        cursor=cursor,
        limit=limit,
    )


@router.get("/{alert_id}", response_model=AlertPublic)
async def get_alert(session: SessionDep, caller: CallerDep, alert_id: uuid.UUID) -> AlertPublic:
    """One alert."""
    return await service.get_alert(session, caller, alert_id)


@router.post("/{alert_id}/acknowledge", response_model=AlertPublic)
async def acknowledge(
    session: SessionDep, caller: CallerDep, alert_id: uuid.UUID, body: AlertAcknowledge | None = None
) -> AlertPublic:
    """Acknowledge an alert (idempotent: a second acknowledgement changes nothing)."""
    return await service.acknowledge(session, caller, alert_id, body.note if body else None)
