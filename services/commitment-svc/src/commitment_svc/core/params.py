"""Query and header parameters shared by the routers (`IfMatch` is the shared one of `pledge_common.etags`)."""

from typing import Annotated, Any

from fastapi import Body, Path
from pledge_common.etags import IfMatch

from commitment_svc.core.schemas import KEY_PATTERN

MergePatch = Annotated[
    dict[str, Any],
    Body(
        media_type="application/merge-patch+json",
        description="the fields to change (JSON merge patch; application/json is accepted too): a field sent"
        " replaces its value whole, null resets it to its default; the result must be a valid full body",
    ),
]

KeyPath = Annotated[str, Path(pattern=KEY_PATTERN, description="a key: lowercase letters, digits, `_`, `-`")]

__all__ = ["IfMatch", "KeyPath", "MergePatch"]
