"""feedback-svc's cache of evaluation-svc's judgments of the tickets it reads satisfaction against.

Judgments come from evaluation-svc's API (never its tables). A ticket whose node runs have all ended
keeps its cached judgments; a ticket with runs in progress is asked again next time.
"""

import asyncio
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_svc.clients import EvaluationClient
from feedback_svc.clients.evaluation import NodeJudgment

MAX_CONCURRENT_FETCHES = 8


async def tickets_to_refresh(session: AsyncSession, ticket_ids: Sequence[str]) -> list[str]:
    """Those of `ticket_ids` without judgments, or with a judgment that is not final yet."""
    if not ticket_ids:
        return []
    rows = await session.execute(
        text(
            "SELECT t FROM unnest(CAST(:ids AS text[])) AS u(t)"
            " WHERE NOT EXISTS (SELECT 1 FROM ticket_judgments j WHERE j.ticket_id = u.t)"
            "    OR EXISTS (SELECT 1 FROM ticket_judgments j WHERE j.ticket_id = u.t AND NOT j.final)"
        ),
        {"ids": list(dict.fromkeys(ticket_ids))},
    )
    return [r[0] for r in rows]


async def store(session: AsyncSession, ticket_ids: Sequence[str], judgments: Sequence[NodeJudgment]) -> None:
    """Replace the cached judgments of `ticket_ids` (two statements for any number of tickets)."""
    await session.execute(
        text("DELETE FROM ticket_judgments WHERE ticket_id = ANY(CAST(:ids AS text[]))"), {"ids": list(ticket_ids)}
    )
    if not judgments:
        return
    await session.execute(
        text(
            "INSERT INTO ticket_judgments (ticket_id, node_key, cycle, state, counted_seconds, commitment_seconds,"
            " tolerance_seconds, department, final)"
            " SELECT * FROM unnest(CAST(:t AS text[]), CAST(:n AS text[]), CAST(:c AS integer[]), CAST(:s AS text[]),"
            " CAST(:cs AS float8[]), CAST(:ms AS float8[]), CAST(:ts AS float8[]), CAST(:d AS text[]),"
            " CAST(:f AS boolean[]))"
            " ON CONFLICT (ticket_id, node_key, cycle) DO UPDATE SET state = EXCLUDED.state,"
            " counted_seconds = EXCLUDED.counted_seconds, final = EXCLUDED.final, fetched_at = now()"
        ),
        {
            "t": [j.ticket_id for j in judgments],
            "n": [j.node_key for j in judgments],
            "c": [j.cycle for j in judgments],
            "s": [j.state for j in judgments],
            "cs": [j.counted_seconds for j in judgments],
            "ms": [j.commitment_seconds for j in judgments],
            "ts": [j.tolerance_seconds for j in judgments],
            "d": [j.department for j in judgments],
            "f": [j.final for j in judgments],
        },
    )


async def refresh(session: AsyncSession, evaluation: EvaluationClient, ticket_ids: Sequence[str]) -> None:
    """Ask evaluation-svc for the tickets whose judgments are missing or not final, and cache them."""
    stale = await tickets_to_refresh(session, ticket_ids)
    if not stale:
        return
    limit = asyncio.Semaphore(MAX_CONCURRENT_FETCHES)

    async def fetch(ticket_id: str) -> list[NodeJudgment]:
        async with limit:
            return await evaluation.ticket_judgments(ticket_id)

    results = await asyncio.gather(*(fetch(t) for t in stale))
    await store(session, stale, [j for judged in results for j in judged])
