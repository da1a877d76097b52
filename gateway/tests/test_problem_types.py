"""The gateway serves the problem type registry: GET /problems and GET /problems/<slug>, without credentials;
every problem it answers names a type whose page it serves."""

from conftest import GatewayFactory
from pledge_common.problems import PROBLEM_TYPES

PROBLEM = "application/problem+json"


async def test_the_registry_is_served_without_credentials(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        response = await gw.get("/problems")
    assert response.status_code == 200
    items = response.json()["items"]
    assert [i["slug"] for i in items] == list(PROBLEM_TYPES)
    stale = next(i for i in items if i["slug"] == "stale-etag")
    assert stale == {
        "type": "/problems/stale-etag",
        "slug": "stale-etag",
        "status": 412,
        "title": "Stale ETag",
        "description": PROBLEM_TYPES["stale-etag"].description,
    }


async def test_each_type_uri_is_its_page_and_an_unknown_one_is_a_404(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        page = await gw.get("/problems/rate-limited")
        unknown = await gw.get("/problems/no-such-problem")
    assert page.status_code == 200
    assert page.json()["status"] == 429
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == PROBLEM
    assert unknown.json()["type"] == "/problems/not-found"


async def test_an_unauthenticated_request_answers_a_typed_problem_whose_page_exists(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as gw:
        refused = await gw.get("/v1/departments")
        kind = refused.json()["type"]
        page = await gw.get(kind)
    assert refused.status_code == 401
    assert kind == "/problems/unauthorized"
    assert page.status_code == 200
    assert page.json()["title"] == refused.json()["title"]


async def test_a_missing_scope_is_the_scope_required_type(make_gateway: GatewayFactory, admin_key: str) -> None:
    async with make_gateway() as gw:
        created = await gw.post(
            "/v1/api-keys",
            json={"name": "reader", "scopes": ["reports:read"]},
            headers={"Authorization": f"Bearer {admin_key}"},
        )
        assert created.status_code == 201, created.text
        refused = await gw.get("/v1/departments", headers={"Authorization": f"Bearer {created.json()['key']}"})
    assert refused.status_code == 403
    body = refused.json()
    assert body["type"] == "/problems/scope-required"
    assert body["required_scope"] == "definitions:read"
