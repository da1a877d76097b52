"""The HTTP contract of feedback."""

import uuid
from typing import Annotated, Literal

from pledge_common.durations import Duration
from pledge_common.instants import Instant
from pydantic import BaseModel, Field, model_validator

from feedback_svc.common import AwareDatetime, Input, Key, Text200

Csat = Annotated[int, Field(ge=1, le=5, description="customer satisfaction, 1 (very unsatisfied) to 5")]
Nps = Annotated[int, Field(ge=0, le=10, description="likelihood to recommend, 0 to 10")]
GroupBy = Literal["process", "node", "segment", "department", "channel", "period"]


class FeedbackCreate(Input):
    ticket_id: Text200 | None = Field(default=None, description="the ticket in tracking-svc this is about")
    process_key: Key | None = Field(alias="process", default=None, description="the process, when there is no ticket")
    node_key: Key | None = Field(
        alias="node", default=None, description="attribute to one node only (default: all nodes)"
    )
    department: Text200 | None = Field(default=None, description="department of `node` without a ticket")
    csat: Csat | None = None
    nps: Nps | None = None
    comment: Annotated[str, Field(max_length=4000)] | None = None
    channel: Key = Field(description="how it was collected: sms, web, phone, app…")
    segment: Key | None = Field(default=None, description="customer segment (default: the ticket's)")
    customer_ref: Text200 | None = Field(
        alias="customer", default=None, description="customer reference (default: the ticket's)"
    )
    given_at: AwareDatetime | None = Field(default=None, description="when the customer gave it (default: now)")

    @model_validator(mode="after")
    def _something_to_count(self) -> "FeedbackCreate":
        if self.csat is None and self.nps is None:
            raise ValueError("give `csat` (1-5), `nps` (0-10) or both")
        if self.ticket_id is None and self.process_key is None:
            raise ValueError("give `ticket_id` or `process`")
        return self


class FeedbackUpdate(Input):
    csat: Csat | None = None
    nps: Nps | None = None
    comment: Annotated[str, Field(max_length=4000)] | None = None
    given_at: AwareDatetime | None = None


class FeedbackNodePublic(BaseModel):
    node_key: str = Field(serialization_alias="node")
    department: str | None


class FeedbackPublic(BaseModel):
    id: uuid.UUID
    ticket_id: str | None
    process_key: str = Field(serialization_alias="process")
    nodes: list[FeedbackNodePublic]
    segment: str | None
    customer_ref: str | None = Field(serialization_alias="customer")
    source: str | None = Field(description="the source system of the ticket (null without a ticket)")
    channel: str
    csat: int | None
    nps: int | None
    comment: str | None
    given_at: Instant
    created_at: Instant
    updated_at: Instant


class SatisfactionFigures(BaseModel):
    responses: int
    csat_responses: int
    csat_satisfied: int
    csat: float | None = Field(description="share of CSAT answers that are 4 or 5 (0-1)")
    nps_responses: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None = Field(description="% promoters - % detractors (-100 to 100)")


class SummaryGroup(SatisfactionFigures):
    process_key: str | None = Field(default=None, serialization_alias="process")
    node_key: str | None = Field(default=None, serialization_alias="node")
    segment: str | None = None
    department: str | None = None
    channel: str | None = None
    period: Instant | None = Field(default=None, description="start of the period bucket")


class FeedbackSummary(BaseModel):
    start: Instant | None = Field(serialization_alias="from")
    end: Instant | None = Field(serialization_alias="to")
    group_by: list[GroupBy]
    bucket: str
    timezone: str
    totals: SatisfactionFigures
    groups: list[SummaryGroup]


class StateGroup(SatisfactionFigures):
    state: str


class NodeStateGroup(StateGroup):
    node_key: str = Field(serialization_alias="node")


class DurationBucket(SatisfactionFigures):
    node_key: str = Field(serialization_alias="node")
    counted_from: Duration = Field(description="counted time of the node run, lower bound (inclusive)")
    counted_to: Duration = Field(description="upper bound (exclusive)")


class SatisfactionDrop(BaseModel):
    node_key: str = Field(serialization_alias="node")
    counted_from: Duration | None = Field(
        description="lower bound of the first duration bucket whose CSAT is under the threshold (null: none is)"
    )


class SatisfactionByState(BaseModel):
    process_key: str = Field(serialization_alias="process")
    start: Instant | None = Field(serialization_alias="from")
    end: Instant | None = Field(serialization_alias="to")
    duration_bucket: Duration
    csat_threshold: float
    min_responses: int
    tickets: int = Field(description="tickets with feedback and at least one completed run judged by evaluation-svc")
    tickets_without_judgment: int
    by_ticket_state: list[StateGroup] = Field(
        description="each feedback counted once, under the worst state any node of its ticket completed in"
    )
    by_node_state: list[NodeStateGroup] = Field(description="per node: the state its (last) run completed in")
    by_counted_duration: list[DurationBucket] = Field(description="per node: buckets of counted time")
    satisfaction_drop: list[SatisfactionDrop] = Field(
        description="per node: the counted time from which CSAT falls under the threshold"
    )
