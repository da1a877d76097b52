"""ETags and If-Match: optimistic concurrency for definitions that people edit."""

from fastapi import Response
from pledge_common.problems import PreconditionFailed, PreconditionRequired


def etag_of(row_version: int) -> str:
    return f'"{row_version}"'


def set_etag(response: Response, row_version: int) -> None:
    response.headers["ETag"] = etag_of(row_version)


def check_if_match(if_match: str | None, row_version: int, *, required: bool) -> None:
    """428 when an update carries no If-Match (and one is required); 412 when it names another version."""
    if if_match is None:
        if required:
            raise PreconditionRequired(
                "this update needs an If-Match header with the ETag you last read (GET the resource first)",
                errors=[{"field": "header.If-Match", "message": "missing"}],
            )
        return
    candidates = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" in candidates or etag_of(row_version) in candidates:
        return
    raise PreconditionFailed(
        f"the resource changed since you read it (current ETag {etag_of(row_version)})",
        errors=[{"field": "header.If-Match", "message": f"stale; current ETag is {etag_of(row_version)}"}],
        current_etag=etag_of(row_version),
    )
