"""HTTP contract of customer events, churn and pain points."""

import uuid
from typing import Literal

from pledge_common.instants import Instant
from pledge_common.pagination import Page
from pydantic import BaseModel, Field

from feedback_svc.common import AwareDatetime, Input, Key, Text200

CustomerEventType = Literal["joined", "left", "plan_changed"]


class CustomerEventCreate(Input):
    source: Key = Field(description="the system that reports the event")
    external_id: Text200 = Field(description="its id in that system: (source, external_id) is sent once")
    customer_ref: Text200 = Field(alias="customer")
    type: CustomerEventType
    at: AwareDatetime
    plan: Key | None = Field(default=None, description="the plan (joined, plan_changed)")


class CustomerEventPublic(BaseModel):
    id: uuid.UUID
    source: str
    external_id: str
    customer_ref: str = Field(serialization_alias="customer")
    type: CustomerEventType
    at: Instant
    plan: str | None


class ChurnRow(BaseModel):
    period: Instant
    active_at_start: int = Field(description="customers whose latest joined/left event before the period is joined")
    left: int = Field(description="of those, customers with a left event in the period")
    joined: int = Field(description="customers with a joined event in the period")
    churn_rate: float | None = Field(description="left / active_at_start")


class ChurnReport(BaseModel):
    start: Instant = Field(serialization_alias="from")
    end: Instant = Field(serialization_alias="to")
    bucket: str
    timezone: str
    periods: list[ChurnRow]


class PainCategory(BaseModel):
    category: str
    complaints: int
    repeats: int


class PainPoint(BaseModel):
    customer_ref: str = Field(serialization_alias="customer")
    index: int = Field(
        description="2 x complaints + repeats + low-CSAT responses + warning runs (docs/voice.md); without the"
        " warning runs when they are `unavailable`"
    )
    complaints: int
    repeats: int
    low_csat: int = Field(description="feedback with CSAT at or below 2 (1-5)")
    warning_runs: int | None = Field(
        description="node runs of the customer's tickets in warning over the period (evaluation-svc); null when"
        " not known (see `unavailable`)"
    )
    by_category: list[PainCategory]


class PainPointsPage(Page[PainPoint]):
    """The page, with the components of the index that could not be counted and why."""

    unavailable: dict[str, str] = Field(
        default={}, description="component -> why it is not in the index (e.g. `warning_runs`: evaluation-svc down)"
    )
