"""Replaying stored runs under other rules (a proposed version, an agreement's exemptions), in memory.

Replays read rows, not rollups, so they are bounded by EVALUATION_REPLAY_MAX_RUNS.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pledge_common.problems import invalid
from pledge_deadlines import Calendar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.readmodel.repository import ReadModelRepository, RunRow, run_row_from_db
from evaluation_svc.reports.repository import ReportFilter, ReportRepository, Window
from evaluation_svc.rules import CommitmentVersion, calendar_from_payload, judge, state_as_of


@dataclass(frozen=True, slots=True)
class Replayed:
    row: RunRow
    actual: str | None  # state as of the window's instant, as judged and stored
    replayed: str | None  # state under the replayed rules


async def load_runs(
    session: AsyncSession, window: Window, flt: ReportFilter, max_runs: int, field: str = "query.to"
) -> list[RunRow]:
    rows = await ReportRepository(session).runs_for_replay(window, flt, max_runs + 1)
    if len(rows) > max_runs:
        raise invalid(field, f"more than {max_runs} runs to replay: narrow the period or the filters")
    return [run_row_from_db(r) for r in rows]


async def calendars_by_key(session: AsyncSession, keys: Iterable[str | None]) -> dict[str, Calendar]:
    stored = await ReadModelRepository(session).calendars({k for k in keys if k})
    return {k: calendar_from_payload(v) for k, v in stored.items()}


async def versions_by_id(session: AsyncSession, ids: Iterable[str | None]) -> dict[str, CommitmentVersion]:
    versions = await ReadModelRepository(session).commitment_versions({i for i in ids if i})
    return {v.id: v for v in versions}


async def latest_version(session: AsyncSession, commitment_key: str) -> CommitmentVersion | None:
    row = (
        await session.execute(
            text(
                "SELECT id FROM ref_commitments WHERE commitment_key = :k AND status IN ('active', 'retired') "
                "ORDER BY (status = 'active') DESC, version DESC LIMIT 1"
            ),
            {"k": commitment_key},
        )
    ).first()
    if row is None:
        return None
    return (await versions_by_id(session, [row.id]))[row.id]


def stored_state(row: RunRow, t: datetime) -> str | None:
    return state_as_of(
        t,
        started_at=row.facts.started_at,
        ended_at=row.facts.ended_at,
        final_state=row.final_state,
        commitment_id=row.commitment_id,
        commitment_due_at=row.commitment_due_at,
        tolerance_due_at=row.tolerance_due_at,
    )


def replay(
    rows: Iterable[RunRow],
    t: datetime,
    version_of: Mapping[str, CommitmentVersion],
    calendars: Mapping[str, Calendar],
    *,
    overrides: Mapping[str, Any] | None = None,
    calendar_override: Calendar | None = None,
    extra_pause_reasons: frozenset[str] = frozenset(),
) -> list[Replayed]:
    """Each run's stored state as of t beside its state under its version changed by `overrides`."""
    out = []
    for row in rows:
        actual = stored_state(row, t)
        version = version_of.get(row.commitment_id or "")
        if version is None:
            out.append(Replayed(row, actual, actual))
            continue
        if overrides:
            version = replace(version, **overrides)
        calendar = calendar_override or calendars.get(version.calendar_key or "")
        if calendar is None and version.calendar_key in (None, "24x7"):
            calendar = Calendar.always()
        try:
            j = judge(row.facts, version, calendar, extra_pause_reasons=extra_pause_reasons)
        except (ValueError, TypeError, OverflowError) as err:
            raise invalid("commitment_limit", f"the proposed rules cannot judge run {row.facts.id}: {err}") from None
        state = state_as_of(
            t,
            started_at=row.facts.started_at,
            ended_at=row.facts.ended_at,
            final_state=j.final_state,
            commitment_id=j.commitment_id,
            commitment_due_at=j.commitment_due_at,
            tolerance_due_at=j.tolerance_due_at,
        )
        out.append(Replayed(row, actual, state))
    return out
