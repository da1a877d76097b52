"""`/v1/complaints`: file, transition, transfer, read and measure complaints."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response, status
from pledge_common.db import SessionDep
from pledge_common.exports import CSV, JSON, XLSX, accepting, model_row, openapi_responses, tabular_response
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.instants import Instant
from pledge_common.pagination import Page, PageParams, paged
from pledge_common.problems import invalid
from pledge_common.scopes import Scope, scoped

from feedback_svc.common import Bucket, check_period, one_dimension, timezone_named, utcnow
from feedback_svc.complaints import analysis, metrics, service, snapshots
from feedback_svc.complaints.repository import ComplaintFilter
from feedback_svc.complaints.schemas import (
    ClosedComplaintMetrics,
    ComplaintCreate,
    ComplaintMetrics,
    ComplaintPareto,
    ComplaintPublic,
    ComplaintSummary,
    ComplaintTransferCreate,
    ComplaintTransitionCreate,
    ParetoDimension,
)
from feedback_svc.complaints.workflow import Severity, Status
from feedback_svc.config import Settings
from feedback_svc.upstream import EvaluationDep, TrackingDep

router = APIRouter(
    prefix="/v1/complaints", tags=["complaints"], dependencies=scoped(Scope.complaints_read, Scope.complaints_manage)
)
Start = Annotated[Instant | None, Query(alias="from", description="received at or after (ISO 8601 with offset)")]
End = Annotated[Instant | None, Query(alias="to", description="received before (ISO 8601 with offset)")]
# the filters and the dimension of the complaint metrics, live and as closed
MetricsGroupBy = Annotated[
    list[Literal["period", "process", "node", "severity", "category", "root_cause", "department", "none"]] | None,
    Query(description="the dimension (one; default period)"),
]
ProcessKey = Annotated[str | None, Query(alias="process", description="process key")]
NodeKey = Annotated[
    str | None, Query(alias="node", max_length=200, description="the node complaints are attributed to")
]
Category = Annotated[str | None, Query(max_length=200)]
OwnerDepartment = Annotated[str | None, Query(alias="department", max_length=200, description="owning department")]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _wake_sender(request: Request, background: BackgroundTasks) -> None:
    """Nudge the sender once the response is out (the transaction has committed by then)."""
    sender = getattr(request.app.state, "tracking_sender", None)
    if sender is not None:
        background.add_task(sender.wake)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ComplaintPublic)
async def create_complaint(
    data: ComplaintCreate,
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    tracking: TrackingDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    """File a complaint; its first receiver owns it, and its handling is tracked as a ticket."""

    async def file() -> Answer:
        complaint = await service.create(session, tracking, _settings(request), caller, data)
        _wake_sender(request, background)
        return Answer(status.HTTP_201_CREATED, complaint)

    return await idem.answer(file, data)


@router.get("", response_model=Page[ComplaintSummary])
async def list_complaints(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    page: PageParams,
    start: Start = None,
    end: End = None,
    status: Status | None = None,
    severity: Severity | None = None,
    category: str | None = None,
    customer_ref: Annotated[str | None, Query(alias="customer", description="customer reference")] = None,
    owner_department: str | None = None,
    process_key: Annotated[str | None, Query(alias="process", description="process key")] = None,
    node_key: NodeKey = None,
    ticket_id: Annotated[uuid.UUID | None, Query(description="complaints about this ticket (tracking's id)")] = None,
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
        node_key=node_key,
        start=start,
        end=end,
        ticket_id=None if ticket_id is None else str(ticket_id),
        sources=caller.sources,
    )
    return paged(request, response, await service.list_page(session, where, page.cursor, page.limit))


@router.get(
    "/metrics", response_model=ComplaintMetrics, response_model_by_alias=True, responses=openapi_responses(CSV, XLSX)
)
async def complaint_metrics(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    tracking: TrackingDep,
    evaluation: EvaluationDep,
    media: Annotated[str, Depends(accepting(CSV, XLSX))],
    start: Start = None,
    end: End = None,
    group_by: MetricsGroupBy = None,
    bucket: Bucket = "month",
    tz: str | None = None,
    process_key: ProcessKey = None,
    node_key: NodeKey = None,
    severity: Severity | None = None,
    category: Category = None,
    owner_department: OwnerDepartment = None,
) -> ComplaintMetrics | Response:
    """Closure, first-contact resolution, reopen and on-time rates, and complaints per 1 000 tickets (CSV and
    XLSX too: one row per group, the totals, then the rate per process)."""
    check_period(start, end)
    zone = timezone_named(tz or _settings(request).report_timezone)
    where = ComplaintFilter(
        severity=severity,
        process_key=process_key,
        node_key=node_key,
        category=category,
        owner_department=owner_department,
        start=start,
        end=end,
        sources=caller.sources,
    )
    dimension = one_dimension(group_by, "period")
    found = await metrics.complaint_metrics(session, tracking, evaluation, where, dimension, bucket, zone)
    if media == JSON:
        return found
    rows = [
        *(model_row(g, part="group") for g in found.groups),
        model_row(found.totals, part="total"),
        *(model_row(p, part="per_1000_tickets") for p in found.per_1000_tickets),
    ]
    return await tabular_response(media, rows, "complaint-metrics")


@router.get("/metrics/closed", response_model=ClosedComplaintMetrics, response_model_by_alias=True)
async def closed_complaint_metrics(
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    tracking: TrackingDep,
    evaluation: EvaluationDep,
    start: Annotated[Instant, Query(alias="from", description="received at or after (ISO 8601 with offset)")],
    end: Annotated[Instant, Query(alias="to", description="received before; the period must have closed")],
    group_by: MetricsGroupBy = None,
    bucket: Bucket = "month",
    tz: str | None = None,
    process_key: ProcessKey = None,
    node_key: NodeKey = None,
    severity: Severity | None = None,
    category: Category = None,
    owner_department: OwnerDepartment = None,
) -> ClosedComplaintMetrics:
    """The metrics of a closed period as they stood at its close (frozen at the first read after it), the same
    figures now, and every count that changed since as an adjustment."""
    check_period(start, end)
    now = utcnow()
    if end > now:
        raise invalid("query.to", "the period has not closed yet; the live figures are at /v1/complaints/metrics")
    zone = timezone_named(tz or _settings(request).report_timezone)
    for field, instant in (("query.from", start), ("query.to", end)):
        if not analysis.starts_period(instant, bucket, zone):
            raise invalid(field, f"must start a {bucket} in {zone} (closed periods are whole periods)")
    where = ComplaintFilter(
        severity=severity,
        process_key=process_key,
        node_key=node_key,
        category=category,
        owner_department=owner_department,
        start=start,
        end=end,
        sources=caller.sources,
    )
    dimension = one_dimension(group_by, "period")
    current = await metrics.complaint_metrics(session, tracking, evaluation, where, dimension, bucket, zone)
    params = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "group_by": dimension,
        "bucket": bucket,
        "tz": zone,
        "process": process_key,
        **({"node": node_key} if node_key is not None else {}),  # keeps the keys of earlier snapshots
        "severity": severity,
        "category": category,
        "department": owner_department,
        "sources": None if caller.sources is None else sorted(caller.sources),
    }
    taken_at, as_closed = await snapshots.SnapshotRepository(session).keep_first(
        snapshots.snapshot_key(params), params, now, current
    )
    return ClosedComplaintMetrics(
        taken_at=taken_at,
        as_closed=as_closed,
        current=current,
        adjustments=snapshots.adjustment_rows(as_closed, current),
    )


@router.get("/pareto", response_model=ComplaintPareto, response_model_by_alias=True)
async def complaint_pareto(
    session: SessionDep,
    caller: CallerDep,
    by: Annotated[ParetoDimension, Query(description="the dimension counted")],
    start: Start = None,
    end: End = None,
    threshold: Annotated[
        float, Query(gt=0, le=1, description="the cumulative share the vital few reach (default 0.8)")
    ] = analysis.VITAL_SHARE,
    process_key: ProcessKey = None,
    node_key: NodeKey = None,
    severity: Severity | None = None,
    category: Annotated[str | None, Query(max_length=200)] = None,
    owner_department: Annotated[
        str | None, Query(alias="department", max_length=200, description="owning department")
    ] = None,
) -> ComplaintPareto:
    """Complaints per category, root cause, process, node, department or severity, sorted by count with each row's
    share and cumulative share; the vital few are marked."""
    check_period(start, end)
    where = ComplaintFilter(
        severity=severity,
        process_key=process_key,
        node_key=node_key,
        category=category,
        owner_department=owner_department,
        start=start,
        end=end,
        sources=caller.sources,
    )
    return await metrics.complaint_pareto(session, where, by, threshold)


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
    tracking: TrackingDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    """Move a complaint along its workflow (who, when, why are recorded)."""

    async def transition() -> Answer:
        complaint = await service.transition(session, tracking, _settings(request), caller, complaint_id, data)
        _wake_sender(request, background)
        return Answer(status.HTTP_200_OK, complaint)

    return await idem.answer(transition, data)


@router.post("/{complaint_id}/transfers", response_model=ComplaintPublic)
async def transfer_complaint(
    complaint_id: uuid.UUID,
    data: ComplaintTransferCreate,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    idem: IdempotencyDep,
) -> Response:
    """Hand a complaint to another department or person (kept in its ownership history)."""

    async def transfer() -> Answer:
        complaint = await service.transfer(session, _settings(request), caller, complaint_id, data)
        return Answer(status.HTTP_200_OK, complaint)

    return await idem.answer(transfer, data)
