"""The scope vocabulary, and the check every service makes on its own public routes.

The gateway checks scopes from its route table; each service checks them again from the signed identity
the gateway forwards, so that no routing mistake at the edge can ever grant a scope. A router declares
the scope its reads need and the scope its writes need, exactly as the gateway's table does:

    router = APIRouter(prefix="/v1/webhooks", dependencies=scoped(Scope.alerts_manage))
"""

from dataclasses import dataclass
from enum import StrEnum

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam

from pledge_common.identity import CallerDep, require_scope

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Scope(StrEnum):
    definitions_read = "definitions:read"
    definitions_write = "definitions:write"
    events_write = "events:write"
    ingest_monitoring = "ingest:monitoring"  # monitoring systems' webhooks (Alertmanager): outages only
    tickets_read = "tickets:read"
    reports_read = "reports:read"
    alerts_manage = "alerts:manage"
    feedback_read = "feedback:read"
    feedback_write = "feedback:write"
    complaints_read = "complaints:read"
    complaints_manage = "complaints:manage"
    admin = "admin"


ALL_SCOPES = frozenset(s.value for s in Scope)


@dataclass(frozen=True, slots=True)
class ScopeRequirement:
    """Reads (GET, HEAD, OPTIONS) need `read`; every other method needs `write`."""

    read: Scope
    write: Scope

    def for_method(self, method: str) -> Scope:
        return self.read if method.upper() in READ_METHODS else self.write

    async def __call__(self, request: Request, caller: CallerDep) -> None:
        require_scope(caller, self.for_method(request.method))


def scoped(read: Scope, write: Scope | None = None) -> list[DependsParam]:
    """Dependencies for a router (or a route) whose reads need `read` and writes `write` (`read` if omitted)."""
    return [Depends(ScopeRequirement(read, write if write is not None else read))]
