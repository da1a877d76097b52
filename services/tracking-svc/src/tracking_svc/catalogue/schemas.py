"""What the catalogue copy answers."""

from pydantic import BaseModel, Field


class KnownNodePublic(BaseModel):
    key: str
    name: str
    position: int
    department: str | None = Field(description="the node's default responsible department")
    position_key: str | None = Field(description="the node's default responsible position")


class KnownProcessPublic(BaseModel):
    key: str
    name: str
    nodes: list[KnownNodePublic] = Field(description="in the process's node order")
