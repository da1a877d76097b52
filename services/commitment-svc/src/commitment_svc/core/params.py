"""Query and header parameters shared by the routers."""

from typing import Annotated, Any

from fastapi import Body, Header, Path, Query

from commitment_svc.core.schemas import KEY_PATTERN

MergePatch = Annotated[
    dict[str, Any],
    Body(
        media_type="application/merge-patch+json",
        description="the fields to change (JSON merge patch; application/json is accepted too): a field sent"
        " replaces its value whole, null resets it to its default; the result must be a valid full body",
    ),
]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="the ETag you last read")]
Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
After = Annotated[str | None, Query(description="the `next` cursor of the previous page")]
AFTER_FIELD = "query.after"  # the field a 422 for a cursor that is not ours names

KeyPath = Annotated[str, Path(pattern=KEY_PATTERN, description="a key: lowercase letters, digits, `_`, `-`")]
