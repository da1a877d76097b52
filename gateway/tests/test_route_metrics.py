"""The gateway labels its metrics and access log with route templates, never paths, and keeps long-polls apart."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from conftest import GatewayFactory
from pledge_dev.metrics import Samples, delta, label_values, samples
from pledge_gateway.edge import access_log
from pledge_gateway.routes import match_route, route_template

SCRAPE = "scrape-token-for-tests"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def scrape(gw: httpx.AsyncClient) -> Samples:
    response = await gw.get("/metrics", headers=auth(SCRAPE))
    assert response.status_code == 200
    return samples(response.text)


@contextmanager
def access_lines() -> Iterator[list[logging.LogRecord]]:
    """The access log's records, DEBUG included (inside the gateway's lifespan, which sets the log up)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    access_log.addHandler(handler)
    level = access_log.level
    access_log.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        access_log.removeHandler(handler)
        access_log.setLevel(level)


class TestRouteTemplate:
    def test_the_service_template_is_taken_within_the_route(self) -> None:
        route = match_route("/v1/tickets/src-1")
        assert route is not None
        assert route_template(route, "/v1/tickets/{ticket_id}") == "/v1/tickets/{ticket_id}"

    def test_a_template_outside_the_route_falls_back_to_the_route_table(self) -> None:
        route = match_route("/v1/tickets/src-1")
        assert route is not None
        assert route_template(route, "/v1/api-keys") == "/v1/tickets"
        assert route_template(route, "/internal/v1/events") == "/v1/tickets"

    def test_without_a_service_template_the_route_table_entry_is_the_label(self) -> None:
        route = match_route("/v1/reports/agreements/a-1/settlements/2026-03")
        assert route is not None
        assert route_template(route, None) == "/v1/reports/agreements/{id}/settlements"


async def test_proxied_calls_are_labelled_with_the_service_template(
    make_gateway: GatewayFactory, admin_key: str
) -> None:
    async with make_gateway(metrics_token=SCRAPE) as gw:
        with access_lines() as lines:
            before = await scrape(gw)
            named = await gw.get(
                "/v1/alerts/a-1", params={"route_template": "/v1/alerts/{alert_id}"}, headers=auth(admin_key)
            )
            rogue = await gw.get(
                "/v1/departments/d-1", params={"route_template": "/v1/api-keys"}, headers=auth(admin_key)
            )
            plain = await gw.get("/v1/alerts/a-2", headers=auth(admin_key))
            missing = await gw.get("/v1/no-such-route/x", headers=auth(admin_key))
            after = await scrape(gw)
    assert named.status_code == rogue.status_code == plain.status_code == 200
    assert "x-pledge-route" not in named.headers  # never passed on to the client
    assert missing.status_code == 404
    routes = label_values(after, "http_requests_total", "route")
    assert {"/v1/alerts/{alert_id}", "/v1/departments", "/v1/alerts", "unmatched"} <= routes
    assert not any(r.startswith(("/v1/alerts/a-", "/v1/departments/d-")) for r in routes)  # never a path
    assert delta(before, after, "http_requests_total", route="/v1/alerts/{alert_id}", status="200") == 1
    assert delta(before, after, "http_request_duration_seconds_count", route="/v1/alerts") == 1
    logged = {r.getMessage(): getattr(r, "route", None) for r in lines}
    assert logged["GET /v1/alerts/a-1 200"] == "/v1/alerts/{alert_id}"
    assert logged["GET /v1/departments/d-1 200"] == "/v1/departments"


async def test_a_long_poll_is_counted_apart_and_logged_at_debug(make_gateway: GatewayFactory, admin_key: str) -> None:
    async with make_gateway(metrics_token=SCRAPE) as gw:
        with access_lines() as lines:
            before = await scrape(gw)
            polled = await gw.get("/v1/alerts", params={"wait": "0.01"}, headers=auth(admin_key))
            listed = await gw.get("/v1/alerts", params={"wait": "0"}, headers=auth(admin_key))
            after = await scrape(gw)
    assert polled.status_code == listed.status_code == 200
    assert delta(before, after, "http_long_poll_requests_total", route="/v1/alerts", status="200") == 1
    assert delta(before, after, "http_long_poll_duration_seconds_count", route="/v1/alerts") == 1
    assert delta(before, after, "http_requests_total", route="/v1/alerts", status="200") == 1  # the `wait=0` one
    assert sorted(r.levelno for r in lines if r.getMessage() == "GET /v1/alerts 200") == [
        logging.DEBUG,
        logging.INFO,
    ]
