from typing import Any

from pledge_common.instants import Instant
from pydantic import Field, field_validator

from commitment_svc import feed
from commitment_svc.core.schemas import Input, Key, Name, Output


class PositionIn(Input):
    key: Key
    name: Name


class DepartmentUpsert(Input):
    name: Name
    parent_key: Key | None = Field(default=None, description="the parent department (null = top level)")
    positions: list[PositionIn] = Field(default_factory=list, description="positions (岗位) of this department")

    @field_validator("positions")
    @classmethod
    def _unique_positions(cls, value: list[PositionIn]) -> list[PositionIn]:
        seen: set[str] = set()
        for p in value:
            if p.key in seen:
                raise ValueError(f"position key `{p.key}` appears twice")
            seen.add(p.key)
        return value


class PositionPublic(Output):
    key: str
    name: str


class DepartmentPublic(Output):
    key: str
    name: str
    parent_key: str | None
    positions: list[PositionPublic]
    created_at: Instant
    updated_at: Instant

    def feed_payload(self) -> dict[str, Any]:
        return feed.payload("department.upserted", self)
