"""The gateway as the one safe entry, between real processes: a partner key does exactly what its scopes
and sources allow and nothing else; services refuse requests that did not come through the gateway."""

import asyncio
import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pledge_common.identity import Caller, identity_headers
from pledge_dev.paths import REPO_ROOT
from pledge_dev.suite import Suite, free_port
from support import bearer

PROBLEM = "application/problem+json"
PROCESS = "gw-isolation"
CRM, BILLING = "gw-crm", "gw-billing"
PARTNER_SCOPES = ["events:write", "tickets:read", "reports:read", "feedback:read", "complaints:read"]


async def create_key(gateway: httpx.AsyncClient, scopes: list[str], sources: list[str] | None = None) -> dict[str, Any]:
    response = await gateway.post(
        "/v1/api-keys", json={"name": f"e2e {uuid.uuid4().hex[:6]}", "scopes": scopes, "sources": sources}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def event(source: str, external_id: str, kind: str, suffix: str, node: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": f"{external_id}-{suffix}",
        "type": kind,
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": source,
        "ticket": {"external_id": external_id, "process": PROCESS},
    }
    if node:
        body["node"] = node
    return body


async def push_until_accepted(client: httpx.AsyncClient, key: str, body: dict[str, Any]) -> dict[str, Any]:
    """Tracking learns processes from commitment's feed: the first event may wait for it."""
    deadline = time.monotonic() + 30
    while True:
        response = await client.post("/v1/events", json=body, headers=bearer(key))
        if response.status_code in (200, 201):
            return dict(response.json())
        if time.monotonic() > deadline:
            raise AssertionError(f"event not accepted: {response.status_code} {response.text}")
        await asyncio.sleep(0.3)


@dataclass
class World:
    crm_key: str
    billing_key: str
    crm_ticket: str
    billing_ticket: str


@pytest.fixture(scope="module")
async def world(suite: Suite) -> AsyncIterator[World]:
    """Two partners, each bound to its own source system, each with one ticket in progress."""
    headers = {"Authorization": f"Bearer {suite.admin_key}"}
    async with httpx.AsyncClient(base_url=suite.gateway_url, headers=headers, timeout=30) as admin:
        process = await admin.put(
            f"/v1/processes/{PROCESS}",
            json={"name": "Gateway isolation", "nodes": [{"key": "accept", "name": "Accept"}]},
        )
        assert process.status_code in (200, 201), process.text
        crm = await create_key(admin, PARTNER_SCOPES, [CRM])
        billing = await create_key(admin, PARTNER_SCOPES, [BILLING])
        tickets = {}
        for source, key in ((CRM, crm["key"]), (BILLING, billing["key"])):
            opened = await push_until_accepted(admin, key, event(source, "WO-1", "ticket.opened", "o"))
            await push_until_accepted(admin, key, event(source, "WO-1", "node.started", "s", node="accept"))
            tickets[source] = opened["ticket_id"]
        yield World(crm["key"], billing["key"], tickets[CRM], tickets[BILLING])


# ---------------------------------------------------------------- partner isolation


async def test_a_partner_reads_its_own_ticket(gateway: httpx.AsyncClient, world: World) -> None:
    by_id = await gateway.get(f"/v1/tickets/{world.crm_ticket}", headers=bearer(world.crm_key))
    by_ref = await gateway.get(f"/v1/tickets/{CRM}:WO-1", headers=bearer(world.crm_key))
    assert by_id.status_code == 200, by_id.text
    assert by_ref.status_code == 200
    assert by_id.json()["source"] == CRM


async def test_another_sources_ticket_is_404_not_403(gateway: httpx.AsyncClient, world: World) -> None:
    by_id = await gateway.get(f"/v1/tickets/{world.billing_ticket}", headers=bearer(world.crm_key))
    by_ref = await gateway.get(f"/v1/tickets/{BILLING}:WO-1", headers=bearer(world.crm_key))
    assert by_id.status_code == 404
    assert by_ref.status_code == 404
    assert by_id.headers["content-type"] == PROBLEM


async def test_a_partner_lists_only_its_sources_tickets(gateway: httpx.AsyncClient, world: World) -> None:
    crm = await gateway.get("/v1/tickets", params={"limit": 500}, headers=bearer(world.crm_key))
    everything = await gateway.get("/v1/tickets", params={"limit": 500})
    assert crm.status_code == 200
    assert {t["source"] for t in crm.json()["items"]} == {CRM}
    assert {CRM, BILLING} <= {t["source"] for t in everything.json()["items"]}


async def test_a_partner_cannot_push_events_of_another_source(gateway: httpx.AsyncClient, world: World) -> None:
    response = await gateway.post(
        "/v1/events", json=event(BILLING, "WO-2", "ticket.opened", "o"), headers=bearer(world.crm_key)
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    listed = await gateway.get("/v1/tickets", params={"source": BILLING, "limit": 500})
    assert "WO-2" not in {t["external_id"] for t in listed.json()["items"]}


async def test_a_partner_cannot_bulk_push_events_of_another_source(gateway: httpx.AsyncClient, world: World) -> None:
    lines = event(BILLING, "WO-3", "ticket.opened", "o")
    response = await gateway.post(
        "/v1/events/bulk", json=[lines], headers={**bearer(world.crm_key), "Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code in (200, 207, 403, 422), response.text
    if response.status_code < 300:
        assert response.json()["accepted"] == 0
    listed = await gateway.get("/v1/tickets", params={"source": BILLING, "limit": 500})
    assert "WO-3" not in {t["external_id"] for t in listed.json()["items"]}


async def test_the_overview_of_another_sources_ticket_is_404(gateway: httpx.AsyncClient, world: World) -> None:
    own = await gateway.get(f"/v1/tickets/{world.crm_ticket}/overview", headers=bearer(world.crm_key))
    other = await gateway.get(f"/v1/tickets/{world.billing_ticket}/overview", headers=bearer(world.crm_key))
    assert own.status_code == 200, own.text
    assert own.json()["ticket"]["source"] == CRM
    assert other.status_code == 404


async def _runs(gateway: httpx.AsyncClient, ticket: str, headers: dict[str, str]) -> httpx.Response:
    return await gateway.get("/v1/reports/status/runs", params={"ticket_id": ticket}, headers=headers)


async def test_reports_show_a_partner_only_its_sources_runs(gateway: httpx.AsyncClient, world: World) -> None:
    deadline = time.monotonic() + 30
    while True:  # evaluation reads node runs from tracking's feed
        seen_by_admin = await _runs(gateway, world.billing_ticket, {})
        if seen_by_admin.status_code == 200 and seen_by_admin.json()["items"]:
            break
        assert time.monotonic() < deadline, seen_by_admin.text
        await asyncio.sleep(0.3)
    other = await _runs(gateway, world.billing_ticket, bearer(world.crm_key))
    own = await _runs(gateway, world.crm_ticket, bearer(world.crm_key))
    table = await gateway.get("/v1/reports/status/runs", params={"limit": 500}, headers=bearer(world.crm_key))
    assert other.status_code in (200, 404)
    if other.status_code == 200:
        assert other.json()["items"] == []
    assert own.status_code == 200
    assert world.billing_ticket not in table.text


async def test_feedback_and_complaints_of_another_source_stay_hidden(gateway: httpx.AsyncClient, world: World) -> None:
    for path in ("/v1/feedback", "/v1/complaints"):
        response = await gateway.get(path, params={"ticket_id": world.billing_ticket}, headers=bearer(world.crm_key))
        assert response.status_code in (200, 404), (path, response.text)
        if response.status_code == 200:
            assert response.json()["items"] == [], path


# ---------------------------------------------------------------- scopes


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/v1/processes", "definitions:read"),
        ("PUT", f"/v1/processes/{PROCESS}", "definitions:write"),
        ("POST", "/v1/events", "events:write"),
        ("GET", "/v1/tickets", "tickets:read"),
        ("GET", "/v1/reports/status", "reports:read"),
        ("POST", "/v1/webhooks", "alerts:manage"),
        ("POST", "/v1/feedback", "feedback:write"),
        ("GET", "/v1/complaints", "complaints:read"),
        ("GET", "/v1/api-keys", "admin"),
    ],
)
async def test_a_key_without_the_routes_scope_is_403_naming_it(
    gateway: httpx.AsyncClient, suite: Suite, method: str, path: str, scope: str
) -> None:
    everything_else = sorted(
        {
            "definitions:read", "definitions:write", "events:write", "tickets:read", "reports:read",
            "alerts:manage", "feedback:read", "feedback:write", "complaints:read", "complaints:manage",
        } - {scope}
    )  # fmt: skip
    key = (await create_key(gateway, everything_else))["key"]
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=10) as client:
        response = await client.request(method, path, headers=bearer(key), json={})
    assert response.status_code == 403
    assert response.json()["required_scope"] == scope


async def test_no_credentials_is_401_with_a_challenge(suite: Suite) -> None:
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=10) as client:
        response = await client.get("/v1/tickets")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert "WWW-Authenticate" in response.headers


# ---------------------------------------------------------------- key lifecycle


async def test_revoked_and_rotated_keys(gateway: httpx.AsyncClient, suite: Suite) -> None:
    revoked = await create_key(gateway, ["definitions:read"])
    rotated = await create_key(gateway, ["definitions:read"])
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=10) as client:
        assert (await client.get("/v1/segments", headers=bearer(revoked["key"]))).status_code == 200
        assert (await gateway.post(f"/v1/api-keys/{revoked['id']}/revoke")).status_code == 200
        after_revoke = await client.get("/v1/segments", headers=bearer(revoked["key"]))
        fresh = (await gateway.post(f"/v1/api-keys/{rotated['id']}/rotate", json={"grace_period": "PT0S"})).json()
        old = await client.get("/v1/segments", headers=bearer(rotated["key"]))
        new = await client.get("/v1/segments", headers=bearer(fresh["key"]))
    assert after_revoke.status_code == 401
    assert old.status_code == 401
    assert new.status_code == 200


# ---------------------------------------------------------------- services trust only the gateway


async def test_every_service_refuses_public_requests_without_identity(suite: Suite) -> None:
    routes = {
        "commitment": "/v1/segments",
        "tracking": "/v1/tickets",
        "evaluation": "/v1/alerts",
        "feedback": "/v1/complaints",
    }
    async with httpx.AsyncClient(timeout=10) as client:
        answers = {
            service: (await client.get(suite.url(service) + path)).status_code for service, path in routes.items()
        }
    assert answers == dict.fromkeys(routes, 401)


async def test_a_service_refuses_forged_identity_headers(suite: Suite, world: World) -> None:
    admin = Caller(sub="forger", kind="key", scopes=frozenset({"admin"}), sources=None)
    forged = identity_headers(admin, "not-the-service-token")
    genuine = identity_headers(admin, suite.service_token)
    stale = identity_headers(admin, suite.service_token, now=time.time() - 3600)
    tampered = {**genuine, "X-Pledge-Identity": identity_headers(
        Caller(sub="forger", kind="key", scopes=frozenset({"admin"}), sources=frozenset({"other"})), "x"
    )["X-Pledge-Identity"]}  # fmt: skip
    url = f"{suite.url('tracking')}/v1/tickets/{world.billing_ticket}"
    async with httpx.AsyncClient(timeout=10) as client:
        answers = {name: await client.get(url, headers=h) for name, h in
                   {"forged": forged, "stale": stale, "tampered": tampered, "genuine": genuine}.items()}  # fmt: skip
    assert answers["forged"].status_code == 401
    assert answers["stale"].status_code == 401
    assert answers["tampered"].status_code == 401
    assert answers["genuine"].status_code == 200


async def test_a_service_applies_the_source_filter_itself(suite: Suite, world: World) -> None:
    partner = Caller(sub="direct", kind="key", scopes=frozenset({"tickets:read"}), sources=frozenset({CRM}))
    async with httpx.AsyncClient(timeout=10) as client:
        other = await client.get(
            f"{suite.url('tracking')}/v1/tickets/{world.billing_ticket}",
            headers=identity_headers(partner, suite.service_token),
        )
    assert other.status_code == 404


# ---------------------------------------------------------------- limits and hygiene


async def test_an_oversized_body_is_413(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post("/v1/feedback", content=b"{" + b" " * (2 * 1024 * 1024) + b"}")
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


async def test_no_error_carries_a_stack_trace(gateway: httpx.AsyncClient) -> None:
    answers = [
        await gateway.post("/v1/events", content=b"{not json"),
        await gateway.post("/v1/api-keys", json={"name": "x", "scopes": ["admin"], "secret_hash": "x"}),
        await gateway.get("/v1/tickets/not-a-ticket-id"),
        await gateway.get("/v1/nowhere"),
    ]
    for response in answers:
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"] == PROBLEM
        assert "Traceback" not in response.text
        assert 'File "' not in response.text


# ---------------------------------------------------------------- JWT users through a gateway configured for them


@contextlib.contextmanager
def gateway_process(suite: Suite, env: dict[str, str]) -> Iterator[str]:
    """A second gateway in front of the same services, with extra settings."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "pledge_gateway.main:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
        env={**suite.env_for("gateway"), **env}, cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            assert process.poll() is None, "the extra gateway exited"
            assert time.monotonic() < deadline, "the extra gateway did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwt_gateway(suite: Suite, signing_key: rsa.RSAPrivateKey) -> Iterator[str]:
    pem = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    env = {
        "GATEWAY_JWT_PUBLIC_KEY": pem.decode(),
        "GATEWAY_JWT_ISSUER": "https://idp.e2e",
        "GATEWAY_JWT_AUDIENCE": "pledge-e2e",
        "GATEWAY_JWT_ROLES_CLAIM": "realm_access.roles",
    }
    with gateway_process(suite, env) as url:
        yield url


def token(key: Any, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"sub": "ana", "iss": "https://idp.e2e", "aud": "pledge-e2e", "exp": now + 300,
              "realm_access": {"roles": ["pledge-viewer"]}, **overrides}  # fmt: skip
    return jwt.encode(claims, key, algorithm="RS256")


async def test_a_user_token_reads_what_its_roles_allow(jwt_gateway: str, signing_key: Any) -> None:
    async with httpx.AsyncClient(base_url=jwt_gateway, timeout=10) as client:
        read = await client.get("/v1/segments", headers=bearer(token(signing_key)))
        write = await client.put("/v1/segments/by-a-viewer", json={"name": "x"}, headers=bearer(token(signing_key)))
    assert read.status_code == 200, read.text
    assert write.status_code == 403


@pytest.mark.parametrize(
    "overrides",
    [{"aud": "someone-else"}, {"iss": "https://other.idp"}, {"exp": 1}],
    ids=["wrong audience", "wrong issuer", "expired"],
)
async def test_a_user_token_with_wrong_claims_is_401(
    jwt_gateway: str, signing_key: Any, overrides: dict[str, Any]
) -> None:
    async with httpx.AsyncClient(base_url=jwt_gateway, timeout=10) as client:
        response = await client.get("/v1/segments", headers=bearer(token(signing_key, **overrides)))
    assert response.status_code == 401


async def test_a_user_token_with_algorithm_none_is_401(jwt_gateway: str, signing_key: Any) -> None:
    unsigned = jwt.encode(
        {"sub": "ana", "iss": "https://idp.e2e", "aud": "pledge-e2e", "exp": int(time.time()) + 300,
         "realm_access": {"roles": ["pledge-admin"]}}, None, algorithm="none",
    )  # fmt: skip
    async with httpx.AsyncClient(base_url=jwt_gateway, timeout=10) as client:
        response = await client.get("/v1/api-keys", headers=bearer(unsigned))
    assert response.status_code == 401


# ---------------------------------------------------------------- rate limit refill on a gateway with a tiny limit


async def test_an_exhausted_bucket_is_429_and_refills_after_retry_after(
    suite: Suite, gateway: httpx.AsyncClient
) -> None:
    key = (await create_key(gateway, ["definitions:read"]))["key"]
    env = {"GATEWAY_RATE_LIMITS": '{"default": {"rate": 1, "burst": 2}}'}
    with gateway_process(suite, env) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10, headers=bearer(key)) as client:
            answers = [await client.get("/v1/segments") for _ in range(3)]
            await asyncio.sleep(float(answers[-1].headers.get("retry-after", "1")))
            refilled = await client.get("/v1/segments")
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["ratelimit-limit"] == "2"
    assert answers[2].headers["content-type"] == PROBLEM
    assert answers[2].headers["ratelimit-remaining"] == "0"
    assert int(answers[2].headers["retry-after"]) >= 1
    assert refilled.status_code == 200
