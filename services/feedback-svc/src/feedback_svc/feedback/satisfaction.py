"""Satisfaction by commitment state: feedback read against the states evaluation-svc judged its ticket in."""

from pledge_common.durations import format_seconds, parse_duration
from pledge_common.problems import invalid
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_svc import judgments
from feedback_svc.clients import EvaluationClient, TrackingClient
from feedback_svc.feedback import scores
from feedback_svc.feedback.repository import FeedbackFilter, SatisfactionRepository, counts_of
from feedback_svc.feedback.schemas import (
    DurationBucket,
    NodeStateGroup,
    SatisfactionByState,
    SatisfactionDrop,
    StateGroup,
)
from feedback_svc.upstream import require_known_process

MIN_BUCKET_SECONDS = 60.0


async def satisfaction_by_state(
    session: AsyncSession,
    tracking: TrackingClient,
    evaluation: EvaluationClient,
    where: FeedbackFilter,
    duration_bucket: str,
    csat_threshold: float,
    min_responses: int,
) -> SatisfactionByState:
    assert where.process_key is not None
    try:
        width: float | None = parse_duration(duration_bucket).total_seconds()
    except ValueError:
        width = None
    if width is None or width < MIN_BUCKET_SECONDS:
        raise invalid("query.duration_bucket", "an ISO 8601 duration of at least a minute, e.g. PT1H")
    await require_known_process(tracking, where.process_key, "query.process")
    repository = SatisfactionRepository(session)
    await judgments.refresh(session, evaluation, await repository.ticket_ids(where))
    states, judged, unjudged = await repository.by_ticket_state(where)
    node_states = await repository.by_node_state(where)
    durations = await repository.by_counted_duration(where, width)
    per_node: dict[str, list[tuple[float, scores.Counts]]] = {}
    for row in durations:
        per_node.setdefault(row.node_key, []).append((row.bucket * width, counts_of(row)))
    drops = []
    for node_key, buckets in per_node.items():
        lower = scores.first_drop(buckets, csat_threshold, min_responses)
        drops.append(
            SatisfactionDrop(node_key=node_key, counted_from=format_seconds(lower) if lower is not None else None)
        )
    return SatisfactionByState(
        process_key=where.process_key,
        start=where.start,
        end=where.end,
        duration_bucket=format_seconds(width),
        csat_threshold=csat_threshold,
        min_responses=min_responses,
        tickets=judged,
        tickets_without_judgment=unjudged,
        by_ticket_state=[StateGroup(state=r.state, **scores.figures(counts_of(r))) for r in states],
        by_node_state=[
            NodeStateGroup(node_key=r.node_key, state=r.state, **scores.figures(counts_of(r))) for r in node_states
        ],
        by_counted_duration=[
            DurationBucket(
                node_key=r.node_key,
                counted_from=format_seconds(r.bucket * width),
                counted_to=format_seconds((r.bucket + 1) * width),
                **scores.figures(counts_of(r)),
            )
            for r in durations
        ],
        satisfaction_drop=drops,
    )
