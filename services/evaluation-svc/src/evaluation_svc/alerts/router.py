"""`/v1/alerts`: list (filters), read, acknowledge."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pledge_common.db import SessionDep
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.pagination import PageParams, paged
from pledge_common.problems import invalid
from pledge_common.scopes import Scope, scoped

from evaluation_svc.alerts import service
from evaluation_svc.alerts.schemas import (
    ALERT_STATES,
    AlertAcknowledge,
    AlertLevel,
    AlertPage,
    AlertPublic,
    AlertState,
    AlertUpdate,
)
from evaluation_svc.pages import check_page_max

router = APIRouter(prefix="/v1/alerts", tags=["alerts"], dependencies=scoped(Scope.reports_read, Scope.alerts_manage))
ACKNOWLEDGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such alert"},
    409: {"description": "the alert was resolved (its run ended) before anyone acknowledged it"},
}


def parse_states(values: list[str] | None) -> list[AlertState]:
    """`state` repeated, comma-separated, or both: each value must be a state."""
    states: list[AlertState] = []
    for value in values or ():
        for part in value.split(","):
            name = part.strip()
            state = next((s for s in ALERT_STATES if s == name), None)
            if state is None:
                raise invalid("query.state", f"{name!r} is not a state; states: {', '.join(ALERT_STATES)}")
            states.append(state)
    return states


@router.get("", response_model=AlertPage)
async def list_alerts(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    page: PageParams,
    department: Annotated[list[str] | None, Query()] = None,
    level: Annotated[list[AlertLevel] | None, Query()] = None,
    state: Annotated[
        list[str] | None,
        Query(
            description="`open`, `acknowledged`, `resolved`: repeated or comma-separated (`state=open,acknowledged`)"
        ),
    ] = None,
    process: Annotated[list[str] | None, Query()] = None,
    position: Annotated[
        list[str] | None, Query(description="the position responsible for the run (repeatable)")
    ] = None,
    late: Annotated[bool | None, Query(description="`false`: leave out the late alerts of a backfill")] = None,
    node_run_id: Annotated[str | None, Query()] = None,
) -> AlertPage:
    """Alerts, newest first."""
    check_page_max(request, page)
    alerts = await service.list_alerts(
        session,
        caller,
        department=department or (),
        level=level or (),
        state=parse_states(state),
        process=process or (),
        position=position or (),
        late=late,
        node_run_id=node_run_id,
        cursor=page.cursor,
        limit=page.limit,
    )
    return paged(request, response, alerts)


@router.get("/{alert_id}", response_model=AlertPublic)
async def get_alert(session: SessionDep, caller: CallerDep, alert_id: uuid.UUID) -> AlertPublic:
    """One alert."""
    return await service.get_alert(session, caller, alert_id)


@router.post("/{alert_id}/acknowledge", response_model=AlertPublic, responses=ACKNOWLEDGE_RESPONSES)
async def acknowledge_alert(
    session: SessionDep,
    caller: CallerDep,
    alert_id: uuid.UUID,
    idem: IdempotencyDep,
    body: AlertAcknowledge | None = None,
) -> Response:
    """Acknowledge an alert (idempotent: a second acknowledgement changes nothing; 409 once resolved unacknowledged)."""

    async def acknowledge() -> Answer:
        alert = await service.acknowledge(session, caller, alert_id, body.note if body else None)
        return Answer(200, alert)

    return await idem.answer(acknowledge, body)


@router.patch("/{alert_id}", response_model=AlertPublic, responses=ACKNOWLEDGE_RESPONSES)
async def update_alert(session: SessionDep, caller: CallerDep, alert_id: uuid.UUID, body: AlertUpdate) -> AlertPublic:
    """Acknowledge an alert with `{"state": "acknowledged"}`, as POST …/acknowledge does (alerts resolve alone)."""
    return await service.acknowledge(session, caller, alert_id, body.note)
