"""ETags from a row version: `If-Match` on writes (412 stale, 428 when required and missing) and
`If-None-Match` on reads (304, no body), for definitions that people edit.

    @router.get("/{id}")
    async def get_thing(id: UUID, request: Request, response: Response, session: SessionDep) -> ThingPublic | Response:
        row = await service.get(session, id)
        if (unchanged := not_modified(request, row.row_version)) is not None:
            return unchanged
        set_etag(response, row.row_version)
        return public(row)
"""

from typing import Annotated

from fastapi import Header, Request, Response

from pledge_common.problems import PreconditionFailed, PreconditionRequired

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="the ETag you last read; a stale one is a 412 (someone changed the resource since)",
    ),
]


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
    candidates = _tags(if_match)
    if "*" in candidates or etag_of(row_version) in candidates:
        return
    raise PreconditionFailed(
        f"the resource changed since you read it (current ETag {etag_of(row_version)})",
        errors=[{"field": "header.If-Match", "message": f"stale; current ETag is {etag_of(row_version)}"}],
        current_etag=etag_of(row_version),
    )


def _tags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


def not_modified(request: Request, row_version: int) -> Response | None:
    """A 304 (ETag set, no body) when the request's `If-None-Match` names this version (or `*`); else None."""
    header = request.headers.get("if-none-match")
    if header is None:
        return None
    tags = _tags(header)
    if "*" in tags or etag_of(row_version) in tags:
        return Response(status_code=304, headers={"ETag": etag_of(row_version)})
    return None
