"""HTTP contract of reply reviews and reply accuracy."""

import uuid
from typing import Annotated, Literal

from pledge_common.instants import Instant
from pydantic import BaseModel, Field

from feedback_svc.common import AwareDatetime, Input, Key, Text200

Reason = Annotated[str, Field(min_length=1, max_length=2000)]
AccuracyDimension = Literal["period", "department", "process", "category", "none"]


class ReplyReviewCreate(Input):
    source: Key = Field(description="the system holding the reply (CRM, call centre…)")
    reply_ref: Text200 = Field(alias="reply", description="the reply's id there: (source, reply) is reviewed once")
    complaint: uuid.UUID | None = Field(default=None, description="the complaint the reply answered")
    inquiry: Text200 | None = Field(default=None, description="else the inquiry it answered (its id in the source)")
    department: Key | None = Field(
        default=None, description="the department that replied (default: the complaint's owning department)"
    )
    process: Key | None = Field(default=None, description="the process it concerns (default: the complaint's)")
    category: Key | None = Field(default=None, description="the category (default: the complaint's)")
    replied_at: AwareDatetime = Field(description="when the reply was given: the period it counts in")
    accurate: bool = Field(description="the reviewer's verdict")
    reviewer: Text200 = Field(description="the quality reviewer")
    reason: Reason | None = Field(default=None, description="why; required when the reply is not accurate")
    reviewed_at: AwareDatetime | None = Field(default=None, description="default: now")


class ReplyReviewPublic(BaseModel):
    id: uuid.UUID
    source: str
    reply_ref: str = Field(serialization_alias="reply")
    complaint: uuid.UUID | None
    inquiry: str | None
    department: str
    process: str | None
    category: str
    replied_at: Instant
    accurate: bool
    reviewer: str
    reason: str | None
    reviewed_at: Instant
    recorded_by: str


class AccuracyRow(BaseModel):
    period: Instant | None = None
    department: str | None = None
    process: str | None = None
    category: str | None = None
    reviewed: int = Field(description="replies given in the period and reviewed")
    accurate: int = Field(description="of those, judged accurate")
    inaccurate: int
    accuracy: float | None = Field(description="accurate / reviewed (null: nothing reviewed)")


class ReplyAccuracy(BaseModel):
    start: Instant | None = Field(serialization_alias="from")
    end: Instant | None = Field(serialization_alias="to")
    group_by: AccuracyDimension
    bucket: str
    timezone: str
    totals: AccuracyRow
    groups: list[AccuracyRow]
