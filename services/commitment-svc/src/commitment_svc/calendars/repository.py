from collections.abc import Sequence
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from commitment_svc.calendars.models import CalendarDay, CalendarRow


class CalendarRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: str, *, for_update: bool = False) -> CalendarRow | None:
        statement = select(CalendarRow).where(CalendarRow.key == key)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(self, after: str | None, limit: int) -> Sequence[CalendarRow]:
        statement = select(CalendarRow).order_by(col(CalendarRow.key)).limit(limit)
        if after is not None:
            statement = statement.where(col(CalendarRow.key) > after)
        return (await self.session.execute(statement)).scalars().all()

    async def days_of(self, keys: Sequence[str]) -> dict[str, dict[date, str]]:
        rows = await self.session.execute(
            select(CalendarDay)
            .where(col(CalendarDay.calendar_key).in_(list(keys)))
            .order_by(col(CalendarDay.day))
            .execution_options(populate_existing=True)
        )
        out: dict[str, dict[date, str]] = {k: {} for k in keys}
        for day in rows.scalars().all():
            out[day.calendar_key][day.day] = day.kind
        return out

    async def add(self, calendar: CalendarRow) -> None:
        self.session.add(calendar)
        await self.session.flush()

    async def replace_days(self, key: str, holidays: Sequence[date], working: Sequence[date]) -> None:
        await self.session.execute(text("DELETE FROM calendar_days WHERE calendar_key = :k"), {"k": key})
        await self.merge_days(key, [(d, "holiday", None) for d in holidays] + [(d, "working", None) for d in working])

    async def merge_days(self, key: str, days: Sequence[tuple[date, str, str | None]]) -> None:
        """Insert or overwrite dates, set-based (one statement whatever the number of dates)."""
        if not days:
            return
        await self.session.execute(
            text(
                "INSERT INTO calendar_days (calendar_key, day, kind, label)"
                " SELECT :k, d, kind, label FROM unnest(CAST(:days AS date[]), CAST(:kinds AS text[]),"
                " CAST(:labels AS text[])) AS u(d, kind, label)"
                " ON CONFLICT (calendar_key, day) DO UPDATE SET kind = EXCLUDED.kind, label = EXCLUDED.label"
            ),
            {
                "k": key,
                "days": [d for d, _, _ in days],
                "kinds": [k for _, k, _ in days],
                "labels": [label for _, _, label in days],
            },
        )

    async def delete(self, calendar: CalendarRow) -> None:
        await self.session.delete(calendar)
        await self.session.flush()

    async def references(self, key: str) -> list[str]:
        rows = await self.session.execute(
            text(
                "SELECT 'commitment ' || commitment_key || ' v' || version FROM commitment_versions"
                " WHERE calendar_key = :k ORDER BY 1 LIMIT 20"
            ),
            {"k": key},
        )
        return list(rows.scalars().all())
