"""The projection: feed events of commitment-svc and tracking-svc → reference tables and judged runs.

Each node run keeps its governing commitment version (the one in force at its start) and the due
instants derived from it. When definitions change, runs still in progress (and runs never judged) are
judged again; finished runs keep the judgment of their version, only their exemption can change.
"""

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec
from pledge_common.outbox import FeedEvent
from pledge_deadlines import Calendar
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.alerts.service import resolve_ended_runs
from evaluation_svc.kinds.repository import KindsRepository
from evaluation_svc.readmodel.repository import ReadModelRepository, RunRow
from evaluation_svc.rejudge.repository import RejudgeRepository
from evaluation_svc.rejudge.rules import runs_changing_version
from evaluation_svc.rules import (
    CommitmentVersion,
    ForceMajeure,
    Judgment,
    RunFacts,
    calendar_from_payload,
    force_majeure_of,
    governing_version,
    judge,
    parse_instant,
)
from evaluation_svc.rules.kinds import KindCommitment
from evaluation_svc.upstream import SERVICE_FACTS, decode, plain

log = logging.getLogger("evaluation.projection")
REJUDGE_CHUNK = 5000
YIELD_EVERY = 250


def _last_by_key(events: Iterable[FeedEvent], family: str) -> dict[str, FeedEvent]:
    latest: dict[str, FeedEvent] = {}
    for event in events:
        if event.type.split(".", 1)[0] == family:
            latest[event.key] = event
    return latest


def _decoded(events: Iterable[FeedEvent], family: str) -> tuple[list[Any], list[str]]:
    """The last state of each key of a family: the upserted payloads, decoded (a malformed one is logged and
    skipped), and the keys deleted."""
    upserts: list[Any] = []
    deletes: list[str] = []
    for event in _last_by_key(events, family).values():
        if event.type.endswith(".deleted"):
            deletes.append(event.key)
            continue
        try:
            decoded = decode(event)
        except msgspec.ValidationError as err:
            log.warning("skipping malformed %s %s: %s", event.type, event.key, err)
            continue
        if decoded is not None:
            upserts.append(decoded)
    return upserts, deletes


class Projection:
    """Feed handlers (one per upstream feed) sharing a cache of parsed calendars."""

    def __init__(self, builtin_calendar: str = "24x7", rollup_timezone: str = "UTC") -> None:
        self._calendars: dict[str, Calendar] = {}
        self.builtin_calendar = builtin_calendar
        self.rollup_timezone = rollup_timezone

    def _calendar(self, stored: Mapping[str, Any]) -> Calendar:
        token = json.dumps(
            [
                stored["timezone"],
                stored["weekly"],
                stored["holidays"],
                stored["extra_working_days"],
                stored["extra_day_windows"],
            ],
            sort_keys=True,
        )
        calendar = self._calendars.get(token)
        if calendar is None:
            calendar = calendar_from_payload(stored)
            if len(self._calendars) > 256:
                self._calendars.clear()
            self._calendars[token] = calendar
        return calendar

    # --- commitment-svc feed -------------------------------------------------------------------

    async def handle_commitment(self, session: AsyncSession, events: Sequence[FeedEvent]) -> None:
        repo = ReadModelRepository(session)
        rejudge_processes: set[str] = set()
        for family in ("department", "segment", "calendar", "process"):
            upserts, deletes = _decoded(events, family)
            rows = [plain(u) for u in upserts]
            if family == "department":
                if rows:
                    await repo.upsert_departments(rows)
                if deletes:
                    await repo.delete_refs("ref_departments", deletes)
            elif family == "segment":
                if rows:
                    await repo.upsert_segments(rows)
                if deletes:
                    await repo.delete_refs("ref_segments", deletes)
            elif family == "calendar":
                if rows:
                    await repo.upsert_calendars(rows)
                changed = [str(u.key) for u in upserts] + deletes
                if changed:
                    rejudge_processes |= await repo.processes_on_calendars(changed)
                if deletes:
                    await repo.delete_refs("ref_calendars", deletes)
            elif family == "process":
                if rows:
                    await repo.upsert_processes(rows)
                if deletes:
                    await repo.delete_refs("ref_processes", deletes)
        kinds = KindsRepository(session)
        services, _ = _decoded(events, "service")
        if services:
            await kinds.upsert_services([plain(s) for s in services])
        upserted, deleted = _decoded(events, "commitment")
        versions = []
        kind_versions = []
        rejudge_finished: list[str] = []
        for c in upserted:
            try:
                # a commitment of another kind is never one on node runs: it has its own table
                if c.kind == "duration":
                    versions.append(CommitmentVersion.from_feed(c))
                else:
                    kind_versions.append(KindCommitment.from_feed(c))
            except ValueError as err:  # an instant that is not one, a kind without what it needs
                log.warning("skipping malformed commitment.upserted %s: %s", c.id, err)
        if versions:
            # versions put in force since this read model last saw them (a back-dated one included)
            stored = await repo.in_force_since([v.id for v in versions])
            newly_in_force = [
                v for v in versions
                if v.status == "active" and v.effective_from is not None
                and (v.id not in stored or stored[v.id] != v.effective_from)
            ]  # fmt: skip
            await repo.upsert_commitments(versions)
            rejudge_finished = await self._finished_runs_governed_anew(session, newly_in_force)
            await kinds.forget_commitments([v.id for v in versions])
            rejudge_processes |= {v.process_key for v in versions}
        if kind_versions:
            # a version id that was copied as a node commitment governed runs: they are judged again below
            rejudge_processes |= await repo.processes_of_commitments([k.id for k in kind_versions])
            await kinds.upsert_commitments(kind_versions)
        if deleted:  # only drafts and negotiating versions are deleted: they never governed a run
            await repo.delete_commitments(deleted)
            await kinds.delete_commitments(deleted)
        agreements, _ = _decoded(events, "agreement")
        exemption_ids: list[str] = []
        if agreements:
            payloads = [plain(a) for a in agreements]
            windows = [w for p in payloads for w in force_majeure_of(p)]
            ids = [a.id for a in agreements]
            previously_exempted = await repo.run_ids_touching([], ids)
            await repo.upsert_agreements(payloads, windows)
            exemption_ids = sorted(set(previously_exempted) | set(await repo.run_ids_touching(windows, [])))
        if rejudge_processes:
            ids = await repo.run_ids_to_rejudge_for_processes(sorted(rejudge_processes))
            await self.rejudge(session, sorted(set(ids) | set(rejudge_finished)))
        if exemption_ids:
            await self.rejudge(session, exemption_ids, keep_finished=True)

    # --- tracking-svc feed ---------------------------------------------------------------------

    async def handle_tracking(self, session: AsyncSession, events: Sequence[FeedEvent]) -> None:
        facts: dict[str, RunFacts] = {}
        service_facts: dict[str, dict[str, Any]] = {t: {} for t in SERVICE_FACTS}
        for i, event in enumerate(events):
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
            if event.type in SERVICE_FACTS:
                try:
                    fact = decode(event)
                    _check_instants(fact)
                except (msgspec.ValidationError, ValueError) as err:
                    log.warning("skipping malformed %s %s: %s", event.type, event.key, err)
                    continue
                service_facts[event.type][fact.id] = plain(fact)  # the last state of each fact
                continue
            if event.type not in ("node_run.upserted", "ticket.upserted"):
                continue
            try:
                decoded = decode(event)
                run = (
                    RunFacts.from_node_run(decoded)
                    if event.type == "node_run.upserted"
                    else RunFacts.from_ticket(decoded)
                )
            except (msgspec.ValidationError, ValueError) as err:
                log.warning("skipping malformed %s %s: %s", event.type, event.key, err)
                continue
            facts[run.id] = run
        if facts:
            await self.project(session, list(facts.values()))
        kinds = KindsRepository(session)
        writers = {
            "outage.upserted": kinds.upsert_outages,
            "sample.recorded": kinds.insert_samples,
            "occurrence.recorded": kinds.insert_occurrences,
            "deliverable.upserted": kinds.upsert_deliverables,
        }
        for event_type, write in writers.items():
            if service_facts[event_type]:
                await write(list(service_facts[event_type].values()))

    # --- judging -------------------------------------------------------------------------------

    async def _finished_runs_governed_anew(
        self, session: AsyncSession, versions: Sequence[CommitmentVersion]
    ) -> list[str]:
        """Judged runs that a version now in force governs instead of the one that judged them.

        The two feeds race: a work order's run can come over tracking's feed before the version in force at its
        start comes over commitment's (commitment-svc checked, when it put the version in force, only the runs
        judged then). A run is judged by the version in force when it started, finished or not, so such runs
        are judged again when their version arrives. (An audited re-judging act has put its versions in the
        read model already: they are not new here.)"""
        judged = RejudgeRepository(session)
        changing: set[str] = set()
        for v in versions:
            if v.effective_from is None:
                continue
            candidates = await judged.judged_runs_since(v.process_key, v.node_key, v.segment_key, v.effective_from)
            if candidates:
                in_force = await ReadModelRepository(session).commitments_for({v.process_key})
                changing |= set(runs_changing_version(candidates, in_force))
        if changing:
            log.info("%d judged run(s) taken over by versions that arrived after them", len(changing))
        return sorted(changing)

    async def rejudge(self, session: AsyncSession, ids: Sequence[str], *, keep_finished: bool = False) -> None:
        """Judge stored runs again from their stored facts (after a definition changed)."""
        repo = ReadModelRepository(session)
        for i in range(0, len(ids), REJUDGE_CHUNK):
            current = await repo.runs(ids[i : i + REJUDGE_CHUNK])
            await self.project(
                session, [r.facts for r in current.values()], keep_finished=keep_finished, current=current
            )

    async def project(
        self,
        session: AsyncSession,
        runs: Sequence[RunFacts],
        *,
        keep_finished: bool = False,
        current: Mapping[str, RunRow] | None = None,
    ) -> None:
        repo = ReadModelRepository(session)
        # Only runs that keep their judgment need the stored row; the write reads what the rollups need.
        old = dict(current) if current is not None else {}
        if keep_finished and current is None:
            old = await repo.runs([r.id for r in runs])
        versions = await repo.commitments_for({r.process_key for r in runs})
        stored_calendars = await repo.calendars({v.calendar_key for v in versions if v.calendar_key})
        calendars = self._parsed_calendars(stored_calendars)
        windows = await repo.force_majeure()
        owners = await repo.process_owners({r.process_key for r in runs if r.kind == "ticket"})
        rows: list[RunRow] = []
        for i, run in enumerate(runs):
            if i % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)
            previous = old.get(run.id) if keep_finished else None
            if previous is not None and previous.facts.ended_at is not None:
                judgment = Judgment(
                    commitment_id=previous.commitment_id,
                    commitment_key=previous.commitment_key,
                    prewarning_due_at=previous.prewarning_due_at,
                    commitment_due_at=previous.commitment_due_at,
                    tolerance_due_at=previous.tolerance_due_at,
                    counted_seconds=previous.counted_seconds,
                    final_state=previous.final_state,
                    department=previous.department,
                    position=previous.position,
                )
            else:
                judgment = self._judge(run, versions, calendars)
            rows.append(_row(run, judgment, windows, owners))
        await repo.write_runs(rows, self.rollup_timezone)
        # a run's end (completed or cancelled, however it came) resolves its alerts in the same transaction
        await resolve_ended_runs(session, [r.facts.id for r in rows if r.facts.ended_at is not None])

    def _parsed_calendars(self, stored: Mapping[str, Mapping[str, Any]]) -> dict[str, Calendar]:
        """The batch's calendars, parsed once (a calendar that cannot be used leaves its runs unjudged)."""
        parsed = {}
        for key, value in stored.items():
            try:
                parsed[key] = self._calendar(value)
            except (ValueError, TypeError, KeyError) as err:
                log.warning("calendar %s cannot be used: %s", key, err)
        return parsed

    def _judge(
        self, run: RunFacts, versions: Sequence[CommitmentVersion], calendars: Mapping[str, Calendar]
    ) -> Judgment:
        version = None
        if run.started_at is not None:
            version = governing_version(versions, run.process_key, run.node_key, run.segment, run.started_at)
        calendar: Calendar | None = None
        if version is not None:
            calendar = calendars.get(version.calendar_key or "")
            if calendar is None and version.calendar_key in (None, self.builtin_calendar):
                calendar = Calendar.always()
        try:
            return judge(run, version, calendar)
        except (ValueError, TypeError, OverflowError) as err:
            log.warning("run %s cannot be judged under %s: %s", run.id, version and version.id, err)
            return judge(run, None, None)


def _check_instants(fact: Any) -> None:
    """ValueError when an instant of a service fact is not one (the fact is skipped, as a malformed run is)."""
    for name in ("started_at", "ended_at", "at", "delivered_at", "signed_off_at"):
        value = getattr(fact, name, None)
        if value is not None:
            parse_instant(value)


def _row(
    run: RunFacts, judgment: Judgment, windows: Sequence[ForceMajeure], owners: Mapping[str, str | None]
) -> RunRow:
    ended = run.ended_at
    department = judgment.department
    if department is None and run.kind == "ticket":
        department = owners.get(run.process_key)
    return RunRow(
        facts=run,
        commitment_id=judgment.commitment_id,
        commitment_key=judgment.commitment_key,
        prewarning_due_at=judgment.prewarning_due_at,
        commitment_due_at=judgment.commitment_due_at,
        tolerance_due_at=judgment.tolerance_due_at,
        counted_seconds=judgment.counted_seconds,
        final_state=judgment.final_state,
        exempted=any(w.exempts(run, judgment.commitment_key, ended) for w in windows),
        department=department,
        position=judgment.position,
    )
