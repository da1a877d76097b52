"""`/v1/complaints`: file, transition, transfer, read and measure complaints."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Query, Request, status
from pledge_common.db import SessionDep
from pledge_common.identity import CallerDep
from pledge_common.instants import Instant
from pledge_common.scopes import Scope, scoped

from feedback_svc.common import Bucket, Page, check_period, one_dimension, timezone_named
from feedback_svc.complaints import metrics, service
from feedback_svc.complaints.repository import ComplaintFilter
from feedback_svc.complaints.schemas import (
    ComplaintCreate,
    ComplaintMetrics,
    ComplaintPublic,
    ComplaintSummary,
    ComplaintTransferCreate,
    ComplaintTransitionCreate,
)
from feedback_svc.complaints.workflow import Severity, Status
from feedback_svc.config import Settings
from feedback_svc.upstream import EvaluationDep, TrackingDep

router = APIRouter(
    prefix="/v1/complaints", tags=["complaints"], dependencies=scoped(Scope.complaints_read, Scope.complaints_manage)
)
Start = Annotated[Instant | None, Query(alias="from", description="received at or after (ISO 8601 with offset)")]
End = Annotated[Instant | None, Query(alias="to", description="received before (ISO 8601 with offset)")]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _wake_sender(request: Request, background: BackgroundTasks) -> None:
    """Nudge the sender once the response is out (the transaction has committed by then)."""
    sender = getattr(request.app.state, "tracking_sender", None)
    if sender is not None:
        background.add_task(sender.wake)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ComplaintPublic)
async def file_complaint(
    data: ComplaintCreate,
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    tracking: TrackingDep,
    caller: CallerDep,
) -> ComplaintPublic:
    """File a complaint; its first receiver owns it, and its handling is tracked as a ticket."""
    complaint = await service.create(session, tracking, _settings(request), caller, data)
    _wake_sender(request, background)
    return complaint


@router.get("", response_model=Page[ComplaintSummary])
async def list_complaints(
    session: SessionDep,
    caller: CallerDep,
    start: Start = None,
    end: End = None,
    status: Status | None = None,
    severity: Severity | None = None,
    category: str | None = None,
    customer_ref: Annotated[str | None, Query(alias="customer", description="customer reference")] = None,
    owner_department: str | None = None,
    process_key: Annotated[str | None, Query(alias="process", description="process key")] = None,
    ticket_id: Annotated[uuid.UUID | None, Query(description="complaints about this ticket (tracking's id)")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Page[ComplaintSummary]:
    """Complaints, newest first (a caller bound to source systems sees complaints about their tickets only)."""
    check_period(start, end)
    where = ComplaintFilter(
        status=status,
        severity=severity,
        category=category,
        customer_ref=customer_ref,
        owner_department=owner_department,
        process_key=process_key,
        start=start,
        end=end,
        ticket_id=None if ticket_id is None else str(ticket_id),
        sources=caller.sources,
    )
    return await service.list_page(session, where, cursor, limit)


@router.get("/metrics", response_model=ComplaintMetrics, response_model_by_alias=True)
async def complaint_metrics(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    tracking: TrackingDep,
    evaluation: EvaluationDep,
    start: Start = None,
    end: End = None,
    group_by: Annotated[
        list[Literal["period", "process", "severity", "none"]] | None,
        Query(description="the dimension (one; default period)"),
    ] = None,
    bucket: Bucket = "month",
    tz: str | None = None,
    process_key: Annotated[str | None, Query(alias="process", description="process key")] = None,
    severity: Severity | None = None,
) -> ComplaintMetrics:
    """Closure, first-contact resolution, reopen and on-time rates, and complaints per 1 000 tickets."""
    check_period(start, end)
    zone = timezone_named(tz or _settings(request).report_timezone)
    where = ComplaintFilter(severity=severity, process_key=process_key, start=start, end=end, sources=caller.sources)
    dimension = one_dimension(group_by, "period")
    return await metrics.complaint_metrics(session, tracking, evaluation, where, dimension, bucket, zone)


@router.get("/{complaint_id}", response_model=ComplaintPublic)
async def get_complaint(
    complaint_id: uuid.UUID, request: Request, session: SessionDep, caller: CallerDep
) -> ComplaintPublic:
    """One complaint with its transition and ownership history."""
    return await service.get(session, _settings(request), caller, complaint_id)


@router.post("/{complaint_id}/transitions", response_model=ComplaintPublic)
async def transition_complaint(
    complaint_id: uuid.UUID,
    data: ComplaintTransitionCreate,
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    caller: CallerDep,
) -> ComplaintPublic:
    """Move a complaint along its workflow (who, when, why are recorded)."""
    complaint = await service.transition(session, _settings(request), caller, complaint_id, data)
    _wake_sender(request, background)
    return complaint


@router.post("/{complaint_id}/transfers", response_model=ComplaintPublic)
async def transfer_complaint(
    complaint_id: uuid.UUID,
    data: ComplaintTransferCreate,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
) -> ComplaintPublic:
    """Hand a complaint to another department or person (kept in its ownership history)."""
    return await service.transfer(session, _settings(request), caller, complaint_id, data)
