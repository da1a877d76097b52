"""SQL of re-judging: the judged runs a version may take over, and the record of each act."""

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.rejudge.rules import JudgedRun

RUN_FIELDS = (
    "run_id", "kind", "ticket_id", "source", "external_id", "process_key", "node_key", "segment", "started_at",
    "ended_at", "before_commitment_key", "before_version", "before_state", "before_counted_seconds",
    "after_commitment_key", "after_version", "after_state", "after_counted_seconds",
)  # fmt: skip
_RUN_TYPES = (
    "text", "text", "text", "text", "text", "text", "text", "text", "timestamptz", "timestamptz", "text", "integer",
    "text", "double precision", "text", "integer", "text", "double precision",
)  # fmt: skip


class RejudgeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def judged_runs_since(
        self, process_key: str, node_key: str | None, segment_key: str, start: datetime
    ) -> list[JudgedRun]:
        """Judged runs of the version's subject started at or after `start` (of any segment when the version
        is the `default` segment's, which governs segments without a version of their own)."""
        rows = await self.session.execute(
            text(
                """
                SELECT id, process_key, node_key, segment, started_at, commitment_id FROM node_runs
                WHERE process_key = :p AND node_key IS NOT DISTINCT FROM CAST(:n AS text) AND started_at >= :f
                  AND commitment_id IS NOT NULL AND (CAST(:s AS text) = 'default' OR segment = :s)
                ORDER BY id
                """
            ),
            {"p": process_key, "n": node_key, "s": segment_key, "f": start},
        )
        return [JudgedRun(r.id, r.process_key, r.node_key, r.segment, r.started_at, r.commitment_id) for r in rows]

    async def version_numbers(self, ids: Iterable[str]) -> dict[str, tuple[str, int]]:
        """(commitment key, version number) of stored versions."""
        rows = await self.session.execute(
            text("SELECT id, commitment_key, version FROM ref_commitments WHERE id = ANY(:i)"), {"i": sorted(set(ids))}
        )
        return {r.id: (r.commitment_key, r.version) for r in rows}

    async def record(self, act: Mapping[str, Any], runs: Sequence[Mapping[str, Any]]) -> bool:
        """Store an act and the runs it re-judged; False when it was stored already (nothing written)."""
        inserted = await self.session.execute(
            text(
                """
                INSERT INTO rejudgements (id, commitment_key, version_id, version, effective_from, requested_by,
                                          requested_at, reason, runs_expected, runs, applied_at)
                VALUES (:id, :commitment_key, :version_id, :version, :effective_from, :requested_by, :requested_at,
                        :reason, :runs_expected, :runs, :applied_at)
                ON CONFLICT (id) DO NOTHING RETURNING id
                """
            ),
            dict(act),
        )
        if inserted.first() is None:
            return False
        if runs:
            columns = ", ".join(RUN_FIELDS)
            await self.session.execute(
                text(
                    f"""
                    INSERT INTO rejudged_runs (rejudgement_id, {columns})
                    SELECT :id, {columns} FROM jsonb_to_recordset(CAST(:rows AS jsonb))
                         AS x({", ".join(f"{n} {t}" for n, t in zip(RUN_FIELDS, _RUN_TYPES, strict=True))})
                    """
                ),
                {"id": act["id"], "rows": json.dumps([dict(r) for r in runs], default=_json_default)},
            )
        return True

    async def acts(
        self, commitment_key: str | None, after: tuple[datetime, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        """Acts, newest first (with the number of runs per change of state)."""
        rows = await self.session.execute(
            text(
                """
                SELECT * FROM rejudgements
                WHERE (CAST(:k AS text) IS NULL OR commitment_key = :k)
                  AND (CAST(:t AS timestamptz) IS NULL OR (requested_at, id) < (:t, :i))
                ORDER BY requested_at DESC, id DESC LIMIT :limit
                """
            ),
            {"k": commitment_key, "t": after[0] if after else None, "i": after[1] if after else None, "limit": limit},
        )
        return [dict(r) for r in rows.mappings()]

    async def act(self, id_: str) -> dict[str, Any] | None:
        row = (await self.session.execute(text("SELECT * FROM rejudgements WHERE id = :i"), {"i": id_})).mappings()
        found = row.first()
        return None if found is None else dict(found)

    async def state_changes(self, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Per act: how many runs went from each state to each state."""
        rows = await self.session.execute(
            text(
                """
                SELECT rejudgement_id, before_state, after_state, count(*) AS runs FROM rejudged_runs
                WHERE rejudgement_id = ANY(:i) GROUP BY 1, 2, 3 ORDER BY 1, 4 DESC, 2, 3
                """
            ),
            {"i": list(ids)},
        )
        changes: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            changes.setdefault(r.rejudgement_id, []).append(
                {"before_state": r.before_state, "after_state": r.after_state, "runs": r.runs}
            )
        return changes

    async def runs(
        self, id_: str, after: tuple[datetime, str] | None, limit: int, sources: frozenset[str] | None
    ) -> list[dict[str, Any]]:
        """The runs an act re-judged, by start then id (only of the caller's source systems)."""
        rows = await self.session.execute(
            text(
                """
                SELECT * FROM rejudged_runs
                WHERE rejudgement_id = :id AND (CAST(:all AS boolean) OR source = ANY(:sources))
                  AND (CAST(:t AS timestamptz) IS NULL OR (started_at, run_id) > (:t, :r))
                ORDER BY started_at, run_id LIMIT :limit
                """
            ),
            {
                "id": id_,
                "all": sources is None,
                "sources": sorted(sources or ()),
                "t": after[0] if after else None,
                "r": after[1] if after else None,
                "limit": limit,
            },
        )
        return [dict(r) for r in rows.mappings()]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")
