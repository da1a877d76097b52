from typing import Any

from pledge_common.instants import Instant
from pydantic import Field, field_validator

from commitment_svc import feed
from commitment_svc.core.schemas import Input, Key, Name, Output, Text


class NodeFields(Input):
    name: Name
    department: Key | None = Field(default=None, description="the responsible department")
    position_key: Key | None = Field(default=None, description="the responsible position within that department")


class NodeIn(NodeFields):
    key: Key


class NodeUpsert(NodeFields):
    position: int | None = Field(
        default=None, ge=1, description="1-based place in the order (default: keep its place, or append)"
    )


class ProcessUpsert(Input):
    name: Name
    description: Text = ""
    owner_department: Key | None = None
    nodes: list[NodeIn] = Field(default_factory=list, max_length=200, description="the ordered nodes (关键点)")

    @field_validator("nodes")
    @classmethod
    def _unique_nodes(cls, value: list[NodeIn]) -> list[NodeIn]:
        seen: set[str] = set()
        for node in value:
            if node.key in seen:
                raise ValueError(f"node key `{node.key}` appears twice")
            seen.add(node.key)
        return value


class NodePublic(Output):
    key: str
    name: str
    position: int
    department: str | None
    position_key: str | None


class ProcessPublic(Output):
    key: str
    name: str
    description: str
    owner_department: str | None
    nodes: list[NodePublic]
    version: int
    created_at: Instant
    updated_at: Instant

    def feed_payload(self) -> dict[str, Any]:
        return feed.payload("process.upserted", self)
