"""`/v1/reports/rejudgements` (the audited acts) and the internal preview commitment-svc asks for."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pledge_common.db import SessionDep
from pledge_common.exports import JSON, tabular_response
from pledge_common.identity import CallerDep
from pledge_common.pagination import PageParams, decode_cursor, encode_cursor, paged
from pledge_common.problems import NotFound, invalid
from pledge_common.scopes import Scope, scoped

from evaluation_svc.exports.respond import TABLES, TabularDep, basename, next_link
from evaluation_svc.exports.rows import rejudged_run_rows, rejudgement_rows
from evaluation_svc.pages import check_page_max
from evaluation_svc.rejudge import service
from evaluation_svc.rejudge.repository import RejudgeRepository
from evaluation_svc.rejudge.schemas import (
    PreviewAnswer,
    PreviewRequest,
    RejudgedRun,
    RejudgedRunPage,
    RejudgementPage,
    RejudgementPublic,
    StateChange,
)

router = APIRouter(prefix="/v1/reports/rejudgements", tags=["rejudgements"], dependencies=scoped(Scope.reports_read))
internal = APIRouter(prefix="/v1/rejudgements")


def _only(request: Request, allowed: set[str]) -> None:
    """A query parameter this route does not apply is refused, not ignored."""
    for name in request.query_params:
        if name not in allowed:
            raise invalid(f"query.{name}", f"not a parameter of this route (it takes: {', '.join(sorted(allowed))})")


@router.get("", response_model=RejudgementPage, responses=TABLES)
async def list_rejudgements(
    request: Request,
    response: Response,
    session: SessionDep,
    media: TabularDep,
    page: PageParams,
    commitment_key: Annotated[str | None, Query(alias="commitment", max_length=200)] = None,
) -> RejudgementPage | Response:
    """Acts that re-judged runs under a version put in force from a past instant, newest first."""
    _only(request, {"commitment", "cursor", "limit"})
    check_page_max(request, page)
    cursor, limit = page.cursor, page.limit
    after = decode_cursor(cursor, datetime.fromisoformat, str)
    repo = RejudgeRepository(session)
    rows = await repo.acts(commitment_key, (after[0], after[1]) if after else None, limit + 1)
    chosen = rows[:limit]
    changes = await repo.state_changes([r["id"] for r in chosen])
    items = [_public(r, changes.get(r["id"], [])) for r in chosen]
    last = chosen[-1] if chosen else None
    next_cursor = encode_cursor(last["requested_at"], last["id"]) if last and len(rows) > limit else None
    found = paged(request, response, RejudgementPage(items=items, next_cursor=next_cursor))
    if media == JSON:
        return found
    name = basename("rejudgements", commitment_key)
    link = next_link(request, found.next_cursor)
    return await tabular_response(media, rejudgement_rows(found.items), name, headers=link)


@router.get("/{rejudgement_id}", response_model=RejudgementPublic)
async def get_rejudgement(request: Request, session: SessionDep, rejudgement_id: str) -> RejudgementPublic:
    """One act: who asked, when, which version from which instant, and how many runs changed state."""
    _only(request, set())
    repo = RejudgeRepository(session)
    row = await repo.act(rejudgement_id)
    if row is None:
        raise NotFound(f"no rejudgement `{rejudgement_id}`")
    return _public(row, (await repo.state_changes([rejudgement_id])).get(rejudgement_id, []))


@router.get("/{rejudgement_id}/runs", response_model=RejudgedRunPage, responses=TABLES)
async def list_rejudged_runs(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: CallerDep,
    media: TabularDep,
    rejudgement_id: str,
    page: PageParams,
) -> RejudgedRunPage | Response:
    """The runs an act re-judged, each with its governing version, state and counted time before and after."""
    _only(request, {"cursor", "limit"})
    check_page_max(request, page)
    cursor, limit = page.cursor, page.limit
    repo = RejudgeRepository(session)
    if await repo.act(rejudgement_id) is None:
        raise NotFound(f"no rejudgement `{rejudgement_id}`")
    after = decode_cursor(cursor, datetime.fromisoformat, str)
    rows = await repo.runs(rejudgement_id, (after[0], after[1]) if after else None, limit + 1, caller.sources)
    chosen = rows[:limit]
    last = chosen[-1] if chosen else None
    next_cursor = encode_cursor(last["started_at"], last["run_id"]) if last and len(rows) > limit else None
    found = paged(
        request, response, RejudgedRunPage(items=[RejudgedRun.from_record(r) for r in chosen], next_cursor=next_cursor)
    )
    if media == JSON:
        return found
    name = basename("rejudgement", rejudgement_id, "runs")
    link = next_link(request, found.next_cursor)
    return await tabular_response(media, rejudged_run_rows(found.items), name, headers=link)


@internal.post("/preview", response_model=PreviewAnswer)
async def preview(request: Request, session: SessionDep, body: PreviewRequest) -> PreviewAnswer:
    """The judged runs whose governing version would change if these versions were in force (nothing is kept)."""
    try:
        changes = await service.preview(session, request.app.state.projection, body.version, body.superseded)
    except (KeyError, ValueError, TypeError) as err:
        raise invalid("version", f"not a commitment version: {err}") from None
    return PreviewAnswer(
        runs_changing=len(changes),
        runs=[RejudgedRun.from_record(c.record()) for c in changes[: body.limit]],
    )


def _public(row: dict[str, object], changes: list[dict[str, object]]) -> RejudgementPublic:
    return RejudgementPublic.model_validate({**row, "state_changes": [StateChange.model_validate(c) for c in changes]})
