"""The HTTP contract of surveys."""

import uuid
from typing import Annotated, Literal

from pledge_common.instants import Instant
from pydantic import BaseModel, Field, model_validator

from feedback_svc.common import AwareDatetime, Input, Key, Text200

Score = Annotated[int, Field(ge=1, le=7, description="1 (strongly disagree) to 7 (strongly agree)")]


class ItemCreate(Input):
    key: Key
    dimension: Key
    text: Annotated[str, Field(min_length=1, max_length=1000)]


class InstrumentCreate(Input):
    key: Key
    name: Text200
    description: Annotated[str, Field(max_length=4000)] | None = None
    dimensions: Annotated[list[Key], Field(min_length=1, max_length=20)]
    items: Annotated[list[ItemCreate], Field(min_length=1, max_length=200)]


class ItemPublic(BaseModel):
    key: str
    position: int
    dimension: str
    text: str


class InstrumentSummary(BaseModel):
    key: str
    name: str
    description: str | None
    builtin: bool
    dimensions: list[str]
    item_count: int


class InstrumentPublic(InstrumentSummary):
    items: list[ItemPublic]


class AnswerCreate(Input):
    item: Key
    expectation: Score | None = None
    perception: Score | None = None
    skipped: bool = False

    @model_validator(mode="after")
    def _answered_or_skipped(self) -> "AnswerCreate":
        scored = self.expectation is not None or self.perception is not None
        if self.skipped and scored:
            raise ValueError("a skipped item carries no scores")
        if not self.skipped and (self.expectation is None or self.perception is None):
            raise ValueError("answer both `expectation` and `perception` (1-7), or set `skipped: true`")
        return self


class ResponseCreate(Input):
    respondent_ref: Text200 | None = None
    segment: Key | None = None
    process_key: Key | None = Field(default=None, alias="process")
    responded_at: AwareDatetime | None = Field(default=None, description="default: now")
    answers: Annotated[list[AnswerCreate], Field(min_length=1, max_length=200)] = Field(
        description="every item of the instrument, answered or explicitly skipped"
    )
    importance: dict[str, Annotated[int, Field(ge=0, le=100)]] | None = Field(
        default=None, description="optional: 100 points allocated over the dimensions"
    )


class ResponsePublic(BaseModel):
    id: uuid.UUID
    instrument_key: str
    respondent_ref: str | None
    segment: str | None
    process_key: str | None = Field(serialization_alias="process")
    responded_at: Instant
    answered: int
    skipped: int
    importance: dict[str, int] | None


class ItemResult(BaseModel):
    item: str
    dimension: str
    answered: int
    skipped: int
    expectation: float | None
    perception: float | None
    gap: float | None = Field(description="perception - expectation (negative: below expectations)")


class DimensionResult(BaseModel):
    dimension: str
    responses: int
    expectation: float | None
    perception: float | None
    gap: float | None = Field(description="mean over respondents of their mean item gap in the dimension")
    importance: float | None = Field(description="mean points allocated (of 100), over respondents who allocated")


class ResultGroup(BaseModel):
    segment: str | None = None
    period: Instant | None = None
    responses: int
    weighted_responses: int = Field(description="responses with an importance allocation")
    servqual: float | None = Field(description="unweighted SERVQUAL score: mean of the dimension gaps")
    servqual_weighted: float | None = Field(description="importance-weighted SERVQUAL score")
    dimensions: list[DimensionResult]
    items: list[ItemResult]


class SurveyResults(BaseModel):
    instrument_key: str
    start: Instant | None = Field(serialization_alias="from")
    end: Instant | None = Field(serialization_alias="to")
    group_by: Literal["segment", "period", "none"]
    bucket: str
    timezone: str
    groups: list[ResultGroup]
