"""Query parameters a route does not declare are refused (422 naming them), never silently ignored.

A client that misspells a filter (`groupby=` for `group_by=`) or sends one a route does not apply would
otherwise get an answer that looks right and is not: the whole table instead of the filtered one. Every
public route of every service gets `refuse_undeclared_query` as a dependency (see app.py); it compares the
request's query keys with the names the route declares, through its dependencies too, read once per route
from FastAPI's own description of the route (the same one its OpenAPI document is built from).
"""

from collections.abc import Iterable

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from pledge_common.problems import Unprocessable, field_error

_ATTRIBUTE = "_pledge_declared_query"  # kept on the route itself: computed once, gone with it


def _query_names(dependant: Dependant) -> Iterable[str]:
    pending, seen = [dependant], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for field in current.query_params:
            model = field.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):  # a model of query parameters
                yield from (f.alias or name for name, f in model.model_fields.items())
            else:
                yield field.alias
        pending.extend(current.dependencies)


def declared_query(route: APIRoute) -> frozenset[str]:
    """The query parameter names a route (with its dependencies) declares."""
    names: frozenset[str] | None = getattr(route, _ATTRIBUTE, None)
    if names is None:
        names = frozenset(_query_names(route.dependant))
        setattr(route, _ATTRIBUTE, names)
    return names


def undeclared(names: Iterable[str], declared: frozenset[str]) -> list[str]:
    """The names not declared, each once, in the order given."""
    return [n for n in dict.fromkeys(names) if n not in declared]


async def refuse_undeclared_query(request: Request) -> None:
    """A 422 naming every query parameter the route does not declare."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    unknown = undeclared(request.query_params.keys(), declared_query(route))
    if unknown:
        known = ", ".join(sorted(declared_query(route))) or "none"
        raise Unprocessable(
            f"unknown query parameter(s) {', '.join(unknown)}; this route takes: {known}",
            errors=[field_error(f"query.{n}", "not a parameter of this route") for n in unknown],
            slug="unknown-field",
        )
