from typing import Annotated, Any, Literal
from uuid import UUID

from pledge_common.durations import LimitText
from pydantic import ConfigDict, Field, field_validator

from commitment_svc import feed
from commitment_svc.commitments.kinds import Kind
from commitment_svc.core.schemas import Input, Instant, Key, Name, Output, Text
from commitment_svc.examples import KIND_EXAMPLES

LimitUnit = Literal["duration", "business_days"]
CommitmentStatus = Literal["draft", "negotiating", "active", "retired"]
LIMIT_HELP = (
    'ISO 8601 duration. limit_unit "duration": counted working time, e.g. "PT4H", "PT30M";'
    ' limit_unit "business_days": whole days, "P3D" = end of the working hours of the 3rd working day after'
    " the start day"
)
OBJECTIVE_HELP = (
    "what the kind is judged by besides its limits (docs/kinds.md): availability {max_outages, max_downtime,"
    " planned_maintenance_exempt}; count {direction, limit, tolerance, unit}; frequency {first_due_at};"
    " clause {due_at, tolerance_due_at, requires_sign_off}; null for duration"
)
Objective = Annotated[dict[str, Any] | None, Field(max_length=20, description=OBJECTIVE_HELP)]


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("values must be distinct")
    return values


class CommitmentTerms(Input):
    """The terms a version can change (kind, process, node, service, obligation and segment are fixed)."""

    name: Name | None = None
    description: Text | None = None
    limit_unit: LimitUnit | None = None
    commitment_limit: LimitText | None = Field(default=None, description=LIMIT_HELP, examples=["PT4H"])
    tolerance_limit: LimitText | None = Field(default=None, description=LIMIT_HELP, examples=["PT8H"])
    calendar_key: Key | None = Field(default=None, alias="calendar")
    allowed_pause_reasons: list[Key] | None = Field(default=None, max_length=50)
    owner_department: Key | None = None
    owner_position: Key | None = None
    prewarning_fraction: float | None = Field(default=None, gt=0, lt=1)
    effective_from: Instant | None = Field(default=None, description="proposed start of validity")
    objective: Objective = None

    @field_validator("allowed_pause_reasons")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        return _unique(value) if value is not None else value


class CommitmentCreate(Input):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": KIND_EXAMPLES})

    key: Key = Field(description="the commitment's stable key; its versions share it")
    kind: Kind = Field(default="duration", description="what is promised (docs/kinds.md); fixed for a commitment")
    name: Name | None = None
    description: Text = ""
    process_key: Key | None = Field(alias="process", default=None, description="duration: the process (required)")
    node_key: Key | None = Field(alias="node", default=None, description="null: the whole process end to end")
    service_key: Key | None = Field(
        alias="service", default=None, description="the other kinds: the service (GET /v1/services) promised"
    )
    obligation_key: Key | None = Field(
        alias="obligation",
        default=None,
        description="count, frequency, clause: what is measured or owed, e.g. `db-backup` (null for availability)",
    )
    segment_key: Key = Field(default="default", alias="segment")
    limit_unit: LimitUnit = "duration"
    commitment_limit: LimitText | None = Field(
        default=None, description=LIMIT_HELP + " (null for count and clause)", examples=["PT4H"]
    )
    tolerance_limit: LimitText | None = Field(
        default=None, description=LIMIT_HELP + " (null for count and clause)", examples=["PT8H"]
    )
    calendar_key: Key = Field(default="24x7", alias="calendar")
    allowed_pause_reasons: list[Key] = Field(default_factory=list, max_length=50)
    owner_department: Key | None = None
    owner_position: Key | None = None
    prewarning_fraction: float = Field(default=0.8, gt=0, lt=1)
    effective_from: Instant | None = Field(default=None, description="proposed start of validity")
    objective: Objective = None

    @field_validator("allowed_pause_reasons")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return _unique(value)


class CommitmentUpdate(CommitmentTerms):
    """Changes to a draft or negotiating version (fields left out stay as they are)."""


class CommitmentVersionCreate(CommitmentTerms):
    """A new draft version: the base version's terms with these changes."""


class CommitmentTransition(Input):
    to: Literal["draft", "negotiating", "active", "retired"]
    effective_from: Instant | None = Field(
        default=None, description="to active: when the version starts to govern (default: its proposed start, or now)"
    )
    effective_to: Instant | None = Field(default=None, description="to retired: when it stops governing (default now)")
    reason: Text | None = None
    rejudge: bool = Field(
        default=False,
        description="to active from an instant in the past: re-judge the judged runs whose governing version this"
        " changes (refused with 409 otherwise); an audited act (GET /v1/reports/rejudgements)",
    )


class HistoryEntry(Output):
    status: str
    at: Instant
    by: str
    reason: str | None = None


class CommitmentPublic(Output):
    id: UUID
    commitment_key: str = Field(serialization_alias="key")
    version: int
    kind: Kind
    name: str
    description: str
    process_key: str | None = Field(serialization_alias="process")
    node_key: str | None = Field(serialization_alias="node")
    service_key: str | None = Field(serialization_alias="service")
    obligation_key: str | None = Field(serialization_alias="obligation")
    segment_key: str = Field(serialization_alias="segment")
    limit_unit: LimitUnit
    commitment_limit: LimitText | None
    tolerance_limit: LimitText | None
    calendar_key: str = Field(serialization_alias="calendar")
    allowed_pause_reasons: list[str]
    owner_department: str | None
    owner_position: str | None
    prewarning_fraction: float
    status: CommitmentStatus
    effective_from: Instant | None
    effective_to: Instant | None
    objective: dict[str, Any] | None
    history: list[HistoryEntry]
    created_at: Instant
    updated_at: Instant

    def feed_payload(self) -> dict[str, Any]:
        return feed.payload("commitment.upserted", self)
