"""HTTP contract of risk points (服务协同风险点)."""

import uuid
from typing import Annotated, Literal

from pledge_common.instants import Instant
from pydantic import BaseModel, Field

from feedback_svc.common import Input, Key, LongText, Text200

RiskLevel = Literal["low", "medium", "high"]


class Control(Input):
    description: Annotated[str, Field(min_length=1, max_length=2000)]
    frequency: Text200 | None = Field(default=None, description="e.g. every work order, weekly, monthly review")


class Owner(Input):
    department: Key
    person: Text200 | None = None


class RiskPointWrite(Input):
    title: Text200
    description: LongText | None = None
    level: RiskLevel = "medium"
    process_key: Key | None = Field(default=None, alias="process")
    node_key: Key | None = Field(default=None, alias="node", description="a node of the process")
    department: Key | None = None
    controls: Annotated[list[Control], Field(min_length=1, max_length=20)]
    owner: Owner
    kpi_keys: Annotated[list[Key], Field(max_length=20, alias="kpis")] = []
    alert_refs: Annotated[list[Key], Field(max_length=50, alias="alerts")] = Field(
        default=[], description="alert rules or alerts (evaluation-svc) the risk point explains"
    )


class RiskOwnerPublic(BaseModel):
    department: str
    person: str | None


class ControlPublic(BaseModel):
    description: str
    frequency: str | None = None


class RiskPointPublic(BaseModel):
    id: uuid.UUID
    title: str
    description: str | None
    level: RiskLevel
    process_key: str | None = Field(serialization_alias="process")
    node_key: str | None = Field(serialization_alias="node")
    department: str | None
    controls: list[ControlPublic]
    owner: RiskOwnerPublic
    kpi_keys: list[str] = Field(serialization_alias="kpis")
    alert_refs: list[str] = Field(serialization_alias="alerts")
    version: int
    created_at: Instant
    updated_at: Instant
