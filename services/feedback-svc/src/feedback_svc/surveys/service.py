"""Survey use cases: instruments, complete responses, gap results."""

import uuid
from collections import Counter

from pledge_common.identity import Caller
from pledge_common.pagination import Page, decode_cursor, encode_cursor
from pledge_common.problems import Conflict, NotFound, Unprocessable, field_error, invalid
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_svc.clients import TrackingClient
from feedback_svc.common import utcnow, written_by
from feedback_svc.surveys.models import SurveyAnswer, SurveyImportance, SurveyInstrument, SurveyItem, SurveyResponse
from feedback_svc.surveys.repository import ResponseFilter, SurveyRepository
from feedback_svc.surveys.schemas import (
    DimensionResult,
    InstrumentCreate,
    InstrumentPublic,
    InstrumentSummary,
    ItemPublic,
    ItemResult,
    ResponseCreate,
    ResponsePublic,
    ResultGroup,
    SurveyResults,
)
from feedback_svc.upstream import require_known_process

IMPORTANCE_TOTAL = 100


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


async def list_instruments(session: AsyncSession, cursor: str | None, limit: int) -> Page[InstrumentSummary]:
    """One page of instruments: built-in ones first, then custom ones by key."""
    after = decode_cursor(cursor, _boolean, str)
    rows = await SurveyRepository(session).instruments((after[0], after[1]) if after else None, limit + 1)
    items = [InstrumentSummary(**i.model_dump(exclude={"created_at"}), item_count=n) for i, n in rows[:limit]]
    last = items[-1] if items else None
    return Page(
        items=items, next_cursor=encode_cursor(not last.builtin, last.key) if last and len(rows) > limit else None
    )


def _boolean(value: object) -> bool:
    """A cursor kind: a JSON boolean, nothing else (`bool("x")` would be True)."""
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not a boolean")
    return value


async def _instrument(repository: SurveyRepository, key: str) -> tuple[SurveyInstrument, list[SurveyItem]]:
    instrument = await repository.instrument(key)
    if instrument is None:
        raise NotFound(f"no survey instrument {key!r}")
    return instrument, await repository.items(key)


async def get_instrument(session: AsyncSession, key: str) -> InstrumentPublic:
    instrument, items = await _instrument(SurveyRepository(session), key)
    return InstrumentPublic(
        **instrument.model_dump(exclude={"created_at"}),
        item_count=len(items),
        items=[ItemPublic(key=i.item_key, position=i.position, dimension=i.dimension, text=i.text) for i in items],
    )


async def create_instrument(session: AsyncSession, data: InstrumentCreate) -> InstrumentPublic:
    if len(set(data.dimensions)) != len(data.dimensions):
        raise invalid("dimensions", "names a dimension twice")
    errors = []
    seen: set[str] = set()
    for n, item in enumerate(data.items):
        if item.key in seen:
            errors.append(field_error(f"items.{n}.key", f"item {item.key!r} appears twice"))
        seen.add(item.key)
        if item.dimension not in data.dimensions:
            errors.append(field_error(f"items.{n}.dimension", f"{item.dimension!r} is not one of `dimensions`"))
    unused = [d for d in data.dimensions if d not in {i.dimension for i in data.items}]
    if unused:
        errors.append(field_error("dimensions", f"no item measures {', '.join(unused)}"))
    if errors:
        raise Unprocessable("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    instrument = SurveyInstrument(
        key=data.key,
        name=data.name,
        description=data.description,
        builtin=False,
        dimensions=list(data.dimensions),
        created_at=utcnow(),
    )
    items = [
        SurveyItem(instrument_key=data.key, item_key=i.key, position=n, dimension=i.dimension, text=i.text)
        for n, i in enumerate(data.items, start=1)
    ]
    if not await SurveyRepository(session).add_instrument(instrument, items):
        raise Conflict(f"a survey instrument {data.key!r} exists already", errors=[field_error("key", "taken")])
    return await get_instrument(session, data.key)


async def add_response(
    session: AsyncSession, tracking: TrackingClient, caller: Caller, key: str, data: ResponseCreate
) -> ResponsePublic:
    repository = SurveyRepository(session)
    instrument, items = await _instrument(repository, key)
    dimension_of = {i.item_key: i.dimension for i in items}
    errors = []
    for n, answer in enumerate(data.answers):
        if answer.item not in dimension_of:
            errors.append(field_error(f"answers.{n}.item", f"{key} has no item {answer.item!r}"))
    twice = [item for item, count in Counter(a.item for a in data.answers).items() if count > 1]
    if twice:
        errors.append(field_error("answers", f"answered more than once: {', '.join(twice)}"))
    missing = [i.item_key for i in items if i.item_key not in {a.item for a in data.answers}]
    if missing:
        errors.append(field_error("answers", f"answer or skip every item; missing: {', '.join(missing)}"))
    if data.importance is not None:
        unknown = [d for d in data.importance if d not in instrument.dimensions]
        if unknown:
            errors.append(field_error("importance", f"not dimensions of {key}: {', '.join(unknown)}"))
        total = sum(data.importance.values())
        if total != IMPORTANCE_TOTAL:
            errors.append(field_error("importance", f"points must add up to {IMPORTANCE_TOTAL}, not {total}"))
    if errors:
        raise Unprocessable("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    if data.process_key is not None:
        await require_known_process(tracking, data.process_key)
    response = SurveyResponse(
        id=uuid.uuid4(),
        instrument_key=key,
        respondent_ref=data.respondent_ref,
        segment=data.segment,
        process_key=data.process_key,
        sources=written_by(caller),
        responded_at=data.responded_at or utcnow(),
        created_at=utcnow(),
    )
    answers = [
        SurveyAnswer(
            response_id=response.id,
            item_key=a.item,
            dimension=dimension_of[a.item],
            expectation=a.expectation,
            perception=a.perception,
            skipped=a.skipped,
        )
        for a in data.answers
    ]
    importance = (
        [
            SurveyImportance(response_id=response.id, dimension=d, points=data.importance.get(d, 0))
            for d in instrument.dimensions
        ]
        if data.importance is not None
        else []
    )
    await repository.add_response(response, answers, importance)
    skipped = sum(a.skipped for a in answers)
    return ResponsePublic(
        **response.model_dump(exclude={"created_at", "sources"}),
        answered=len(answers) - skipped,
        skipped=skipped,
        importance={i.dimension: i.points for i in importance} or None,
    )


async def results(session: AsyncSession, where: ResponseFilter, group_by: str, bucket: str, tz: str) -> SurveyResults:
    repository = SurveyRepository(session)
    instrument, _ = await _instrument(repository, where.instrument_key)
    totals, dimensions, items = await repository.results(where, group_by, bucket, tz)
    order = {d: n for n, d in enumerate(instrument.dimensions)}
    dimensions.sort(key=lambda d: order.get(d.dimension, len(order)))
    groups = []
    for total in totals:
        groups.append(
            ResultGroup(
                segment=total.grp if group_by == "segment" else None,
                period=total.grp if group_by == "period" else None,
                responses=total.responses,
                weighted_responses=total.weighted_responses,
                servqual=_round(total.servqual),
                servqual_weighted=_round(total.servqual_weighted),
                dimensions=[
                    DimensionResult(
                        dimension=d.dimension,
                        responses=d.responses,
                        expectation=_round(d.expectation),
                        perception=_round(d.perception),
                        gap=_round(d.gap),
                        importance=_round(d.importance),
                    )
                    for d in dimensions
                    if d.grp == total.grp
                ],
                items=[
                    ItemResult(
                        item=i.item_key,
                        dimension=i.dimension,
                        answered=i.answered,
                        skipped=i.skipped,
                        expectation=_round(i.expectation),
                        perception=_round(i.perception),
                        gap=_round(i.gap),
                    )
                    for i in items
                    if i.grp == total.grp
                ],
            )
        )
    return SurveyResults(
        instrument_key=where.instrument_key,
        start=where.start,
        end=where.end,
        group_by=group_by,  # type: ignore[arg-type]
        bucket=bucket,
        timezone=tz,
        groups=groups,
    )
