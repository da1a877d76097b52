import uuid
from datetime import datetime, timedelta
from typing import Any

from pledge_common.etags import check_if_match
from pledge_common.identity import Caller
from pledge_common.outbox import emit, emit_many
from pledge_common.problems import Conflict, NotFound, Problem, Unprocessable, field_error, invalid
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from commitment_svc import feed
from commitment_svc.calendars.repository import CalendarRepository
from commitment_svc.clients.evaluation import EvaluationClient
from commitment_svc.commitments.kinds import check_subject, check_terms, parse_objective
from commitment_svc.commitments.models import CommitmentVersion
from commitment_svc.commitments.repository import CommitmentRepository
from commitment_svc.commitments.rules import (
    InForce,
    RuleError,
    check_limits,
    check_retirement,
    check_transition,
    format_limit,
    parse_limit,
    plan_activation,
    starts_in_the_past,
)
from commitment_svc.commitments.schemas import (
    CommitmentCreate,
    CommitmentPublic,
    CommitmentTransition,
    CommitmentUpdate,
    CommitmentVersionCreate,
    HistoryEntry,
)
from commitment_svc.core.errors import problem_for
from commitment_svc.core.models import now_utc
from commitment_svc.departments.service import require_department
from commitment_svc.processes.service import require_node
from commitment_svc.segments.repository import SegmentRepository
from commitment_svc.services.service import require_service

CONSTRAINTS = {
    "commitment_versions_one_governs": (
        409,
        "effective_from",
        "another version already governs this process, node and segment during that time",
    ),
    "commitment_versions_one_open_draft": (409, "key", "this commitment already has an open draft"),
    "commitment_versions_key_version": (409, "key", "that version number was taken concurrently"),
    "commitment_versions_tolerance_ge_commitment": (422, "tolerance_limit", "must be at least the commitment limit"),
    "commitment_versions_limit_positive": (422, "commitment_limit", "must be greater than zero"),
    "commitment_versions_kind_subject": (422, "kind", "the subject does not fit the kind"),
    "commitment_versions_kind_limits": (422, "kind", "the limits do not fit the kind"),
}


def public(row: CommitmentVersion) -> CommitmentPublic:
    return CommitmentPublic(
        id=row.id,
        commitment_key=row.commitment_key,
        version=row.version,
        kind=row.kind,  # type: ignore[arg-type]
        name=row.name,
        description=row.description,
        process_key=row.process_key,
        node_key=row.node_key,
        service_key=row.service_key,
        obligation_key=row.obligation_key,
        segment_key=row.segment_key,
        limit_unit=row.limit_unit,  # type: ignore[arg-type]
        commitment_limit=_limit_text(row.commitment_limit, row.limit_unit),
        tolerance_limit=_limit_text(row.tolerance_limit, row.limit_unit),
        objective=row.objective,
        calendar_key=row.calendar_key,
        allowed_pause_reasons=list(row.allowed_pause_reasons),
        owner_department=row.owner_department,
        owner_position=row.owner_position,
        prewarning_fraction=row.prewarning_fraction,
        status=row.status,  # type: ignore[arg-type]
        effective_from=row.effective_from,
        effective_to=row.effective_to,
        history=[HistoryEntry.model_validate(h) for h in row.status_history],
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def subject_text(row: CommitmentVersion) -> str:
    """What a version governs, for messages: process/node/segment or kind service/obligation/segment."""
    if row.kind == "duration":
        return f"{row.process_key}/{row.node_key or '(end to end)'}/{row.segment_key}"
    return f"{row.kind} of {row.service_key}/{row.obligation_key or '(the service)'}/{row.segment_key}"


def _limit_text(value: timedelta | None, unit: str) -> str | None:
    return None if value is None else format_limit(value, unit)


def _rule_problem(err: RuleError) -> Problem:
    cls = Conflict if err.conflict else Unprocessable
    return cls(f"{err.field}: {err.message}", errors=[field_error(err.field, err.message)])


def _history(row: CommitmentVersion, status: str, caller: Caller, at: datetime, reason: str | None) -> None:
    entry = {"status": status, "at": at.isoformat(), "by": caller.sub, "reason": reason}
    row.status_history = [*row.status_history, entry]


async def _flush(session: AsyncSession, rows: list[CommitmentVersion]) -> None:
    repo = CommitmentRepository(session)
    try:
        for row in rows:
            await repo.add(row)
    except IntegrityError as err:
        raise problem_for(err, CONSTRAINTS) from None


async def _emit(session: AsyncSession, rows: list[CommitmentVersion]) -> None:
    await emit_many(session, [("commitment.upserted", str(r.id), public(r).feed_payload()) for r in rows])


async def get_version(session: AsyncSession, id_: uuid.UUID, *, for_update: bool = False) -> CommitmentVersion:
    row = await CommitmentRepository(session).get(id_, for_update=for_update)
    if row is None:
        raise NotFound(f"no commitment version `{id_}`")
    return row


async def _apply_terms(session: AsyncSession, row: CommitmentVersion, terms: dict[str, Any]) -> None:
    """Check and set terms on a version (references, limits, objective, owner) as its kind takes them."""
    unit = terms.get("limit_unit") or row.limit_unit
    limits: dict[str, timedelta | None] = {}
    for field in ("commitment_limit", "tolerance_limit"):
        text = terms.get(field)
        current = getattr(row, field)
        if text is None and current is not None and "limit_unit" in terms and terms["limit_unit"] != row.limit_unit:
            raise invalid(field, "give both limits again when the limit unit changes")
        try:
            limits[field] = parse_limit(text, unit, field) if text is not None else current
        except RuleError as err:
            raise _rule_problem(err) from None
    pause_reasons = terms.get("allowed_pause_reasons")
    try:
        check_terms(
            row.kind,
            commitment_limit=limits["commitment_limit"],
            tolerance_limit=limits["tolerance_limit"],
            limit_unit=unit,
            allowed_pause_reasons=list(row.allowed_pause_reasons if pause_reasons is None else pause_reasons),
        )
        if limits["commitment_limit"] is not None and limits["tolerance_limit"] is not None:
            check_limits(unit, limits["commitment_limit"], limits["tolerance_limit"])
        objective = parse_objective(row.kind, terms["objective"]) if "objective" in terms else row.objective
    except RuleError as err:
        raise _rule_problem(err) from None
    calendar_key = terms.get("calendar_key") or row.calendar_key
    if await CalendarRepository(session).get(calendar_key) is None:
        raise invalid("calendar", f"unknown calendar `{calendar_key}`")
    owner_department = terms.get("owner_department", row.owner_department)
    owner_position = terms.get("owner_position", row.owner_position)
    await require_department(session, "owner_department", owner_department, "owner_position", owner_position)
    row.limit_unit = unit
    row.commitment_limit = limits["commitment_limit"]
    row.tolerance_limit = limits["tolerance_limit"]
    row.objective = objective
    row.calendar_key = calendar_key
    row.owner_department, row.owner_position = owner_department, owner_position
    for field in ("name", "description", "allowed_pause_reasons", "prewarning_fraction", "effective_from"):
        if field in terms and terms[field] is not None:
            setattr(row, field, terms[field])


async def create_commitment(session: AsyncSession, body: CommitmentCreate, caller: Caller) -> CommitmentVersion:
    """A new commitment: version 1, in draft."""
    repo = CommitmentRepository(session)
    if await repo.key_exists(body.key):
        raise Conflict(
            f"commitment `{body.key}` exists; change it with POST /v1/commitments/{{id}}/versions",
            errors=[field_error("key", "already exists")],
        )
    try:
        check_subject(
            body.kind,
            process=body.process_key,
            node=body.node_key,
            service=body.service_key,
            obligation=body.obligation_key,
        )
    except RuleError as err:
        raise _rule_problem(err) from None
    if body.process_key is not None:
        await require_node(session, body.process_key, body.node_key)
    if (
        body.service_key is not None
        and (await require_service(session, "service", body.service_key)).status != "active"
    ):
        raise invalid("service", f"service `{body.service_key}` is retired; no new commitment is made about it")
    if await SegmentRepository(session).get(body.segment_key) is None:
        raise invalid("segment", f"unknown segment `{body.segment_key}`")
    now = now_utc()
    row = CommitmentVersion(
        id=uuid.uuid4(),
        commitment_key=body.key,
        version=1,
        kind=body.kind,
        name=body.name or body.key,
        description=body.description,
        process_key=body.process_key,
        node_key=body.node_key,
        service_key=body.service_key,
        obligation_key=body.obligation_key,
        segment_key=body.segment_key,
        limit_unit=body.limit_unit,
        calendar_key=body.calendar_key,
        allowed_pause_reasons=[],
        status="draft",
        status_history=[],
        created_at=now,
        updated_at=now,
    )
    terms = body.model_dump(
        exclude={"key", "kind", "process_key", "node_key", "service_key", "obligation_key", "segment_key"}
    )
    await _apply_terms(session, row, terms)
    _history(row, "draft", caller, now, None)
    await _flush(session, [row])
    await _emit(session, [row])
    return row


async def update_draft(
    session: AsyncSession, id_: uuid.UUID, body: CommitmentUpdate, if_match: str | None
) -> CommitmentVersion:
    row = await get_version(session, id_, for_update=True)
    check_if_match(if_match, row.row_version, required=True)
    if row.status not in ("draft", "negotiating"):
        raise Conflict(
            f"a {row.status} version is never edited in place; create a new version"
            f" (POST /v1/commitments/{row.id}/versions)",
            errors=[field_error("status", f"is {row.status}")],
        )
    terms = body.model_dump(exclude_unset=True)
    if not terms:
        return row
    await _apply_terms(session, row, terms)
    row.row_version += 1
    row.updated_at = now_utc()
    await _flush(session, [row])
    await _emit(session, [row])
    return row


async def create_version(
    session: AsyncSession, id_: uuid.UUID, body: CommitmentVersionCreate, caller: Caller
) -> CommitmentVersion:
    """A new draft version of the commitment, from the terms of `id_` with the given changes."""
    base = await get_version(session, id_)
    versions = await CommitmentRepository(session).versions_of(base.commitment_key, for_update=True)
    open_draft = next((v for v in versions if v.status in ("draft", "negotiating")), None)
    if open_draft is not None:
        raise Conflict(
            f"commitment `{base.commitment_key}` already has an open {open_draft.status} version"
            f" {open_draft.version} ({open_draft.id}); edit that one",
            errors=[field_error("key", "has an open draft")],
            open_version_id=str(open_draft.id),
        )
    now = now_utc()
    row = CommitmentVersion(
        id=uuid.uuid4(),
        commitment_key=base.commitment_key,
        version=max(v.version for v in versions) + 1,
        kind=base.kind,
        name=base.name,
        description=base.description,
        process_key=base.process_key,
        node_key=base.node_key,
        service_key=base.service_key,
        obligation_key=base.obligation_key,
        segment_key=base.segment_key,
        limit_unit=base.limit_unit,
        commitment_limit=base.commitment_limit,
        tolerance_limit=base.tolerance_limit,
        calendar_key=base.calendar_key,
        allowed_pause_reasons=list(base.allowed_pause_reasons),
        owner_department=base.owner_department,
        owner_position=base.owner_position,
        prewarning_fraction=base.prewarning_fraction,
        objective=base.objective,
        status="draft",
        effective_from=None,
        status_history=[],
        created_at=now,
        updated_at=now,
    )
    await _apply_terms(session, row, body.model_dump(exclude_unset=True))
    _history(row, "draft", caller, now, f"new version from version {base.version}")
    await _flush(session, [row])
    await _emit(session, [row])
    return row


# how many of the runs a back-dated version would change a refusal lists
RUNS_LISTED = 100


async def _runs_changed_by(
    evaluation: EvaluationClient,
    row: CommitmentVersion,
    start: datetime,
    old: CommitmentVersion | None,
    caller: Caller,
    body: CommitmentTransition,
    now: datetime,
) -> tuple[int, dict[str, Any] | None]:
    """For a version starting in the past: how many judged runs change their governing version, and the
    re-judging act to put on the feed (None when there is nothing to re-judge). 409 when runs would change
    and the caller did not ask to re-judge them."""
    after = public(row).feed_payload() | {"status": "active", "effective_from": start.isoformat(), "effective_to": None}
    superseded = [public(old).feed_payload() | {"effective_to": start.isoformat()}] if old is not None else []
    changing = await evaluation.runs_changing(after, superseded)
    if changing.count == 0:
        return 0, None
    if not body.rejudge:
        raise Conflict(
            f"effective_from: {changing.count} judged run(s) started since {start.isoformat()} would change their"
            " governing version; history is rewritten only on request: send `rejudge: true` to re-judge them"
            " (an audited act), or start the version later",
            errors=[field_error("effective_from", f"{changing.count} judged run(s) would change their version")],
            runs_changing=changing.count,
            runs=changing.runs[:RUNS_LISTED],
        )
    act = {
        "id": str(uuid.uuid4()),
        "commitment_key": row.commitment_key,
        "version_id": str(row.id),
        "version": row.version,
        "effective_from": start.isoformat(),
        "requested_by": caller.sub,
        "requested_at": now.isoformat(),
        "reason": body.reason,
        "runs_expected": changing.count,
        "versions": [*superseded, after],
    }
    return changing.count, act


async def transition(
    session: AsyncSession,
    id_: uuid.UUID,
    body: CommitmentTransition,
    caller: Caller,
    if_match: str | None,
    evaluation: EvaluationClient,
) -> list[CommitmentVersion]:
    """Move a version along draft → negotiating → active → retired; returns every version changed."""
    if body.rejudge and body.to != "active":
        raise invalid("rejudge", "applies only to the transition to active (a version starting in the past)")
    row = await get_version(session, id_)
    # lock every version of the commitment, in version order, so concurrent activations serialise
    versions = await CommitmentRepository(session).versions_of(row.commitment_key, for_update=True)
    row = next(v for v in versions if v.id == id_)
    check_if_match(if_match, row.row_version, required=False)
    try:
        check_transition(row.status, body.to)
    except RuleError as err:
        raise _rule_problem(err) from None
    now = now_utc()
    changed = [row]
    if body.to == "active":
        start = body.effective_from or row.effective_from or now
        in_force = [
            InForce(str(v.id), v.version, v.status, v.effective_from, v.effective_to)
            for v in versions
            if v.status in ("active", "retired") and v.effective_from is not None
        ]
        try:
            predecessor = plan_activation(start, in_force)
        except RuleError as err:
            raise _rule_problem(err) from None
        other = await CommitmentRepository(session).overlapping_in_force(row, start, None)
        if other is not None:
            raise Conflict(
                f"effective_from: commitment `{other.commitment_key}` version {other.version} ({other.id}) already"
                f" governs {subject_text(row)} from"
                f" {other.effective_from.isoformat() if other.effective_from else '?'}; retire it first",
                errors=[field_error("effective_from", "overlaps another commitment's version in force")],
                conflicting_id=str(other.id),
            )
        old = next(v for v in versions if str(v.id) == predecessor.id) if predecessor is not None else None
        act: dict[str, Any] | None = None
        # only node runs are judged under a version by its instant; other kinds are judged by period
        if row.kind == "duration" and starts_in_the_past(start, now):
            count, act = await _runs_changed_by(evaluation, row, start, old, caller, body, now)
            if act is not None:
                rejudged = f"re-judges {count} run(s) from {start.isoformat()} (rejudgement {act['id']})"
                body = body.model_copy(update={"reason": f"{body.reason}; {rejudged}" if body.reason else rejudged})
                # before the versions on the feed: evaluation takes the runs over with the act, never silently
                await emit(session, "rejudgement.requested", act["id"], feed.payload("rejudgement.requested", act))
        if old is not None:
            old.effective_to = start
            old.row_version += 1
            old.updated_at = now
            _history(old, "active", caller, now, f"superseded by version {row.version} from {start.isoformat()}")
            await _flush(session, [old])
            changed.insert(0, old)
        row.effective_from = start
        row.effective_to = None
    elif body.to == "retired":
        at = body.effective_to or now
        assert row.effective_from is not None
        try:
            check_retirement(row.effective_from, row.effective_to, at, now)
        except RuleError as err:
            raise _rule_problem(err) from None
        row.effective_to = at
    row.status = body.to
    row.row_version += 1
    row.updated_at = now
    _history(row, body.to, caller, now, body.reason)
    await _flush(session, [row])
    await _emit(session, changed)
    return changed


async def delete_draft(session: AsyncSession, id_: uuid.UUID, if_match: str | None) -> None:
    repo = CommitmentRepository(session)
    row = await get_version(session, id_, for_update=True)
    check_if_match(if_match, row.row_version, required=False)
    if row.status not in ("draft", "negotiating"):
        raise Conflict(
            f"a {row.status} version is history and cannot be deleted; retire it instead",
            errors=[field_error("status", f"is {row.status}")],
        )
    if len(await repo.versions_of(row.commitment_key)) == 1:
        refs = await repo.agreements_covering(row.commitment_key)
        if refs:
            raise Conflict(
                f"commitment `{row.commitment_key}` is still covered by {', '.join(refs)}", referenced_by=refs
            )
    await repo.delete(row)
    await emit(
        session,
        "commitment.deleted",
        str(row.id),
        feed.payload("commitment.deleted", {"id": str(row.id), "commitment_key": row.commitment_key}),
    )


async def resolve(
    session: AsyncSession, process_key: str, node_key: str | None, segment_key: str, at: datetime
) -> CommitmentVersion:
    row = await CommitmentRepository(session).resolve(process_key, node_key, segment_key, at)
    if row is None:
        raise NotFound(
            f"no commitment governs process `{process_key}`, node `{node_key or '(end to end)'}`, segment"
            f" `{segment_key}` (or `default`) at {at.isoformat()}"
        )
    return row
