"""Complaint metrics: counts in SQL, rates by pure division, ticket counts from tracking-svc."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from feedback_svc import judgments
from feedback_svc.clients import EvaluationClient, TrackingClient
from feedback_svc.common import rate
from feedback_svc.complaints import analysis
from feedback_svc.complaints.repository import ComplaintFilter, ComplaintRepository
from feedback_svc.complaints.schemas import (
    ComplaintMetrics,
    ComplaintPareto,
    MetricsRow,
    ParetoRow,
    ProcessRate,
)


def metrics_row(counts: dict[str, Any], group_by: str) -> MetricsRow:
    group = counts.get("grp")
    return MetricsRow(
        period=group if group_by == "period" else None,
        process_key=group if group_by == "process" else None,
        node_key=group if group_by == "node" else None,
        severity=group if group_by == "severity" else None,
        category=group if group_by == "category" else None,
        root_cause=group if group_by == "root_cause" else None,
        department=group if group_by == "department" else None,
        received=counts["received"],
        closed=counts["closed"],
        closure_rate=rate(counts["closed"], counts["received"]),
        resolved=counts["resolved"],
        first_contact_resolved=counts["first_contact_resolved"],
        first_contact_resolution_rate=rate(counts["first_contact_resolved"], counts["resolved"]),
        reopened=counts["reopened"],
        reopen_rate=rate(counts["reopened"], counts["resolved"]),
        repeats=counts["repeats"],
        repeat_rate=analysis.repeat_rate(counts["received"], counts["repeats"]),
        judged=counts["judged"],
        on_time=counts["on_time"],
        on_time_rate=rate(counts["on_time"], counts["judged"]),
    )


def per_thousand(complaints: int, tickets: int | None) -> float | None:
    return round(1000.0 * complaints / tickets, 2) if tickets else None


async def complaint_metrics(
    session: AsyncSession,
    tracking: TrackingClient,
    evaluation: EvaluationClient,
    where: ComplaintFilter,
    group_by: str,
    bucket: str,
    tz: str,
) -> ComplaintMetrics:
    repository = ComplaintRepository(session)
    await judgments.refresh(session, evaluation, await repository.judged_ticket_ids_missing(where))
    empty = {
        k: 0
        for k in (
            "received",
            "closed",
            "resolved",
            "first_contact_resolved",
            "reopened",
            "repeats",
            "judged",
            "on_time",
        )
    }
    totals = await repository.metrics(where, "none", bucket, tz)
    groups = await repository.metrics(where, group_by, bucket, tz) if group_by != "none" else []
    rates = []
    for process_key, complaints in await repository.complaints_by_process(where):
        tickets = await tracking.count_tickets(process_key, where.start, where.end, where.sources)
        rates.append(
            ProcessRate(
                process_key=process_key,
                complaints=complaints,
                tickets=tickets,
                per_1000_tickets=per_thousand(complaints, tickets),
            )
        )
    return ComplaintMetrics(
        start=where.start,
        end=where.end,
        group_by=group_by,  # type: ignore[arg-type]
        bucket=bucket,
        timezone=tz,
        totals=metrics_row(totals[0] if totals else empty, "none"),
        groups=[metrics_row(g, group_by) for g in groups],
        per_1000_tickets=rates,
    )


async def complaint_pareto(session: AsyncSession, where: ComplaintFilter, by: str, threshold: float) -> ComplaintPareto:
    counts = await ComplaintRepository(session).counts_by(where, by)
    items = analysis.pareto(counts, threshold)
    return ComplaintPareto(
        by=by,  # type: ignore[arg-type]
        start=where.start,
        end=where.end,
        threshold=threshold,
        total=sum(i.count for i in items),
        rows=[
            ParetoRow(key=i.key, count=i.count, share=i.share, cumulative_share=i.cumulative_share, vital=i.vital)
            for i in items
        ],
    )
