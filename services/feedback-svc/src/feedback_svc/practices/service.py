"""Practices: what a corrective action proved, kept to be found again and suggested."""

import uuid
from datetime import datetime

from pledge_common.identity import Caller
from pledge_common.pagination import Page, decode_cursor, encode_cursor
from pledge_common.problems import Conflict, NotFound, invalid
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_svc.actions import service as actions
from feedback_svc.actions.repository import ActionRepository
from feedback_svc.clients import EvaluationClient
from feedback_svc.common import owned_by, utcnow, written_by
from feedback_svc.practices.models import Practice
from feedback_svc.practices.repository import PracticeFilter, PracticeRepository
from feedback_svc.practices.schemas import PracticeCreate, PracticePublic, PracticeSummary
from feedback_svc.practices.search import search_text

SUGGESTED = 5


def _merged(given: list[str], more: list[str | None]) -> list[str]:
    return list(dict.fromkeys([*given, *(m for m in more if m)]))


async def create(
    session: AsyncSession, evaluation: EvaluationClient, caller: Caller, data: PracticeCreate
) -> PracticePublic:
    repository = PracticeRepository(session)
    title, body = data.title, data.body
    process_keys, node_keys = list(data.process_keys), list(data.node_keys)
    figures = None
    if data.from_action is not None:
        action = await ActionRepository(session).get(data.from_action)
        if action is None or not owned_by(caller, action.sources):
            raise invalid("body.from_action", f"no corrective action {data.from_action}")
        if action.status != "verified":
            raise invalid("body.from_action", f"the corrective action is {action.status}, not verified effective")
        if await repository.of_action(action.id) is not None:
            raise Conflict(f"body.from_action: corrective action {action.id} is already a practice")
        found = await actions.effectiveness(evaluation, caller, action)
        figures = None if found is None else found.model_dump(mode="json", by_alias=True)
        title = title or action.title
        body = body or action.description
        process_keys = _merged(process_keys, [action.process_key])
        node_keys = _merged(node_keys, [action.node_key])
    if title is None:
        raise invalid("body.title", "required unless from_action")
    if body is None:
        raise invalid("body.body", "required unless from_action")
    practice = Practice(
        id=uuid.uuid4(),
        title=title,
        body=body,
        tags=list(dict.fromkeys(data.tags)),
        process_keys=process_keys,
        node_keys=node_keys,
        root_causes=list(dict.fromkeys(data.root_causes)),
        action_id=data.from_action,
        figures=figures,
        search_text=search_text(title, body, data.tags),
        sources=written_by(caller),
        created_by=caller.sub,
        created_at=utcnow(),
    )
    await repository.add(practice)
    return public(practice)


def summary(p: Practice) -> PracticeSummary:
    return PracticeSummary(
        id=p.id,
        title=p.title,
        tags=p.tags,
        process_keys=p.process_keys,
        node_keys=p.node_keys,
        root_causes=p.root_causes,
        action_id=p.action_id,
        created_at=p.created_at,
    )


def public(p: Practice) -> PracticePublic:
    return PracticePublic(**summary(p).model_dump(), body=p.body, figures=p.figures, created_by=p.created_by)


async def get(session: AsyncSession, caller: Caller, practice_id: uuid.UUID) -> PracticePublic:
    practice = await PracticeRepository(session).get(practice_id)
    if practice is None or not owned_by(caller, practice.sources):
        raise NotFound(f"no practice {practice_id}")
    return public(practice)


async def list_page(
    session: AsyncSession, where: PracticeFilter, cursor: str | None, limit: int
) -> Page[PracticeSummary]:
    after = decode_cursor(cursor, datetime.fromisoformat, uuid.UUID, field="query.cursor")
    rows = await PracticeRepository(session).page(where, after, limit + 1)  # type: ignore[arg-type]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[PracticeSummary](
        items=[summary(p) for p in rows],
        next_cursor=encode_cursor(rows[-1].created_at, rows[-1].id) if more else None,
    )


async def suggested(session: AsyncSession, caller: Caller, root_cause: str | None) -> list[PracticeSummary]:
    """The newest practices about the complaint's root cause (none while it has none)."""
    if root_cause is None:
        return []
    where = PracticeFilter(root_cause=root_cause, sources=caller.sources)
    return [summary(p) for p in await PracticeRepository(session).page(where, None, SUGGESTED)]
