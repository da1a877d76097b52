"""`/v1/surveys`: SERVQUAL instruments, responses and gap results."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status
from pledge_common.db import SessionDep
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.instants import Instant
from pledge_common.pagination import Page, PageParams, paged
from pledge_common.scopes import Scope, scoped

from feedback_svc.common import Bucket, check_period, one_dimension, timezone_named
from feedback_svc.surveys import service
from feedback_svc.surveys.repository import ResponseFilter
from feedback_svc.surveys.schemas import (
    InstrumentCreate,
    InstrumentPublic,
    InstrumentSummary,
    ResponseCreate,
    ResponsePublic,
    SurveyResults,
)
from feedback_svc.upstream import TrackingDep

router = APIRouter(
    prefix="/v1/surveys", tags=["surveys"], dependencies=scoped(Scope.feedback_read, Scope.feedback_write)
)


@router.get("")
async def list_instruments(
    session: SessionDep, request: Request, response: Response, page: PageParams
) -> Page[InstrumentSummary]:
    """Survey instruments: the built-in SERVQUAL 22 first, then custom ones by key."""
    return paged(request, response, await service.list_instruments(session, page.cursor, page.limit))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=InstrumentPublic)
async def create_instrument(data: InstrumentCreate, session: SessionDep, idem: IdempotencyDep) -> Response:
    """A custom instrument: its dimensions and items mapped to them."""

    async def create() -> Answer:
        return Answer(status.HTTP_201_CREATED, await service.create_instrument(session, data))

    return await idem.answer(create, data)


@router.get("/{key}", response_model=InstrumentPublic)
async def get_instrument(key: str, session: SessionDep) -> InstrumentPublic:
    """One instrument with its items."""
    return await service.get_instrument(session, key)


@router.post("/{key}/responses", status_code=status.HTTP_201_CREATED, response_model=ResponsePublic)
async def add_response(
    key: str, data: ResponseCreate, session: SessionDep, tracking: TrackingDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    """One respondent's expectation and perception (1-7) of every item, and optional importance points."""

    async def add() -> Answer:
        return Answer(status.HTTP_201_CREATED, await service.add_response(session, tracking, caller, key, data))

    return await idem.answer(add, data)


@router.get("/{key}/results", response_model=SurveyResults, response_model_by_alias=True)
async def survey_results(
    key: str,
    request: Request,
    session: SessionDep,
    caller: CallerDep,
    start: Annotated[Instant | None, Query(alias="from")] = None,
    end: Annotated[Instant | None, Query(alias="to")] = None,
    group_by: Annotated[
        list[Literal["segment", "period", "none"]] | None, Query(description="the dimension (one; default none)")
    ] = None,
    bucket: Bucket = "month",
    tz: str | None = None,
    segment: str | None = None,
    process_key: Annotated[str | None, Query(alias="process", description="process key")] = None,
) -> SurveyResults:
    """Gaps (perception - expectation) per item and dimension, and the SERVQUAL score, with counts (a partner
    bound to source systems: of the responses it sent)."""
    check_period(start, end)
    zone = timezone_named(tz or request.app.state.settings.report_timezone)
    where = ResponseFilter(key, start, end, segment, process_key, caller.sources)
    return await service.results(session, where, one_dimension(group_by, "none"), bucket, zone)
