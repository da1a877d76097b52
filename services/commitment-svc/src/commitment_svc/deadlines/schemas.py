from uuid import UUID

from pledge_common.durations import Duration, LimitText
from pydantic import Field

from commitment_svc.commitments.schemas import LIMIT_HELP, LimitUnit
from commitment_svc.core.schemas import Input, Instant, Key, Output


class PauseIn(Input):
    start: Instant
    end: Instant | None = Field(default=None, description="null: still paused")
    reason: Key


class PreviewTerms(Input):
    limit_unit: LimitUnit = "duration"
    commitment_limit: LimitText = Field(description=LIMIT_HELP, examples=["PT6H"])
    tolerance_limit: LimitText = Field(description=LIMIT_HELP, examples=["PT10H"])
    calendar_key: Key = Field(default="24x7", alias="calendar")
    allowed_pause_reasons: list[Key] | None = Field(
        default=None, description="pause reasons that stop the clock (null: every pause given)"
    )
    prewarning_fraction: float = Field(default=0.8, gt=0, lt=1)


class DeadlinePreviewRequest(Input):
    start: Instant = Field(description="when the node run started")
    commitment_id: UUID | None = Field(default=None, description="a stored commitment version …")
    commitment: PreviewTerms | None = Field(default=None, description="… or limits and a calendar given here")
    pauses: list[PauseIn] = Field(default_factory=list, max_length=1000)
    at: Instant | None = Field(default=None, description="also judge a run still in progress as of this instant")
    completed_at: Instant | None = Field(default=None, description="also judge a run completed at this instant")


class Judgment(Output):
    at: Instant
    counted: Duration = Field(description="counted working time (whole seconds, rounded up)")
    state: str = Field(description="one of the seven states, e.g. in_progress_normal")


class DeadlinePreview(Output):
    start: Instant
    commitment_id: UUID | None
    calendar_key: str = Field(serialization_alias="calendar")
    limit_unit: LimitUnit
    commitment_limit: LimitText
    tolerance_limit: LimitText
    commitment_counted_limit: Duration = Field(description="the commitment limit as counted time from this start")
    tolerance_counted_limit: Duration
    prewarning_at: Instant | None = Field(description="when counted time reaches the pre-warning fraction")
    commitment_reached_at: Instant | None = Field(description="when counted time first equals the commitment limit")
    commitment_due_at: Instant | None = Field(
        description="the last instant still within the commitment limit (null: the clock stops before it)"
    )
    tolerance_due_at: Instant | None
    pauses_counted: list[PauseIn] = Field(description="the pauses that stopped the clock (allowed reasons)")
    pauses_ignored: list[PauseIn] = Field(description="pauses whose reason the commitment does not allow")
    as_of: Judgment | None
    completed: Judgment | None
