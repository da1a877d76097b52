"""`GET /internal/v1/complaints/resolution`: complaint first-contact resolution per owning department and
month, for evaluation-svc's KPI scorecards (docs/kpis.md). Read-only; the counts are those of
`GET /v1/complaints/metrics` (received in the period; resolved; resolved at first contact)."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pledge_common.db import SessionDep
from pledge_common.instants import Instant
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_svc.common import check_period, timezone_named

internal = APIRouter(prefix="/v1/complaints")


class ResolutionGroup(BaseModel):
    department: str
    period: str  # YYYY-MM in the asked time zone
    resolved: int
    first_contact_resolved: int


class ResolutionAnswer(BaseModel):
    groups: list[ResolutionGroup]


class ResolutionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_department_and_month(self, start: datetime, end: datetime, tz: str) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            text(
                """
                SELECT c.owner_department AS department,
                       to_char(c.received_at AT TIME ZONE :tz, 'YYYY-MM') AS period,
                       count(*) FILTER (WHERE c.resolved_at IS NOT NULL) AS resolved,
                       count(*) FILTER (
                           WHERE c.resolved_at IS NOT NULL AND c.transfers = 0 AND c.reopens = 0 AND NOT c.investigated
                       ) AS first_contact_resolved
                FROM complaints c
                WHERE c.received_at >= :start AND c.received_at < :end
                GROUP BY 1, 2 ORDER BY 1, 2
                """
            ),
            {"start": start, "end": end, "tz": tz},
        )
        return [dict(r) for r in rows.mappings()]


@internal.get("/resolution", response_model=ResolutionAnswer)
async def complaint_resolution(
    session: SessionDep,
    start: Annotated[Instant, Query(alias="from")],
    end: Annotated[Instant, Query(alias="to")],
    tz: Annotated[str, Query(max_length=64)] = "UTC",
) -> ResolutionAnswer:
    check_period(start, end)
    zone = timezone_named(tz)
    rows = await ResolutionRepository(session).by_department_and_month(start, end, zone)
    return ResolutionAnswer(groups=[ResolutionGroup.model_validate(r) for r in rows])
