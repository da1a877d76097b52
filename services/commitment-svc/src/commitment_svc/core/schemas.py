"""Base classes and field types of the HTTP contract."""

import re
from typing import Annotated, Any

from fastapi import status
from pledge_common.etags import etag_of
from pledge_common.idempotency import Answer
from pledge_common.instants import Instant  # kept and answered in UTC with `Z`
from pydantic import BaseModel, ConfigDict, StringConstraints

KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
KEY_RE = re.compile(KEY_PATTERN)

Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(max_length=10_000)]


__all__ = ["Input", "Instant", "Key", "Name", "Output", "Text", "created"]


class Input(BaseModel):
    """Request bodies: unknown fields are refused (a typo never silently does nothing)."""

    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def upserted(body: BaseModel, created: bool, version: int) -> Answer:
    """What a PUT answers: the resource created (201) or replaced (200), with the ETag of its version."""
    return Answer(status.HTTP_201_CREATED if created else status.HTTP_200_OK, body, {"ETag": etag_of(version)})


def created(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a PUT that creates what it names when it is new: 201 beside the documented 200."""
    return {201: {"model": model, "description": "Created: nothing had this key yet"}}
