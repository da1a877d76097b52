"""Corrective action use cases, and the effectiveness check against evaluation-svc."""

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from pledge_common.identity import Caller
from pledge_common.pagination import Page, decode_cursor, encode_cursor
from pledge_common.problems import Conflict, NotFound, Unprocessable, field_error, invalid
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_svc.actions import rules
from feedback_svc.actions.models import CorrectiveAction, CorrectiveActionLink, CorrectiveActionTransition
from feedback_svc.actions.repository import ActionFilter, ActionRepository
from feedback_svc.actions.schemas import (
    ActionCreate,
    ActionPublic,
    ActionSummary,
    ActionTransitionCreate,
    ActionTransitionPublic,
    Effectiveness,
    LinkPublic,
    WindowFigures,
)
from feedback_svc.clients import EvaluationClient, TrackingClient, UpstreamRejected, UpstreamUnavailable
from feedback_svc.common import owned_by, utcnow, written_by
from feedback_svc.upstream import require_known_process


def today_in(tz: str, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(tz)).date()


async def _check_links(repository: ActionRepository, caller: Caller, data: ActionCreate) -> None:
    errors = []
    complaint_ids: dict[int, uuid.UUID] = {}
    for n, link in enumerate(data.links):
        if link.kind == "complaint":
            try:
                complaint_ids[n] = uuid.UUID(link.ref)
            except ValueError:
                errors.append(field_error(f"links.{n}.ref", "a complaint id (UUID)"))
        elif link.kind == "survey_gap":
            instrument, _, target = link.ref.partition(":")
            targets = await repository.survey_targets(instrument)
            if targets is None:
                errors.append(field_error(f"links.{n}.ref", f"no survey instrument {instrument!r}"))
            elif target not in targets:
                errors.append(
                    field_error(f"links.{n}.ref", f"`{instrument}:<dimension or item>`; {target!r} is neither")
                )
    # a partner bound to sources links only complaints it can see; others' are "no complaint", as on their routes
    known = await repository.existing_complaints(list(complaint_ids.values()), caller.sources)
    errors += [
        field_error(f"links.{n}.ref", f"no complaint {cid}") for n, cid in complaint_ids.items() if cid not in known
    ]
    if errors:
        raise Unprocessable("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)


async def create(
    session: AsyncSession,
    tracking: TrackingClient,
    evaluation: EvaluationClient,
    tz: str,
    caller: Caller,
    data: ActionCreate,
) -> ActionPublic:
    if data.node_key is not None and data.process_key is None:
        raise invalid("process", "a node is named by its process: give `process` with `node`")
    repository = ActionRepository(session)
    await _check_links(repository, caller, data)
    if data.process_key is not None:
        await require_known_process(tracking, data.process_key)
    now = utcnow()
    action = CorrectiveAction(
        id=uuid.uuid4(),
        title=data.title,
        description=data.description,
        owner_department=data.owner_department,
        due_date=data.due_date,
        status="open",
        process_key=data.process_key,
        node_key=data.node_key,
        sources=written_by(caller),
        effectiveness_weeks=data.effectiveness_weeks,
        created_at=now,
        updated_at=now,
    )
    await repository.add(
        action,
        [CorrectiveActionLink(action_id=action.id, kind=link.kind, ref=link.ref) for link in data.links],
        [
            CorrectiveActionTransition(
                action_id=action.id, seq=1, from_status=None, to_status="open", at=now, by=caller.sub
            )
        ],
    )
    return await get(session, evaluation, tz, caller, action.id)


async def transition(
    session: AsyncSession,
    evaluation: EvaluationClient,
    tz: str,
    caller: Caller,
    action_id: uuid.UUID,
    data: ActionTransitionCreate,
) -> ActionPublic:
    repository = ActionRepository(session)
    action = await repository.get(action_id, for_update=True)
    if action is None or not owned_by(caller, action.sources):
        raise NotFound(f"no corrective action {action_id}")
    if data.to not in rules.ALLOWED[action.status]:
        allowed = rules.allowed_from(action.status)
        raise Conflict(
            f"a corrective action in status {action.status} cannot go to {data.to};"
            f" allowed: {', '.join(allowed) or 'none'}",
            errors=[{"field": "to", "message": f"not allowed from {action.status}"}],
            status_now=action.status,
            allowed=allowed,
        )
    history = await repository.history(action_id)
    now = utcnow()
    at = data.at or now
    if at > now:
        raise invalid("at", "is in the future")
    if at < history[-1].at:
        raise invalid("at", f"is before the action's last change ({history[-1].at.isoformat()})")
    previous = action.status
    if data.to == "in_progress":
        action.started_at = action.started_at or at
        action.done_at = None
    elif data.to == "done":
        action.done_at = at
    elif data.to == "verified":
        action.verified_at = at
    action.status = data.to
    action.updated_at = now
    await repository.add(
        action,
        transitions=[
            CorrectiveActionTransition(
                action_id=action.id,
                seq=history[-1].seq + 1,
                from_status=previous,
                to_status=data.to,
                at=at,
                by=data.by or caller.sub,
                note=data.note,
            )
        ],
    )
    return await get(session, evaluation, tz, caller, action.id)


async def effectiveness(evaluation: EvaluationClient, caller: Caller, action: CorrectiveAction) -> Effectiveness | None:
    """Achievement before and after, as the caller may see it (a partner bound to sources: its own runs)."""
    if action.process_key is None or action.done_at is None:
        return None
    windows = rules.effectiveness_windows(action.done_at, action.effectiveness_weeks, utcnow())
    base = Effectiveness(
        available=False,
        process_key=action.process_key,
        node_key=action.node_key,
        weeks=action.effectiveness_weeks,
        after_complete=windows.after_complete,
    )
    try:
        before = await evaluation.achievement(
            action.process_key, action.node_key, windows.before_start, windows.before_end, sources=caller.sources
        )
        after = (
            await evaluation.achievement(
                action.process_key, action.node_key, windows.after_start, windows.after_end, sources=caller.sources
            )
            if windows.after_end > windows.after_start
            else None
        )
    except (UpstreamUnavailable, UpstreamRejected) as err:
        base.detail = str(err)
        return base
    base.available = True
    base.before = WindowFigures(
        start=windows.before_start,
        end=windows.before_end,
        runs=before.runs,
        normal=before.normal,
        achievement_rate=before.rate,
    )
    if after is not None:
        base.after = WindowFigures(
            start=windows.after_start,
            end=windows.after_end,
            runs=after.runs,
            normal=after.normal,
            achievement_rate=after.rate,
        )
        if before.rate is not None and after.rate is not None:
            base.change = round(after.rate - before.rate, 4)
    return base


def _summary(action: CorrectiveAction, today: date) -> ActionSummary:
    return ActionSummary(
        id=action.id,
        title=action.title,
        owner_department=action.owner_department,
        due_date=action.due_date,
        status=action.status,  # type: ignore[arg-type]
        overdue=rules.is_overdue(action.status, action.due_date, today),
        process_key=action.process_key,
        node_key=action.node_key,
    )


async def get(
    session: AsyncSession, evaluation: EvaluationClient, tz: str, caller: Caller, action_id: uuid.UUID
) -> ActionPublic:
    repository = ActionRepository(session)
    action = await repository.get(action_id)
    if action is None or not owned_by(caller, action.sources):
        raise NotFound(f"no corrective action {action_id}")
    return ActionPublic(
        **_summary(action, today_in(tz)).model_dump(),
        description=action.description,
        effectiveness_weeks=action.effectiveness_weeks,
        links=[LinkPublic(kind=link.kind, ref=link.ref) for link in await repository.links(action_id)],  # type: ignore[arg-type]
        started_at=action.started_at,
        done_at=action.done_at,
        verified_at=action.verified_at,
        allowed_transitions=rules.allowed_from(action.status),
        history=[
            ActionTransitionPublic.model_validate(t, from_attributes=True) for t in await repository.history(action_id)
        ],
        effectiveness=await effectiveness(evaluation, caller, action),
        created_at=action.created_at,
        updated_at=action.updated_at,
    )


async def list_page(
    session: AsyncSession, where: ActionFilter, tz: str, cursor: str | None, limit: int
) -> Page[ActionSummary]:
    after = decode_cursor(cursor, date.fromisoformat, uuid.UUID, field="query.cursor")
    rows = await ActionRepository(session).page(where, limit + 1, after)
    more = len(rows) > limit
    rows = rows[:limit]
    today = today_in(tz)
    return Page[ActionSummary](
        items=[_summary(a, today) for a in rows],
        next_cursor=encode_cursor(rows[-1].due_date, rows[-1].id) if more else None,
    )
