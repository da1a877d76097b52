"""The HTTP contract of corrective actions."""

import uuid
from datetime import date
from typing import Annotated, Literal

from pledge_common.instants import Instant
from pydantic import BaseModel, Field

from feedback_svc.actions.rules import ActionStatus, ActionTarget
from feedback_svc.common import AwareDatetime, Input, Key, LongText, Text200

LinkKind = Literal["complaint", "recommendation", "survey_gap"]


class LinkIn(Input):
    kind: LinkKind
    ref: Text200 = Field(
        description="complaint id; evaluation-svc recommendation id; or `<instrument>:<dimension or item>`"
    )


class ActionCreate(Input):
    title: Text200
    description: LongText
    owner_department: Key
    due_date: date
    process_key: Key | None = Field(
        alias="process", default=None, description="the process whose achievement it should raise"
    )
    node_key: Key | None = Field(alias="node", default=None, description="narrow the effectiveness check to one node")
    effectiveness_weeks: Annotated[int, Field(ge=1, le=52)] = 4
    links: Annotated[list[LinkIn], Field(min_length=1, max_length=50)] = Field(description="what caused it")


class ActionTransitionCreate(Input):
    to: ActionTarget
    by: Text200 | None = None
    at: AwareDatetime | None = None
    note: Annotated[str, Field(min_length=1, max_length=4000)] | None = None


class LinkPublic(BaseModel):
    kind: LinkKind
    ref: str


class ActionTransitionPublic(BaseModel):
    seq: int
    from_status: str | None
    to_status: str
    at: Instant
    by: str
    note: str | None


class WindowFigures(BaseModel):
    start: Instant = Field(serialization_alias="from")
    end: Instant = Field(serialization_alias="to")
    runs: int
    normal: int
    achievement_rate: float | None


class Effectiveness(BaseModel):
    available: bool
    detail: str | None = None
    process_key: str = Field(serialization_alias="process")
    node_key: str | None = Field(serialization_alias="node")
    weeks: int
    before: WindowFigures | None = None
    after: WindowFigures | None = None
    after_complete: bool = Field(default=False, description="the N weeks after completion have all passed")
    change: float | None = Field(default=None, description="after - before achievement rate")


class ActionSummary(BaseModel):
    id: uuid.UUID
    title: str
    owner_department: str
    due_date: date
    status: ActionStatus
    overdue: bool
    process_key: str | None = Field(serialization_alias="process")
    node_key: str | None = Field(serialization_alias="node")


class ActionPublic(ActionSummary):
    description: str
    effectiveness_weeks: int
    links: list[LinkPublic]
    started_at: Instant | None
    done_at: Instant | None
    verified_at: Instant | None
    allowed_transitions: list[str]
    history: list[ActionTransitionPublic]
    effectiveness: Effectiveness | None = Field(
        description="achievement before and after completion (from evaluation-svc); null until done"
    )
    created_at: Instant
    updated_at: Instant
