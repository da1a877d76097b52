"""Public shapes of alerts."""

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

AlertLevel = Literal["prewarning", "acceptable", "warning"]
AlertState = Literal["open", "acknowledged"]


class AlertPublic(BaseModel):
    id: uuid.UUID
    node_run_id: str
    ticket_id: str
    cycle: int
    level: AlertLevel = Field(
        description="`prewarning`: the pre-warning point passed; `acceptable`: the commitment limit crossed; "
        "`warning`: the tolerance limit crossed"
    )
    kind: str
    process_key: str
    node_key: str | None
    segment: str
    department: str | None
    position: str | None
    source: str
    commitment_id: str | None
    commitment_key: str | None
    due_at: datetime = Field(description="the due instant that was passed")
    raised_at: datetime
    state: AlertState
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    note: str | None

    def event_payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class AlertPage(BaseModel):
    items: list[AlertPublic]
    next_cursor: str | None


class AlertAcknowledge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)
