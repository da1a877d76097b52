"""All SQL of surveys. Flushes, never commits."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from feedback_svc.common import owner_clause
from feedback_svc.surveys.models import SurveyAnswer, SurveyImportance, SurveyInstrument, SurveyItem, SurveyResponse


@dataclass(frozen=True, slots=True)
class ResponseFilter:
    instrument_key: str
    start: datetime | None = None
    end: datetime | None = None
    segment: str | None = None
    process_key: str | None = None
    caller_sources: frozenset[str] | None = None  # a partner bound to sources: the responses it sent

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses = ["sr.instrument_key = :instrument_key"]
        params: dict[str, Any] = {"instrument_key": self.instrument_key}
        owned = owner_clause("sr.sources", self.caller_sources, params)
        if owned is not None:
            clauses.append(owned)
        if self.start is not None:
            clauses.append("sr.responded_at >= :start")
            params["start"] = self.start
        if self.end is not None:
            clauses.append("sr.responded_at < :end")
            params["end"] = self.end
        for column in ("segment", "process_key"):
            if getattr(self, column) is not None:
                clauses.append(f"sr.{column} = :{column}")
                params[column] = getattr(self, column)
        return " AND ".join(clauses), params


class SurveyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def instruments(self, after: tuple[bool, str] | None, limit: int) -> list[tuple[SurveyInstrument, int]]:
        """Instruments with their item counts, built-in ones first then by key (unique), after the sort key
        `after` (`(not builtin, key)` of the last row of the previous page)."""
        rows = await self.session.execute(
            text(
                "SELECT i.key, count(it.item_key) AS n FROM survey_instruments i"
                " LEFT JOIN survey_items it ON it.instrument_key = i.key"
                " WHERE CAST(:custom AS boolean) IS NULL"
                " OR (NOT i.builtin, i.key) > (CAST(:custom AS boolean), CAST(:key AS text))"
                " GROUP BY i.key ORDER BY NOT i.builtin, i.key LIMIT :limit"
            ),
            {"custom": after[0] if after else None, "key": after[1] if after else None, "limit": limit},
        )
        counts = {r.key: r.n for r in rows}
        found = await self.session.execute(select(SurveyInstrument).where(col(SurveyInstrument.key).in_(counts)))
        by_key = {i.key: i for i in found.scalars()}
        return [(by_key[k], n) for k, n in counts.items()]

    async def instrument(self, key: str) -> SurveyInstrument | None:
        return await self.session.get(SurveyInstrument, key)

    async def items(self, key: str) -> list[SurveyItem]:
        rows = await self.session.execute(
            select(SurveyItem).where(col(SurveyItem.instrument_key) == key).order_by(col(SurveyItem.position))
        )
        return list(rows.scalars())

    async def add_instrument(self, instrument: SurveyInstrument, items: Sequence[SurveyItem]) -> bool:
        """False (nothing written) when the key is taken."""
        inserted = await self.session.execute(
            insert(SurveyInstrument)
            .values(**instrument.model_dump())
            .on_conflict_do_nothing()
            .returning(col(SurveyInstrument.key))
        )
        if inserted.scalar_one_or_none() is None:
            return False
        await self.session.execute(insert(SurveyItem).values([i.model_dump() for i in items]))
        return True

    async def add_response(
        self, response: SurveyResponse, answers: Sequence[SurveyAnswer], importance: Sequence[SurveyImportance]
    ) -> None:
        self.session.add(response)
        await self.session.flush()
        await self.session.execute(insert(SurveyAnswer).values([a.model_dump() for a in answers]))
        if importance:
            await self.session.execute(insert(SurveyImportance).values([i.model_dump() for i in importance]))

    async def results(
        self, where: ResponseFilter, group_by: str, bucket: str, tz: str
    ) -> tuple[list[Any], list[Any], list[Any]]:
        """(per group, per group and dimension, per group and item) rows: three statements."""
        clause, params = where.where()
        params.update(bucket=bucket, tz=tz)
        group = {
            "segment": "sr.segment",
            "period": "date_trunc(:bucket, sr.responded_at AT TIME ZONE :tz) AT TIME ZONE :tz",
            "none": "NULL::text",
        }[group_by]
        ctes = f"""
            WITH r AS (SELECT sr.id, {group} AS grp FROM survey_responses sr WHERE {clause}),
            rd AS (
                SELECT a.response_id, a.dimension,
                       avg(a.perception - a.expectation)::float8 AS gap,
                       avg(a.expectation)::float8 AS expectation,
                       avg(a.perception)::float8 AS perception
                FROM survey_answers a JOIN r ON r.id = a.response_id
                WHERE NOT a.skipped
                GROUP BY a.response_id, a.dimension
            ),
            rw AS (
                SELECT rd.response_id,
                       avg(rd.gap) AS unweighted,
                       sum(rd.gap * i.points) / NULLIF(sum(i.points), 0) AS weighted
                FROM rd LEFT JOIN survey_importance i ON i.response_id = rd.response_id AND i.dimension = rd.dimension
                GROUP BY rd.response_id
            )
        """
        totals = await self.session.execute(
            text(
                ctes + "SELECT r.grp, count(*) AS responses, avg(rw.unweighted) AS servqual,"
                " avg(rw.weighted) AS servqual_weighted, count(rw.weighted) AS weighted_responses"
                " FROM r LEFT JOIN rw ON rw.response_id = r.id GROUP BY 1 ORDER BY 1 NULLS FIRST"
            ),
            params,
        )
        dimensions = await self.session.execute(
            text(
                ctes + "SELECT r.grp, rd.dimension, count(*) AS responses, avg(rd.expectation) AS expectation,"
                " avg(rd.perception) AS perception, avg(rd.gap) AS gap, avg(i.points)::float8 AS importance"
                " FROM rd JOIN r ON r.id = rd.response_id"
                " LEFT JOIN survey_importance i ON i.response_id = rd.response_id AND i.dimension = rd.dimension"
                " GROUP BY 1, 2 ORDER BY 1 NULLS FIRST, 2"
            ),
            params,
        )
        items = await self.session.execute(
            text(
                ctes + "SELECT r.grp, a.item_key, a.dimension, min(it.position) AS position,"
                " count(*) FILTER (WHERE NOT a.skipped) AS answered, count(*) FILTER (WHERE a.skipped) AS skipped,"
                " avg(a.expectation)::float8 AS expectation, avg(a.perception)::float8 AS perception,"
                " avg(a.perception - a.expectation)::float8 AS gap"
                " FROM survey_answers a JOIN r ON r.id = a.response_id"
                " LEFT JOIN survey_items it ON it.instrument_key = :instrument_key AND it.item_key = a.item_key"
                " GROUP BY 1, 2, 3 ORDER BY 1 NULLS FIRST, 4"
            ),
            params,
        )
        return list(totals), list(dimensions), list(items)
