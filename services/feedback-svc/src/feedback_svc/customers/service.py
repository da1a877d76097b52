"""Customer facts: events accepted once each, churn per period, pain points per customer."""

import uuid
from datetime import datetime, timedelta

from pledge_common.identity import Caller
from pledge_common.pagination import decode_cursor, encode_cursor
from pledge_common.problems import Conflict, invalid
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_svc.clients import EvaluationClient, UpstreamRejected, UpstreamUnavailable
from feedback_svc.common import utcnow
from feedback_svc.customers import rules
from feedback_svc.customers.models import CustomerEvent
from feedback_svc.customers.repository import CustomerRepository
from feedback_svc.customers.schemas import (
    ChurnReport,
    ChurnRow,
    CustomerEventCreate,
    CustomerEventPublic,
    PainCategory,
    PainPoint,
    PainPointsPage,
)

MAX_PERIODS = 120
CLOCK_SKEW = timedelta(minutes=2)


def _public(e: CustomerEvent) -> CustomerEventPublic:
    return CustomerEventPublic(
        id=e.id,
        source=e.source,
        external_id=e.external_id,
        customer_ref=e.customer_ref,
        type=e.type,  # type: ignore[arg-type]
        at=e.at,
        plan=e.plan,
    )


async def record(session: AsyncSession, caller: Caller, data: CustomerEventCreate) -> tuple[bool, CustomerEventPublic]:
    """(created, the event): the same (source, external_id) again answers the stored event; with other
    content it is a conflict."""
    if data.at > utcnow() + CLOCK_SKEW:
        raise invalid("body.at", "is in the future")
    if caller.sources is not None and data.source not in caller.sources:
        raise invalid("body.source", "a caller bound to source systems reports events of its own sources only")
    event = CustomerEvent(
        id=uuid.uuid4(),
        source=data.source,
        external_id=data.external_id,
        customer_ref=data.customer_ref,
        type=data.type,
        at=data.at,
        plan=data.plan,
        created_at=utcnow(),
    )
    stored = await CustomerRepository(session).add_once(event)
    if stored.id == event.id:
        return True, _public(stored)
    same = (stored.customer_ref, stored.type, stored.at, stored.plan) == (
        data.customer_ref,
        data.type,
        data.at,
        data.plan,
    )
    if not same:
        raise Conflict(f"body.external_id: {data.source}/{data.external_id} was sent before with other content")
    return False, _public(stored)


def _periods(start: datetime, end: datetime, bucket: str) -> int:
    days = (end - start).days
    return days // {"day": 1, "week": 7, "month": 28}[bucket] + 1


async def churn(
    session: AsyncSession, caller: Caller, start: datetime, end: datetime, bucket: str, tz: str
) -> ChurnReport:
    if _periods(start, end, bucket) > MAX_PERIODS:
        raise invalid("query.to", f"at most {MAX_PERIODS} periods; narrow the window or widen the bucket")
    rows = await CustomerRepository(session).churn(start, end, bucket, tz, caller.sources)
    return ChurnReport(
        start=start,
        end=end,
        bucket=bucket,
        timezone=tz,
        periods=[
            ChurnRow(
                period=r["period"],
                active_at_start=r["active_at_start"],
                left=r["left"],
                joined=r["joined"],
                churn_rate=rules.churn_rate(r["active_at_start"], r["left"]),
            )
            for r in rows
        ],
    )


async def warning_runs(
    evaluation: EvaluationClient, caller: Caller, start: datetime | None, end: datetime | None
) -> tuple[dict[str, int] | None, str | None]:
    """Warning runs per customer over [start, end), or None and why they are not known."""
    if start is None or end is None:
        return None, "read over a period only: give `from` and `to`"
    try:
        found = await evaluation.warning_runs(start, end, sources=caller.sources)
    except (UpstreamUnavailable, UpstreamRejected) as err:
        return None, str(err)
    if not found.complete:
        return None, f"more than {len(found.customers)} warning runs in the period: narrow it"
    return rules.warning_runs_per_customer(found.customers), None


async def pain_points(
    session: AsyncSession,
    evaluation: EvaluationClient,
    caller: Caller,
    start: datetime | None,
    end: datetime | None,
    customer_ref: str | None,
    cursor: str | None,
    limit: int,
) -> PainPointsPage:
    after = decode_cursor(cursor, int, str, field="query.cursor")
    warnings, why_not = await warning_runs(evaluation, caller, start, end)
    rows = await CustomerRepository(session).pain_points(
        start,
        end,
        customer_ref,
        caller.sources,
        after,  # type: ignore[arg-type]
        limit + 1,
        warnings,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        PainPoint(
            customer_ref=r["customer_ref"],
            index=rules.pain_index(
                r["complaints"], r["repeats"], r["low_csat"], None if warnings is None else r["warning_runs"]
            ),
            complaints=r["complaints"],
            repeats=r["repeats"],
            low_csat=r["low_csat"],
            warning_runs=None if warnings is None else r["warning_runs"],
            by_category=[PainCategory.model_validate(c) for c in r["by_category"]],
        )
        for r in rows
    ]
    return PainPointsPage(
        items=items,
        next_cursor=encode_cursor(rows[-1]["idx"], rows[-1]["customer_ref"]) if more else None,
        unavailable={} if why_not is None else {"warning_runs": why_not},
    )
