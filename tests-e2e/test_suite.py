"""The suite as a user meets it: every process up, ready, behind one gateway, leaving nothing behind."""

import httpx
import psutil
from pledge_dev.suite import COMPONENTS, Suite


async def test_every_service_answers_ready_directly(suite: Suite) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        for component in COMPONENTS:
            response = await client.get(f"{suite.url(component)}/readyz")
            assert response.status_code == 200, (component, response.text)


async def test_each_service_is_its_own_process(suite: Suite) -> None:
    pids = {component: process.pid for component, process in suite.processes.items()}
    assert set(pids) == set(COMPONENTS)
    assert len(set(pids.values())) == len(COMPONENTS)
    assert all(psutil.pid_exists(pid) for pid in pids.values())


async def test_request_id_travels_through_the_gateway(suite: Suite) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"{suite.gateway_url}/healthz", headers={"X-Request-ID": "e2e-trace-1"})
    assert response.headers["x-request-id"] == "e2e-trace-1"


async def test_internal_feed_is_not_reachable_through_the_gateway(suite: Suite) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(
            f"{suite.gateway_url}/internal/v1/events", headers={"Authorization": f"Bearer {suite.service_token}"}
        )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_internal_feed_needs_the_service_token_on_the_service(suite: Suite) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        anonymous = await client.get(f"{suite.url('commitment')}/internal/v1/events")
        with_token = await client.get(
            f"{suite.url('commitment')}/internal/v1/events",
            headers={"Authorization": f"Bearer {suite.service_token}"},
        )
    assert anonymous.status_code == 401
    assert with_token.status_code == 200
