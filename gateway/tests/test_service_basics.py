"""The plumbing every process of the suite has, checked on the gateway against a real Postgres.

The gateway produces no feed and has no internal routes (`/internal/...` is a 404 here, never routed),
so the conformance tests about the feed and the outbox table do not apply to it: they are replaced
below by the gateway's own versions.
"""

import httpx
import pytest
from pledge_dev import migrate
from pledge_dev.conformance import *  # noqa: F403  (the shared conformance tests run against the gateway)
from pledge_dev.conformance import _tables
from pledge_dev.testing import ServiceSpec

NO_FEED = "the gateway produces no feed and serves no /internal routes"
test_internal_routes_require_the_service_token = pytest.mark.skip(reason=NO_FEED)(
    test_internal_routes_require_the_service_token  # noqa: F405
)
test_bad_query_parameter_is_422_naming_the_field = pytest.mark.skip(reason=NO_FEED)(
    test_bad_query_parameter_is_422_naming_the_field  # noqa: F405
)
test_feed_serves_committed_events_in_order = pytest.mark.skip(reason=NO_FEED)(
    test_feed_serves_committed_events_in_order  # noqa: F405
)
test_migrations_go_up_from_empty_and_down_again = pytest.mark.skip(reason="the gateway has no outbox table")(
    test_migrations_go_up_from_empty_and_down_again  # noqa: F405
)


async def test_internal_paths_are_404_on_the_gateway_even_with_the_service_token(
    client: httpx.AsyncClient, internal_headers: dict[str, str]
) -> None:
    response = await client.get("/internal/v1/events", headers=internal_headers)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_gateway_migrations_go_up_from_empty_and_down_again(service_spec: ServiceSpec, fresh_db_url: str) -> None:
    migrate.upgrade(service_spec.alembic_ini, fresh_db_url)
    assert _tables(fresh_db_url, "gateway") == {"alembic_version", "api_keys"}
    migrate.downgrade(service_spec.alembic_ini, fresh_db_url)
    assert _tables(fresh_db_url, "gateway") == {"alembic_version"}
    migrate.upgrade(service_spec.alembic_ini, fresh_db_url)
    assert "api_keys" in _tables(fresh_db_url, "gateway")
