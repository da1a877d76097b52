"""The suite as a user meets it: every process up, ready, behind one gateway, leaving nothing behind."""

import asyncio
import json
import uuid

import httpx
import psutil
from pledge_common.internal import internal_headers
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


async def test_request_id_travels_through_the_gateway(suite: Suite, gateway: httpx.AsyncClient) -> None:
    """The id a caller sends comes back, and the service behind the gateway logged its work under it."""
    request_id = f"e2e-trace-{uuid.uuid4().hex}"
    response = await gateway.get("/v1/segments", headers={"X-Request-ID": request_id})
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == request_id
    log = suite.log_dir / "commitment.log"
    for _ in range(50):  # the service writes its log line as the request ends
        if request_id in log.read_text():
            break
        await asyncio.sleep(0.1)
    lines = [json.loads(line) for line in log.read_text().splitlines() if request_id in line]
    assert lines
    assert all(line["request_id"] == request_id for line in lines)


async def test_internal_feed_is_not_reachable_through_the_gateway(suite: Suite) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(
            f"{suite.gateway_url}/internal/v1/events", headers=internal_headers(suite.service_token)
        )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_internal_feed_needs_the_service_token_on_the_service(suite: Suite) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        anonymous = await client.get(f"{suite.url('commitment')}/internal/v1/events")
        with_token = await client.get(
            f"{suite.url('commitment')}/internal/v1/events",
            headers=internal_headers(suite.service_token),
        )
    assert anonymous.status_code == 401
    assert with_token.status_code == 200
