"""Re-judging under a back-dated commitment version: the preview commitment-svc asks for, and the act.

commitment-svc owns versions; this service owns judgments. Before a version starting in the past is put in
force, commitment-svc asks `preview`: which judged runs would change their governing version. The answer
is computed by really re-judging them inside a savepoint that is then rolled back, so it is exactly what
the act would do. When the caller asks to re-judge, commitment-svc puts a `rejudgement.requested` event on
its feed (before the versions' own events, with the versions as they are after the change); `apply` then
re-judges those runs and records the act, run by run, in the same transaction as its cursor.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from pledge_common.outbox import FeedEvent
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.readmodel.repository import ReadModelRepository, RunRow
from evaluation_svc.readmodel.service import Projection
from evaluation_svc.rejudge.repository import RejudgeRepository
from evaluation_svc.rejudge.rules import runs_changing_version
from evaluation_svc.rules import CommitmentVersion, parse_instant, state_as_of
from evaluation_svc.upstream import RejudgementIn, decode

log = logging.getLogger("evaluation.rejudge")
REQUESTED = "rejudgement.requested"


@dataclass(frozen=True, slots=True)
class Judged:
    commitment_key: str | None
    version: int | None
    state: str | None
    counted_seconds: float | None


@dataclass(frozen=True, slots=True)
class RunChange:
    """One run whose governing version changes: its judgment before and after."""

    row: RunRow
    before: Judged
    after: Judged

    def record(self) -> dict[str, Any]:
        f = self.row.facts
        return {
            "run_id": f.id,
            "kind": f.kind,
            "ticket_id": f.ticket_id,
            "source": f.source,
            "external_id": f.external_id,
            "process_key": f.process_key,
            "node_key": f.node_key,
            "segment": f.segment,
            "started_at": f.started_at,
            "ended_at": f.ended_at,
            "before_commitment_key": self.before.commitment_key,
            "before_version": self.before.version,
            "before_state": self.before.state,
            "before_counted_seconds": self.before.counted_seconds,
            "after_commitment_key": self.after.commitment_key,
            "after_version": self.after.version,
            "after_state": self.after.state,
            "after_counted_seconds": self.after.counted_seconds,
        }


def _state(row: RunRow, now: datetime) -> str | None:
    return state_as_of(
        now,
        started_at=row.facts.started_at,
        ended_at=row.facts.ended_at,
        final_state=row.final_state,
        commitment_id=row.commitment_id,
        commitment_due_at=row.commitment_due_at,
        tolerance_due_at=row.tolerance_due_at,
    )


async def rejudge_runs(
    session: AsyncSession,
    projection: Projection,
    versions: Sequence[CommitmentVersion],
    subject: CommitmentVersion,
    now: datetime,
) -> list[RunChange]:
    """Put `versions` in the read model and re-judge the judged runs whose governing version that changes
    (those started since `subject` starts); their judgments before and after, by start."""
    if subject.effective_from is None:
        return []
    readmodel = ReadModelRepository(session)
    await readmodel.upsert_commitments(versions)
    repo = RejudgeRepository(session)
    candidates = await repo.judged_runs_since(
        subject.process_key, subject.node_key, subject.segment_key, subject.effective_from
    )
    if not candidates:
        return []
    in_force = await readmodel.commitments_for({subject.process_key})
    ids = runs_changing_version(candidates, in_force)
    if not ids:
        return []
    before = await readmodel.runs(ids)  # locks them, in id order
    await projection.rejudge(session, ids)
    after = await readmodel.runs(ids)
    numbers = await repo.version_numbers(
        [r.commitment_id for r in (*before.values(), *after.values()) if r.commitment_id is not None]
    )

    def judged(row: RunRow) -> Judged:
        key, number = numbers.get(row.commitment_id or "", (row.commitment_key, None))
        return Judged(key, number, _state(row, now), row.counted_seconds)

    changes = [RunChange(after[i], judged(before[i]), judged(after[i])) for i in ids if i in before and i in after]
    changes.sort(key=lambda c: (c.row.facts.started_at or now, c.row.facts.id))
    return changes


def _versions(version: dict[str, Any], superseded: Sequence[dict[str, Any]]) -> list[CommitmentVersion]:
    """The payloads as versions (ValueError/KeyError/TypeError when malformed)."""
    return [CommitmentVersion.from_payload(p) for p in (*superseded, version)]


async def preview(
    session: AsyncSession, projection: Projection, version: dict[str, Any], superseded: Sequence[dict[str, Any]]
) -> list[RunChange]:
    """What putting these versions in force would change, with nothing kept."""
    versions = _versions(version, superseded)
    savepoint = await session.begin_nested()
    try:
        return await rejudge_runs(session, projection, versions, versions[-1], datetime.now(UTC))
    finally:
        await savepoint.rollback()


async def apply_requested(session: AsyncSession, projection: Projection, events: Sequence[FeedEvent]) -> None:
    """Carry out the re-judging acts among commitment-svc's events, each recorded with its runs."""
    for event in events:
        if event.type != REQUESTED:
            continue
        try:
            act: RejudgementIn = decode(event)
            versions = [CommitmentVersion.from_feed(v) for v in act.versions]
            subject = next(v for v in versions if v.id == act.version_id)
            requested_at = parse_instant(act.requested_at)
            effective_from = parse_instant(act.effective_from)
        except (msgspec.ValidationError, ValueError, StopIteration) as err:
            log.warning("skipping malformed %s %s: %s", event.type, event.key, err)
            continue
        now = datetime.now(UTC)
        changes = await rejudge_runs(session, projection, versions, subject, now)
        record = {
            "id": act.id,
            "commitment_key": subject.commitment_key,
            "version_id": subject.id,
            "version": subject.version,
            "effective_from": effective_from,
            "requested_by": act.requested_by,
            "requested_at": requested_at,
            "reason": act.reason,
            "runs_expected": act.runs_expected,
            "runs": len(changes),
            "applied_at": now,
        }
        await RejudgeRepository(session).record(record, [c.record() for c in changes])
        log.info("rejudgement %s: %d run(s) re-judged under %s", record["id"], len(changes), subject.id)
