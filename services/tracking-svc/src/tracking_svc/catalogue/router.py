"""`GET /v1/known-processes/{key}`: a process as tracking-svc knows it (its copy of commitment-svc's feed).

It answers whether events naming the process are accepted here, without asking commitment-svc (which owns
`/v1/processes`; the copy may lag it by the feed's delay)."""

from fastapi import APIRouter, Path
from pledge_common.db import SessionDep
from pledge_common.problems import NotFound
from pledge_common.scopes import Scope, scoped

from tracking_svc.catalogue import repository as repo
from tracking_svc.catalogue.schemas import KnownNodePublic, KnownProcessPublic

router = APIRouter(
    prefix="/v1/known-processes",
    tags=["catalogue"],
    dependencies=scoped(Scope.definitions_read, Scope.definitions_write),
)


@router.get("/{key}", response_model=KnownProcessPublic, responses={404: {"description": "not in the copy"}})
async def get_known_process(session: SessionDep, key: str = Path(description="process key")) -> KnownProcessPublic:
    """A process of tracking-svc's catalogue copy with its nodes; 404 when events naming it would be refused."""
    found = await repo.known_process(session, key)
    if found is None:
        raise NotFound(f"tracking-svc knows no process {key}")
    name, nodes = found
    return KnownProcessPublic(key=key, name=name, nodes=[KnownNodePublic(**n) for n in nodes])
