"""Shapes of re-judging: the internal preview, and the public record of each act."""

import math
from datetime import timedelta
from typing import Any

from pledge_common.durations import Duration
from pledge_common.instants import Instant
from pledge_common.pagination import Page
from pydantic import BaseModel, ConfigDict, Field


class PreviewRequest(BaseModel):
    """Versions as they would be after a change (commitment-svc's feed payloads)."""

    model_config = ConfigDict(extra="forbid")

    version: dict[str, Any] = Field(description="the version to put in force, with its `effective_from`")
    superseded: list[dict[str, Any]] = Field(default_factory=list, max_length=50, description="versions it ends")
    limit: int = Field(default=100, ge=0, le=1000, description="how many of the runs to list")


class JudgedAs(BaseModel):
    commitment_key: str | None = Field(description="the governing commitment (null: none governed it)")
    version: int | None = Field(description="its version number")
    state: str | None = Field(description="the run's state (as of the act, for a run still in progress)")
    counted: Duration | None = Field(description="counted time at completion, rounded up to whole seconds")


class RejudgedRun(BaseModel):
    run_id: str
    kind: str = Field(description="`node` or `ticket` (end to end)")
    ticket_id: str
    source: str
    external_id: str | None = Field(description="the work-order number in its source system")
    process_key: str
    node_key: str | None
    segment: str
    started_at: Instant
    ended_at: Instant | None
    before: JudgedAs
    after: JudgedAs

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> "RejudgedRun":
        def judged(side: str) -> JudgedAs:
            seconds = r[f"{side}_counted_seconds"]
            return JudgedAs(
                commitment_key=r[f"{side}_commitment_key"],
                version=r[f"{side}_version"],
                state=r[f"{side}_state"],
                counted=None if seconds is None else timedelta(seconds=math.ceil(seconds)),
            )

        return cls(
            **{k: r[k] for k in cls.model_fields if k not in {"before", "after"}},
            before=judged("before"),
            after=judged("after"),
        )


class PreviewAnswer(BaseModel):
    runs_changing: int = Field(description="judged runs whose governing version would change")
    runs: list[RejudgedRun] = Field(description="the first of them, by start")


class StateChange(BaseModel):
    before_state: str | None
    after_state: str | None
    runs: int


class RejudgementPublic(BaseModel):
    """One audited act: a version put in force from a past instant, and the runs it re-judged."""

    id: str
    commitment_key: str = Field(serialization_alias="commitment")
    version: int
    version_id: str
    effective_from: Instant = Field(description="the version governs runs started from this instant")
    requested_by: str = Field(description="who asked (the caller of the activation)")
    requested_at: Instant
    reason: str | None
    runs_expected: int = Field(description="runs the check before the act found would change")
    runs: int = Field(description="runs re-judged when the act was carried out")
    applied_at: Instant
    state_changes: list[StateChange] = Field(description="how many runs went from each state to each state")


RejudgementPage = Page[RejudgementPublic]
RejudgedRunPage = Page[RejudgedRun]
