"""The plumbing every process of the suite has, checked on the gateway against a real Postgres.

The gateway produces no feed and has no internal routes (`/internal/...` is a 404 here, never routed),
so the feed conformance tests skip themselves (`produces_feed=False`) and the one about /internal is
replaced below by the gateway's own version.
"""

import httpx
import pytest
from pledge_dev.conformance import *  # noqa: F403  (the shared conformance tests run against the gateway)

NO_FEED = "the gateway produces no feed and serves no /internal routes"
test_internal_routes_require_the_service_token = pytest.mark.skip(reason=NO_FEED)(
    test_internal_routes_require_the_service_token  # noqa: F405
)


async def test_internal_paths_are_404_on_the_gateway_even_with_the_service_token(
    client: httpx.AsyncClient, internal_headers: dict[str, str]
) -> None:
    response = await client.get("/internal/v1/events", headers=internal_headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
