"""SQL of the insights: exact counted-time statistics of completed runs. Never commits."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.reports.repository import DAWN, DUSK, ReportFilter, Window

_NULLABLE = frozenset({"node_key", "department", "position", "commitment_id", "commitment_key"})


def _column(name: str) -> str:
    return f"coalesce(r.{name}, '')" if name in _NULLABLE else f"r.{name}"


# the completed runs whose counted time the statistics read: as the achievement report's percentiles
# (completed, not exempted, ended in the period up to its as-of instant, started before its end)
_COMPLETED = """
    r.final_state LIKE 'completed%' AND NOT r.exempted AND r.counted_seconds IS NOT NULL
    AND r.commitment_id = ANY(:ids) AND r.ended_at >= :p_from AND r.ended_at <= :t AND r.started_at < :p_to
"""


@dataclass(frozen=True, slots=True)
class DurationFigures:
    """Exact figures of the counted times of one version's completed runs (seconds)."""

    completed: int
    mean: float
    percentiles: tuple[float, ...]  # at the fractions asked, nearest rank (percentile_disc)


class InsightsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _params(self, window: Window, flt: ReportFilter, ids: Sequence[str]) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {
            "ids": list(ids),
            "p_from": window.start or DAWN,
            "p_to": window.end or DUSK,
            "t": window.as_of,
        }
        return flt.sql(_column, params), params

    async def duration_figures(
        self, window: Window, flt: ReportFilter, ids: Sequence[str], fractions: Sequence[float]
    ) -> dict[str, DurationFigures]:
        """Per commitment version: count, mean and exact percentiles of counted time, in one statement."""
        if not ids:
            return {}
        where, params = self._params(window, flt, ids)
        params["q"] = list(fractions)
        rows = await self.session.execute(
            text(
                f"""
                SELECT r.commitment_id, count(*) AS n, avg(r.counted_seconds) AS mean,
                       percentile_disc(CAST(:q AS double precision[])) WITHIN GROUP (ORDER BY r.counted_seconds) AS p
                FROM node_runs r WHERE {_COMPLETED} AND {where}
                GROUP BY r.commitment_id
                """
            ),
            params,
        )
        return {r.commitment_id: DurationFigures(r.n, float(r.mean), tuple(r.p)) for r in rows}

    async def completed_runs(
        self, window: Window, flt: ReportFilter, ids: Sequence[str], limit: int
    ) -> dict[str, list[tuple[datetime, float]]]:
        """(start, counted seconds) of the completed runs of these versions (business-day suggestions)."""
        if not ids:
            return {}
        where, params = self._params(window, flt, ids)
        params["limit"] = limit
        rows = await self.session.execute(
            text(
                f"""
                SELECT r.commitment_id, r.started_at, r.counted_seconds FROM node_runs r
                WHERE {_COMPLETED} AND {where} LIMIT :limit
                """
            ),
            params,
        )
        out: dict[str, list[tuple[datetime, float]]] = {}
        for r in rows:
            out.setdefault(r.commitment_id, []).append((r.started_at, r.counted_seconds))
        return out
