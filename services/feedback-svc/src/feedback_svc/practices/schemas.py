"""HTTP contract of practices."""

import uuid
from typing import Annotated, Any

from pledge_common.instants import Instant
from pydantic import BaseModel, Field

from feedback_svc.common import Input, Key, LongText, Text200

Keys = Annotated[list[Key], Field(max_length=20)]
Tags = Annotated[list[Annotated[str, Field(min_length=1, max_length=50)]], Field(max_length=20)]


class PracticeCreate(Input):
    title: Text200 | None = Field(default=None, description="required unless from_action (default: its title)")
    body: LongText | None = Field(default=None, description="required unless from_action (default: its description)")
    tags: Tags = []
    process_keys: Keys = Field(default=[], alias="processes")
    node_keys: Keys = Field(default=[], alias="nodes")
    root_causes: Keys = []
    from_action: uuid.UUID | None = Field(
        default=None,
        description="a corrective action verified effective: its process and node are linked and its "
        "before/after figures attached",
    )


class PracticeSummary(BaseModel):
    id: uuid.UUID
    title: str
    tags: list[str]
    process_keys: list[str] = Field(serialization_alias="processes")
    node_keys: list[str] = Field(serialization_alias="nodes")
    root_causes: list[str]
    action_id: uuid.UUID | None = Field(serialization_alias="from_action")
    created_at: Instant


class PracticePublic(PracticeSummary):
    body: str
    figures: dict[str, Any] | None = Field(
        description="the corrective action's effectiveness when it was turned into a practice (before/after)"
    )
    created_by: str
