"""A query parameter a route does not declare is a 422 naming it, whatever the route and its dependencies."""

from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, Query
from pledge_common.problems import PROBLEM_JSON, install_problem_handlers
from pledge_common.queryparams import refuse_undeclared_query, undeclared
from pydantic import BaseModel


def period(from_: Annotated[str | None, Query(alias="from")] = None, to: Annotated[str | None, Query()] = None) -> str:
    return f"{from_}..{to}"


class Paging(BaseModel):
    limit: int = 10
    cursor: str | None = None


def app() -> FastAPI:
    application = FastAPI()
    install_problem_handlers(application)
    router = APIRouter()

    @router.get("/report")
    async def report(
        span: Annotated[str, Depends(period)], group_by: Annotated[list[str] | None, Query()] = None
    ) -> dict[str, object]:
        return {"span": span, "group_by": group_by}

    @router.get("/page")
    async def page(paging: Annotated[Paging, Query()]) -> dict[str, object]:
        return paging.model_dump()

    @router.get("/bare")
    async def bare() -> dict[str, str]:
        return {"status": "ok"}

    application.include_router(router, dependencies=[Depends(refuse_undeclared_query)])
    return application


async def get(path: str, params: list[tuple[str, str]]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://t") as client:
        return await client.get(path, params=params)


class TestRefusingUndeclaredQueryParameters:
    async def test_declared_parameters_and_those_of_dependencies_pass(self) -> None:
        response = await get("/report", [("from", "a"), ("to", "b"), ("group_by", "x"), ("group_by", "y")])
        assert response.status_code == 200, response.text
        assert response.json() == {"span": "a..b", "group_by": ["x", "y"]}

    async def test_a_misspelt_parameter_is_422_naming_it(self) -> None:
        response = await get("/report", [("from", "a"), ("groupby", "x"), ("groupby", "y"), ("planet", "z")])
        assert response.status_code == 422
        assert response.headers["content-type"] == PROBLEM_JSON
        assert [e["field"] for e in response.json()["errors"]] == ["query.groupby", "query.planet"]
        assert "group_by" in response.json()["detail"]  # says what the route takes

    async def test_the_python_name_of_an_aliased_parameter_is_not_a_parameter(self) -> None:
        response = await get("/report", [("from_", "a")])
        assert (response.status_code, response.json()["errors"][0]["field"]) == (422, "query.from_")

    async def test_a_model_of_query_parameters_declares_its_fields(self) -> None:
        assert (await get("/page", [("limit", "5"), ("cursor", "c")])).status_code == 200
        assert (await get("/page", [("offset", "5")])).status_code == 422

    async def test_a_route_without_parameters_refuses_any(self) -> None:
        assert (await get("/bare", [])).status_code == 200
        assert (await get("/bare", [("verbose", "1")])).status_code == 422


def test_undeclared_names_each_once_in_order() -> None:
    assert undeclared(["b", "a", "b", "c"], frozenset({"a"})) == ["b", "c"]
