"""The plumbing every process of the suite has, checked on the gateway against a real Postgres.

The gateway produces no feed and has no internal routes (`/internal/...` is a 404 here, never routed),
so the feed conformance tests skip themselves (`produces_feed=False`), and the ones about /internal and
/metrics (which needs credentials on the gateway, the one public process) are replaced below by the
gateway's own versions.
"""

import httpx
import pytest
from conftest import GatewayFactory, new_key
from pledge_dev.conformance import *  # noqa: F403  (the shared conformance tests run against the gateway)
from pledge_gateway.routes import Scope
from sqlalchemy.ext.asyncio import AsyncEngine

NO_FEED = "the gateway produces no feed and serves no /internal routes"
test_internal_routes_require_the_service_token = pytest.mark.skip(reason=NO_FEED)(
    test_internal_routes_require_the_service_token  # noqa: F405
)
NEEDS_CREDENTIALS = "the gateway's /metrics needs credentials (gateway/tests/test_route_metrics.py)"
test_metrics_count_requests_by_route = pytest.mark.skip(reason=NEEDS_CREDENTIALS)(
    test_metrics_count_requests_by_route  # noqa: F405
)
test_metrics_show_the_database_pool = pytest.mark.skip(reason=NEEDS_CREDENTIALS)(
    test_metrics_show_the_database_pool  # noqa: F405
)


async def test_internal_paths_are_404_on_the_gateway_even_with_the_service_token(
    client: httpx.AsyncClient, internal_headers: dict[str, str]
) -> None:
    response = await client.get("/internal/v1/events", headers=internal_headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_metrics_need_the_metrics_token_or_the_admin_scope(
    make_gateway: GatewayFactory, engine: AsyncEngine, admin_key: str
) -> None:
    reader, _ = await new_key(engine, [Scope.reports_read])
    async with make_gateway(metrics_token="scrape-token-for-tests") as gw:
        await gw.get("/healthz")
        anonymous = await gw.get("/metrics")
        wrong = await gw.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        partner = await gw.get("/metrics", headers={"Authorization": f"Bearer {reader}"})
        scraper = await gw.get("/metrics", headers={"Authorization": "Bearer scrape-token-for-tests"})
        admin = await gw.get("/metrics", headers={"X-API-Key": admin_key})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert wrong.status_code == 401
    assert partner.status_code == 403
    assert scraper.status_code == 200
    assert 'route="/healthz"' in scraper.text
    assert "http_request_duration_seconds_bucket" in scraper.text
    assert admin.status_code == 200


async def test_metrics_without_a_token_configured_need_the_admin_scope(
    make_gateway: GatewayFactory, admin_key: str
) -> None:
    async with make_gateway() as gw:
        empty = await gw.get("/metrics", headers={"Authorization": "Bearer "})
        admin = await gw.get("/metrics", headers={"Authorization": f"Bearer {admin_key}"})
    assert empty.status_code == 401
    assert admin.status_code == 200
