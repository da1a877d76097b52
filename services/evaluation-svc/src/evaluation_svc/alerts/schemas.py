"""Public shapes of alerts."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pledge_common.instants import Instant
from pledge_common.pagination import Page
from pydantic import BaseModel, ConfigDict, Field, computed_field

AlertLevel = Literal["prewarning", "acceptable", "warning", "page", "ticket"]
AlertState = Literal["open", "acknowledged", "resolved"]
ALERT_STATES: tuple[AlertState, ...] = ("open", "acknowledged", "resolved")


class AlertPublic(BaseModel):
    # an answer and a webhook body, never an input: its schema is the one answers are written in (public names)
    model_config = ConfigDict(json_schema_mode_override="serialization")

    id: uuid.UUID
    node_run_id: str
    ticket_id: str
    cycle: int
    level: AlertLevel = Field(
        description="`prewarning`: the pre-warning point passed; `acceptable`: the commitment limit crossed; "
        "`warning`: the tolerance limit crossed (a frequency commitment: its occurrence missing past the "
        "commitment, past the tolerance); `page` / `ticket`: an availability commitment's error budget burning "
        "(docs/kinds.md)"
    )
    kind: str = Field(
        description="`node`, `ticket` (end to end), or a service commitment's kind: `availability`, `frequency`"
        " (then `node_run_id` names the unit alerted, `ticket_id`, `process` and `source` are empty)"
    )
    process_key: str = Field(serialization_alias="process")
    node_key: str | None = Field(serialization_alias="node")
    segment: str
    department: str | None
    position: str | None
    source: str
    commitment_id: str | None
    commitment_key: str | None = Field(serialization_alias="commitment")
    due_at: Instant = Field(description="the due instant that was passed")
    raised_at: Instant = Field(description="when the level was detected and the alert recorded")
    state: AlertState = Field(
        description="`open` → `acknowledged` (by a person) → `resolved` (by itself, when the run ends); "
        "a resolved alert is never delivered"
    )
    acknowledged_at: Instant | None
    acknowledged_by: str | None
    note: str | None
    resolved_at: Instant | None = Field(description="when the run ended (completed or cancelled)")
    final_state: str | None = Field(
        description="the run's seven-state judgment at its end, e.g. `completed_acceptable`, `cancelled`"
    )
    late: bool = Field(
        description="the level was reached longer ago than EVALUATION_ALERT_LATE_AFTER when it was detected "
        "(a backfill of old work orders): recorded, never delivered"
    )

    @computed_field(description="the instant the level was reached (the run exceeds it right after)")  # type: ignore[prop-decorator]
    @property
    def reached_at(self) -> datetime:
        return self.due_at

    def event_payload(self) -> dict[str, Any]:
        """The alert as the API answers it (public names): the feed's and the webhook bodies' one shape."""
        return self.model_dump(mode="json", by_alias=True)


AlertPage = Page[AlertPublic]


class AlertAcknowledge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)


class AlertUpdate(BaseModel):
    """PATCH: the one change a person makes to an alert is to acknowledge it (alerts resolve by themselves)."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["acknowledged"]
    note: str | None = Field(default=None, max_length=2000)
