"""Authentication and authorisation at the edge: API keys (create, expire, rotate, revoke), JWT users,
scopes per route, rate limits, and the partner's source binding passed on in signed identity."""

import asyncio
import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from conftest import GatewayFactory, new_key
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pledge_common.identity import Caller, identity_headers
from pledge_gateway.config import RateLimit
from pledge_gateway.ratelimit import take_token
from pledge_gateway.routes import ALL_SCOPES, GATEWAY, ROUTE_TABLE, Scope
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

PROBLEM = "application/problem+json"
PROXIED = [r for r in ROUTE_TABLE if r.target != GATEWAY]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def sample_path(template: str) -> str:
    return template.replace("{id}", "crm-1") + "/sample/item"


# ---------------------------------------------------------------- credentials


async def test_no_credentials_is_401_problem_with_a_challenge(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        response = await gw.get("/v1/segments")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_an_unknown_key_is_401(make_gateway: GatewayFactory, clean_keys: None) -> None:
    async with make_gateway() as gw:
        fake = await gw.get("/v1/segments", headers=auth("pledge_0123456789ab_not-a-real-secret"))
        garbage = await gw.get("/v1/segments", headers={"X-API-Key": "garbage"})
    assert fake.status_code == 401
    assert garbage.status_code == 401


async def test_a_key_with_a_wrong_secret_is_401(make_gateway: GatewayFactory, engine: AsyncEngine) -> None:
    key, _ = await new_key(engine, [Scope.admin])
    prefix = key.rsplit("_", 1)[0] if key.count("_") == 2 else "_".join(key.split("_", 2)[:2])
    async with make_gateway() as gw:
        response = await gw.get("/v1/segments", headers=auth(prefix + "_wrong-secret"))
    assert response.status_code == 401


async def test_the_key_works_in_either_header(make_gateway: GatewayFactory, admin_key: str) -> None:
    async with make_gateway() as gw:
        bearer = await gw.get("/v1/segments/x/y", headers=auth(admin_key))
        header = await gw.get("/v1/segments/x/y", headers={"X-API-Key": admin_key})
    assert bearer.status_code == header.status_code == 200


async def test_an_expired_key_is_401(make_gateway: GatewayFactory, engine: AsyncEngine, clean_keys: None) -> None:
    key, key_id = await new_key(engine, [Scope.admin], expires_at=datetime.now(UTC) + timedelta(hours=1))
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = :id"), {"id": key_id}
        )
    async with make_gateway() as gw:
        response = await gw.get("/v1/segments", headers=auth(key))
    assert response.status_code == 401
    assert response.json()["detail"] == "the API key is expired"


async def test_a_key_cannot_be_created_already_expired(make_gateway: GatewayFactory, admin_key: str) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    async with make_gateway() as gw:
        response = await gw.post(
            "/v1/api-keys", json={"name": "p", "scopes": ["tickets:read"], "expires_at": past}, headers=auth(admin_key)
        )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "expires_at"


async def test_a_revoked_key_is_401_at_once(make_gateway: GatewayFactory, admin_key: str) -> None:
    async with make_gateway() as gw:
        created = await gw.post(
            "/v1/api-keys", json={"name": "p", "scopes": ["definitions:read"]}, headers=auth(admin_key)
        )
        key = created.json()["key"]
        assert (await gw.get("/v1/segments/a/b", headers=auth(key))).status_code == 200
        revoked = await gw.post(f"/v1/api-keys/{created.json()['id']}/revoke", headers=auth(admin_key))
        after = await gw.get("/v1/segments/a/b", headers=auth(key))
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert after.status_code == 401
    assert after.json()["detail"] == "the API key is revoked"


async def test_a_rotated_key_stays_valid_for_the_grace_period_and_the_new_one_works(
    make_gateway: GatewayFactory, admin_key: str
) -> None:
    async with make_gateway() as gw:
        created = (
            await gw.post("/v1/api-keys", json={"name": "p", "scopes": ["definitions:read"]}, headers=auth(admin_key))
        ).json()
        rotated = await gw.post(
            f"/v1/api-keys/{created['id']}/rotate", json={"grace_period": "PT1H"}, headers=auth(admin_key)
        )
        old = await gw.get("/v1/segments/a/b", headers=auth(created["key"]))
        new = await gw.get("/v1/segments/a/b", headers=auth(rotated.json()["key"]))
        listed = (await gw.get(f"/v1/api-keys/{created['id']}", headers=auth(admin_key))).json()
    assert rotated.status_code == 201
    assert rotated.json()["key"] != created["key"]
    assert rotated.json()["scopes"] == ["definitions:read"]
    assert old.status_code == 200
    assert new.status_code == 200
    assert listed["replaced_by"] == rotated.json()["id"]
    assert datetime.fromisoformat(listed["expires_at"]) <= datetime.now(UTC) + timedelta(hours=1)


async def test_a_rotated_key_without_grace_stops_at_once(make_gateway: GatewayFactory, admin_key: str) -> None:
    async with make_gateway() as gw:
        created = (
            await gw.post("/v1/api-keys", json={"name": "p", "scopes": ["definitions:read"]}, headers=auth(admin_key))
        ).json()
        rotated = await gw.post(
            f"/v1/api-keys/{created['id']}/rotate", json={"grace_period": "PT0S"}, headers=auth(admin_key)
        )
        old = await gw.get("/v1/segments/a/b", headers=auth(created["key"]))
        again = await gw.post(f"/v1/api-keys/{created['id']}/rotate", headers=auth(admin_key))
    assert rotated.status_code == 201
    assert old.status_code == 401
    assert again.status_code == 409


async def test_a_new_key_is_shown_once_and_stored_hashed(
    make_gateway: GatewayFactory, admin_key: str, engine: AsyncEngine
) -> None:
    body = {"name": "crm", "scopes": ["events:write", "tickets:read"], "sources": ["crm"]}
    async with make_gateway() as gw:
        created = await gw.post("/v1/api-keys", json=body, headers=auth(admin_key))
        fetched = await gw.get(f"/v1/api-keys/{created.json()['id']}", headers=auth(admin_key))
        listed = await gw.get("/v1/api-keys", headers=auth(admin_key))
    key = created.json()["key"]
    assert created.status_code == 201
    assert key.startswith("pledge_" + created.json()["prefix"] + "_")
    assert "key" not in fetched.json()
    assert "secret_hash" not in fetched.json()
    assert "salt" not in fetched.json()
    assert key not in listed.text
    assert all("secret_hash" not in item for item in listed.json()["items"])
    async with engine.connect() as conn:
        stored = (
            await conn.execute(text("SELECT secret_hash FROM api_keys WHERE id = :id"), {"id": created.json()["id"]})
        ).scalar_one()
    assert key.split("_", 2)[2].encode() not in stored


async def test_key_inputs_forbid_unknown_fields_and_unknown_scopes(
    make_gateway: GatewayFactory, admin_key: str
) -> None:
    async with make_gateway() as gw:
        extra = await gw.post(
            "/v1/api-keys", json={"name": "p", "scopes": ["admin"], "id": "x"}, headers=auth(admin_key)
        )
        scope = await gw.post("/v1/api-keys", json={"name": "p", "scopes": ["root"]}, headers=auth(admin_key))
        hashed = await gw.post(
            "/v1/api-keys", json={"name": "p", "scopes": ["admin"], "secret_hash": "00"}, headers=auth(admin_key)
        )
    assert extra.status_code == scope.status_code == hashed.status_code == 422
    assert extra.json()["errors"][0]["field"] == "id"
    assert scope.json()["errors"][0]["field"].startswith("scopes")


async def test_key_pages_follow_the_cursor(make_gateway: GatewayFactory, admin_key: str) -> None:
    async with make_gateway() as gw:
        for n in range(3):
            await gw.post("/v1/api-keys", json={"name": f"k{n}", "scopes": ["reports:read"]}, headers=auth(admin_key))
        first = (await gw.get("/v1/api-keys", params={"limit": 2}, headers=auth(admin_key))).json()
        second = (
            await gw.get("/v1/api-keys", params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth(admin_key))
        ).json()
        bad = await gw.get("/v1/api-keys", params={"cursor": "@@"}, headers=auth(admin_key))
    names = [i["name"] for i in first["items"] + second["items"]]
    assert names == ["admin", "k0", "k1", "k2"]
    assert second["next_cursor"] is None
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in bad.json()["errors"]] == ["query.cursor"]


# ---------------------------------------------------------------- scopes


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for route in PROXIED:
        path = sample_path(route.path) if route.prefix else route.path  # a path below it, or the one path
        cases.append((path, "GET", route.read_scope.value))
        cases.append((path, "POST", route.write_scope.value))
    return cases


@pytest.mark.parametrize(("path", "method", "scope"), _cases(), ids=[f"{m} {p}" for p, m, _ in _cases()])
async def test_each_route_needs_its_scope_and_no_other_will_do(
    make_gateway: GatewayFactory, engine: AsyncEngine, clean_keys: None, path: str, method: str, scope: str
) -> None:
    exact, _ = await new_key(engine, [Scope(scope)], name="exact")
    others, _ = await new_key(engine, [Scope(s) for s in sorted(ALL_SCOPES - {scope, "admin"})], name="others")
    async with make_gateway() as gw:
        allowed = await gw.request(method, path, headers=auth(exact), content=b"{}")
        refused = await gw.request(method, path, headers=auth(others), content=b"{}")
    assert allowed.status_code == 200, allowed.text
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["required_scope"] == scope
    assert scope in refused.json()["detail"]


async def test_api_keys_need_the_admin_scope(
    make_gateway: GatewayFactory, engine: AsyncEngine, clean_keys: None
) -> None:
    everything_else, _ = await new_key(engine, [Scope(s) for s in sorted(ALL_SCOPES - {"admin"})])
    async with make_gateway() as gw:
        response = await gw.get("/v1/api-keys", headers=auth(everything_else))
    assert response.status_code == 403
    assert response.json()["required_scope"] == "admin"


def test_every_route_in_the_table_declares_a_known_scope_for_reads_and_writes() -> None:
    for route in ROUTE_TABLE:
        assert route.read_scope.value in ALL_SCOPES, route
        assert route.write_scope.value in ALL_SCOPES, route


def test_settlements_are_read_with_reports_read_and_drafted_or_approved_with_alerts_manage() -> None:
    from pledge_gateway.routes import match_route

    route = match_route("/v1/reports/agreements/sla-1/settlements/2026-11/approval")
    assert route is not None
    assert (route.scope_for("GET"), route.scope_for("POST")) == (Scope.reports_read, Scope.alerts_manage)
    review = match_route("/v1/reports/agreements/sla-1")
    assert review is not None
    assert review.scope_for("POST") == Scope.reports_read


async def test_every_public_route_of_the_gateway_itself_is_in_the_table(make_gateway: GatewayFactory) -> None:
    from pledge_gateway.routes import match_route

    async with make_gateway() as gw:
        document = (await gw.get("/openapi.json")).json()
    for path, operations in document["paths"].items():
        route = match_route(path)
        assert route is not None, path
        for method, operation in operations.items():
            assert operation["x-required-scope"] == route.scope_for(method.upper()).value


# ---------------------------------------------------------------- identity to services, sources


async def test_the_service_sees_the_partner_and_its_sources_in_signed_headers(
    make_gateway: GatewayFactory, engine: AsyncEngine, clean_keys: None
) -> None:
    key, key_id = await new_key(engine, [Scope.events_write, Scope.tickets_read], sources=["crm", "fsm"])
    async with make_gateway() as gw:
        response = await gw.post("/v1/events/x/y", json={}, headers=auth(key))
    assert response.json()["caller"] == {
        "sub": key_id,
        "kind": "key",
        "scopes": ["events:write", "tickets:read"],
        "sources": ["crm", "fsm"],
        "owner": key_id,  # a key never rotated owns itself
    }


async def test_a_rotated_key_forwards_the_owner_of_the_key_it_replaced(
    make_gateway: GatewayFactory, engine: AsyncEngine, admin_key: str
) -> None:
    key, key_id = await new_key(engine, [Scope.events_write], sources=["crm"])
    async with make_gateway() as gw:
        rotated = await gw.post(f"/v1/api-keys/{key_id}/rotate", json={"grace_period": "PT1H"}, headers=auth(admin_key))
        assert rotated.status_code == 201, rotated.text
        fresh = rotated.json()
        old = (await gw.post("/v1/events/x/y", json={}, headers=auth(key))).json()["caller"]
        new = (await gw.post("/v1/events/x/y", json={}, headers=auth(fresh["key"]))).json()["caller"]
    assert fresh["owner_id"] == key_id
    assert (old["sub"], old["owner"]) == (key_id, key_id)
    assert (new["sub"], new["owner"]) == (fresh["id"], key_id)


async def test_a_partner_reads_its_own_source_tickets_and_gets_404_for_others(
    make_gateway: GatewayFactory, engine: AsyncEngine, clean_keys: None
) -> None:
    key, _ = await new_key(engine, [Scope.tickets_read], sources=["crm"])
    async with make_gateway() as gw:
        own = await gw.get("/v1/tickets/crm-1", headers=auth(key))
        other = await gw.get("/v1/tickets/billing-1", headers=auth(key))
        own_overview = await gw.get("/v1/tickets/crm-1/overview", headers=auth(key))
        other_overview = await gw.get("/v1/tickets/billing-1/overview", headers=auth(key))
    assert own.status_code == 200
    assert other.status_code == 404
    assert own_overview.status_code == 200
    assert other_overview.status_code == 404
    assert other_overview.headers["content-type"] == PROBLEM


async def test_identity_headers_from_a_client_are_replaced_not_trusted(
    make_gateway: GatewayFactory, engine: AsyncEngine, clean_keys: None
) -> None:
    key, _ = await new_key(engine, [Scope.tickets_read], sources=["crm"])
    # even headers correctly signed with the real token are dropped: only the gateway speaks for callers
    forged = identity_headers(
        Caller(sub="x", kind="service", scopes=frozenset({"admin"}), sources=None), "gateway-test-token"
    )
    async with make_gateway() as gw:
        response = await gw.get("/v1/tickets/billing-1", headers={**auth(key), **forged})
    assert response.status_code == 404


# ---------------------------------------------------------------- overview


async def test_the_overview_joins_every_service_part(make_gateway: GatewayFactory, admin_key: str) -> None:
    async with make_gateway() as gw:
        response = await gw.get("/v1/tickets/crm-7/overview", headers=auth(admin_key))
    body = response.json()
    assert response.status_code == 200
    assert body["ticket"]["id"] == "crm-7"
    assert body["node_runs"] == [{"id": "crm-7-run-1", "node_key": "accept"}]
    assert body["judgments"] == [{"ticket_id": "crm-7", "from": "evaluation", "path": "/v1/reports/status/runs"}]
    assert body["feedback"][0]["path"] == "/v1/feedback"
    assert body["complaints"][0]["path"] == "/v1/complaints"
    assert body["notes"] == []


async def test_the_overview_addressed_by_source_and_external_id_asks_for_the_resolved_ticket(
    make_gateway: GatewayFactory, admin_key: str
) -> None:
    async with make_gateway() as gw:
        response = await gw.get("/v1/tickets/crm:7/overview", headers=auth(admin_key))
    body = response.json()
    assert response.status_code == 200, response.text
    assert body["ticket"]["id"] == "crm-7"
    assert [part[0]["ticket_id"] for part in (body["judgments"], body["feedback"], body["complaints"])] == [
        "crm-7",
        "crm-7",
        "crm-7",
    ]


async def test_the_overview_degrades_a_missing_part_to_a_note(
    make_gateway: GatewayFactory, admin_key: str, stub_state: dict[str, dict[str, Any]]
) -> None:
    stub_state["feedback"]["down_parts"] = True
    async with make_gateway(evaluation_url="http://127.0.0.1:9") as gw:
        response = await gw.get("/v1/tickets/crm-7/overview", headers=auth(admin_key))
    body = response.json()
    assert response.status_code == 200
    assert body["judgments"] is None
    assert body["feedback"] is None
    assert body["complaints"] is None
    assert body["node_runs"] is not None
    assert len(body["notes"]) == 3
    assert any("evaluation service is unavailable" in n for n in body["notes"])


async def test_the_overview_omits_parts_the_caller_may_not_read(
    make_gateway: GatewayFactory, engine: AsyncEngine, clean_keys: None
) -> None:
    key, _ = await new_key(engine, [Scope.tickets_read])
    async with make_gateway() as gw:
        response = await gw.get("/v1/tickets/crm-7/overview", headers=auth(key))
    body = response.json()
    assert body["judgments"] is None
    assert "judgments omitted: needs the scope `reports:read`" in body["notes"]


# ---------------------------------------------------------------- JWT


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(private: Any) -> str:
    return str(
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


JWT_SETTINGS = {"jwt_issuer": "https://idp.example", "jwt_audience": "pledge"}


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": "alice",
        "iss": "https://idp.example",
        "aud": "pledge",
        "iat": now,
        "exp": now + 300,
        "roles": ["pledge-viewer"],
        **overrides,
    }


async def test_a_valid_user_token_maps_roles_to_scopes(make_gateway: GatewayFactory, rsa_key: Any) -> None:
    token = jwt.encode(claims(), rsa_key, algorithm="RS256")
    async with make_gateway(jwt_public_key=public_pem(rsa_key), **JWT_SETTINGS) as gw:
        read = await gw.get("/v1/reports/x/y", headers=auth(token))
        write = await gw.post("/v1/departments/x/y", headers=auth(token), json={})
    assert read.status_code == 200
    assert read.json()["caller"]["kind"] == "user"
    assert read.json()["caller"]["sub"] == "alice"
    assert "reports:read" in read.json()["caller"]["scopes"]
    assert write.status_code == 403


async def test_an_es256_user_token_is_accepted(make_gateway: GatewayFactory, ec_key: Any) -> None:
    token = jwt.encode(claims(roles=["pledge-admin"]), ec_key, algorithm="ES256")
    async with make_gateway(jwt_public_key=public_pem(ec_key), **JWT_SETTINGS) as gw:
        response = await gw.get("/v1/api-keys", headers=auth(token))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("overrides", "detail"),
    [
        ({"aud": "someone-else"}, "audience"),
        ({"iss": "https://evil.example"}, "issuer"),
        ({"exp": int(time.time()) - 3600}, "expired"),
    ],
    ids=["wrong audience", "wrong issuer", "expired"],
)
async def test_a_user_token_with_wrong_claims_is_401(
    make_gateway: GatewayFactory, rsa_key: Any, overrides: dict[str, Any], detail: str
) -> None:
    token = jwt.encode(claims(**overrides), rsa_key, algorithm="RS256")
    async with make_gateway(jwt_public_key=public_pem(rsa_key), **JWT_SETTINGS) as gw:
        response = await gw.get("/v1/reports/x", headers=auth(token))
    assert response.status_code == 401
    assert detail in response.json()["detail"]


def _unsigned(payload: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


async def test_a_token_with_algorithm_none_is_401(make_gateway: GatewayFactory, rsa_key: Any) -> None:
    async with make_gateway(jwt_public_key=public_pem(rsa_key), **JWT_SETTINGS) as gw:
        response = await gw.get("/v1/reports/x", headers=auth(_unsigned(claims(roles=["pledge-admin"]))))
    assert response.status_code == 401
    assert "algorithm" in response.json()["detail"]


async def test_a_token_signed_with_the_public_key_as_hmac_secret_is_401(
    make_gateway: GatewayFactory, rsa_key: Any
) -> None:
    pem = public_pem(rsa_key)

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims(roles=['pledge-admin']))}"
    mac = hmac.new(pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    forged = signing_input + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")
    async with make_gateway(jwt_public_key=pem, **JWT_SETTINGS) as gw:
        response = await gw.get("/v1/reports/x", headers=auth(forged))
    assert response.status_code == 401


async def test_a_token_signed_by_another_key_is_401(make_gateway: GatewayFactory, rsa_key: Any) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims(), other, algorithm="RS256")
    async with make_gateway(jwt_public_key=public_pem(rsa_key), **JWT_SETTINGS) as gw:
        response = await gw.get("/v1/reports/x", headers=auth(token))
    assert response.status_code == 401


async def test_user_tokens_verify_against_the_providers_jwks(
    make_gateway: GatewayFactory, rsa_key: Any, upstreams: dict[str, str], stub_state: dict[str, dict[str, Any]]
) -> None:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    stub_state["commitment"]["jwks"] = {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}
    token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "k1"})
    unknown = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": "k2"})
    async with make_gateway(jwt_jwks_url=upstreams["commitment"] + "/jwks.json", **JWT_SETTINGS) as gw:
        accepted = await gw.get("/v1/reports/x/y", headers=auth(token))
        refused = await gw.get("/v1/reports/x/y", headers=auth(unknown))
    assert accepted.status_code == 200
    assert refused.status_code == 401


async def test_user_tokens_are_refused_when_no_key_is_configured(make_gateway: GatewayFactory, rsa_key: Any) -> None:
    token = jwt.encode(claims(), rsa_key, algorithm="RS256")
    async with make_gateway() as gw:
        response = await gw.get("/v1/reports/x", headers=auth(token))
    assert response.status_code == 401


# ---------------------------------------------------------------- rate limits


def test_the_token_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    limit = RateLimit(rate=2, burst=3)
    allowed, tokens = take_token(3.0, 0.0, 0.0, limit)
    assert (allowed, tokens) == (True, 2.0)
    allowed, tokens = take_token(0.2, 0.0, 0.0, limit)
    assert (allowed, tokens) == (False, 0.2)
    allowed, tokens = take_token(0.2, 0.0, 0.4, limit)  # +0.8 token in 0.4 s
    assert allowed
    assert tokens == pytest.approx(0.0)
    assert take_token(0.0, 0.0, 100.0, limit) == (True, 2.0)  # never above the burst


async def test_rate_limit_exhaustion_is_429_with_retry_after_then_refills(
    make_gateway: GatewayFactory, admin_key: str
) -> None:
    limits = {"default": {"rate": 2, "burst": 2}}
    async with make_gateway(rate_limits=limits) as gw:
        first = await gw.get("/v1/segments/a/b", headers=auth(admin_key))
        await gw.get("/v1/segments/a/b", headers=auth(admin_key))
        refused = await gw.get("/v1/segments/a/b", headers=auth(admin_key))
        await asyncio.sleep(float(refused.headers["retry-after"]))
        refilled = await gw.get("/v1/segments/a/b", headers=auth(admin_key))
    assert first.status_code == 200
    assert first.headers["ratelimit-limit"] == "2"
    assert first.headers["ratelimit-remaining"] == "1"
    assert refused.status_code == 429
    assert refused.headers["content-type"] == PROBLEM
    assert refused.headers["ratelimit-remaining"] == "0"
    assert int(refused.headers["retry-after"]) >= 1
    assert refilled.status_code == 200


async def test_rate_limits_are_per_key(make_gateway: GatewayFactory, engine: AsyncEngine, clean_keys: None) -> None:
    one, _ = await new_key(engine, [Scope.definitions_read], name="one")
    two, _ = await new_key(engine, [Scope.definitions_read], name="two")
    async with make_gateway(rate_limits={"default": {"rate": 0.01, "burst": 1}}) as gw:
        assert (await gw.get("/v1/segments/a/b", headers=auth(one))).status_code == 200
        assert (await gw.get("/v1/segments/a/b", headers=auth(one))).status_code == 429
        assert (await gw.get("/v1/segments/a/b", headers=auth(two))).status_code == 200


async def test_a_scope_or_route_can_have_its_own_limit(make_gateway: GatewayFactory, admin_key: str) -> None:
    limits = {"default": {"rate": 0.01, "burst": 1}, "GET /v1/reports": {"rate": 100, "burst": 100}}
    async with make_gateway(rate_limits=limits) as gw:
        reports = [await gw.get("/v1/reports/a/b", headers=auth(admin_key)) for _ in range(5)]
        segments = [await gw.get("/v1/segments/a/b", headers=auth(admin_key)) for _ in range(2)]
    assert [r.status_code for r in reports] == [200] * 5
    assert [r.status_code for r in segments] == [200, 429]


def _redis_available() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.3):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_available(), reason="no Redis on 127.0.0.1:6379: the shared limiter cannot be tested")
async def test_replicas_share_the_rate_limit_through_redis(
    make_gateway: GatewayFactory, engine: AsyncEngine, clean_keys: None
) -> None:
    key, _ = await new_key(engine, [Scope.definitions_read])  # a fresh key id: a fresh bucket in Redis
    settings = {"rate_limits": {"default": {"rate": 0.01, "burst": 2}}, "redis_url": "redis://127.0.0.1:6379/0"}
    async with make_gateway(**settings) as one, make_gateway(**settings) as two:
        answers = [
            await one.get("/v1/segments/a/b", headers=auth(key)),
            await two.get("/v1/segments/a/b", headers=auth(key)),
            await one.get("/v1/segments/a/b", headers=auth(key)),
            await two.get("/v1/segments/a/b", headers=auth(key)),
        ]
    assert [a.status_code for a in answers] == [200, 200, 429, 429]


async def test_the_limiter_falls_back_to_memory_when_redis_is_unreachable(
    make_gateway: GatewayFactory, admin_key: str
) -> None:
    settings = {"rate_limits": {"default": {"rate": 0.01, "burst": 1}}, "redis_url": "redis://127.0.0.1:9/0"}
    async with make_gateway(**settings) as gw:
        first = await gw.get("/v1/segments/a/b", headers=auth(admin_key))
        second = await gw.get("/v1/segments/a/b", headers=auth(admin_key))
    assert (first.status_code, second.status_code) == (200, 429)


# ---------------------------------------------------------------- hygiene


async def test_the_access_log_names_the_key_id_never_the_key(
    make_gateway: GatewayFactory, engine: AsyncEngine, clean_keys: None, capsys: pytest.CaptureFixture[str]
) -> None:
    key, key_id = await new_key(engine, [Scope.definitions_read])
    async with make_gateway() as gw:
        await gw.get("/v1/segments/a/b", headers={**auth(key), "X-Request-ID": "log-me"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    access = [e for e in lines if e.get("logger") == "pledge.gateway.access" and e.get("request_id") == "log-me"]
    assert len(access) == 1
    assert access[0]["principal"] == f"key:{key_id}"
    assert access[0]["route"] == "/v1/segments"
    assert access[0]["status"] == 200
    assert isinstance(access[0]["duration_ms"], float)
    assert key not in capsys.readouterr().out


async def test_upstream_cookies_are_never_replayed_to_other_callers(
    make_gateway: GatewayFactory, admin_key: str
) -> None:
    async with make_gateway() as gw:
        await gw.get("/v1/segments/a/b", params={"set_cookie": "1"}, headers=auth(admin_key))
        second = await gw.get("/v1/segments/a/b", headers=auth(admin_key))
    assert "cookie" not in second.json()["headers"]


async def test_disabling_auth_is_refused_outside_local_and_test() -> None:
    from pledge_gateway.config import Settings

    with pytest.raises(ValueError, match="GATEWAY_AUTH_ENABLED"):
        Settings(
            database_url="postgresql://x/y",
            auth_enabled=False,
            PLEDGE_ENVIRONMENT="production",
            PLEDGE_SERVICE_TOKEN="s",
        )


async def test_the_overview_relays_trackings_answer_to_a_bad_ticket_reference(
    make_gateway: GatewayFactory, admin_key: str
) -> None:
    async with make_gateway() as gw:
        response = await gw.get("/v1/tickets/bad-ref/overview", headers=auth(admin_key))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"] == [{"field": "path.ref", "message": "not a ticket reference"}]


async def test_wrong_secrets_for_one_key_are_rationed_before_hashing(
    make_gateway: GatewayFactory, engine: AsyncEngine, clean_keys: None
) -> None:
    key, _ = await new_key(engine, [Scope.admin])
    prefix = "_".join(key.split("_", 2)[:2])
    # a slow refill: the test does not depend on how long a hash takes on this machine
    async with make_gateway(key_cache_seconds=0, wrong_secret_limit={"rate": 0.01, "burst": 10}) as gw:
        before = await gw.get("/v1/segments/a/b", headers=auth(key))
        answers = [await gw.get("/v1/segments", headers=auth(f"{prefix}_wrong-{n}")) for n in range(12)]
        after = await gw.get("/v1/segments/a/b", headers=auth(key))
    assert before.status_code == 200
    assert [a.status_code for a in answers] == [401] * 12
    assert answers[-1].json()["detail"] == "too many wrong secrets for this key from this address; try again later"
    assert after.status_code == 200  # the holder of the real key is not locked out


async def test_a_retried_key_creation_makes_one_key_and_answers_the_first_answer(
    make_gateway: GatewayFactory, admin_key: str
) -> None:
    headers = {**auth(admin_key), "Idempotency-Key": "new-partner-key"}
    body = {"name": "partner", "scopes": ["reports:read"]}
    async with make_gateway() as gw:
        first = await gw.post("/v1/api-keys", json=body, headers=headers)
        again = await gw.post("/v1/api-keys", json=body, headers=headers)
        other = await gw.post("/v1/api-keys", json={**body, "name": "other"}, headers=headers)
        listed = await gw.get("/v1/api-keys", params={"limit": 1}, headers=auth(admin_key))
        everything = (await gw.get("/v1/api-keys", headers=auth(admin_key))).json()
    assert first.status_code == again.status_code == 201, first.text
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "header.Idempotency-Key"
    assert [i["name"] for i in everything["items"]] == ["admin", "partner"]
    assert listed.headers["link"] == f'</v1/api-keys?limit=1&cursor={listed.json()["next_cursor"]}>; rel="next"'


# ---------------------------------------------------------------- monitoring systems (issue 20)


def test_the_alertmanager_webhook_needs_ingest_monitoring_and_its_mappings_are_definitions() -> None:
    from pledge_gateway.routes import match_route

    webhook = match_route("/v1/integrations/alertmanager")
    mappings = match_route("/v1/integrations/alertmanager/mappings/prod")
    facts = match_route("/v1/service-facts/bulk")
    outages = match_route("/v1/outages")
    assert webhook is not None
    assert mappings is not None
    assert facts is not None
    assert outages is not None
    assert (webhook.scope_for("POST"), webhook.scope_for("GET")) == (Scope.ingest_monitoring, Scope.ingest_monitoring)
    assert (mappings.scope_for("GET"), mappings.scope_for("POST")) == (Scope.definitions_read, Scope.definitions_write)
    assert (facts.scope_for("POST"), facts.body_limit.value) == (Scope.events_write, "bulk")
    assert (outages.scope_for("GET"), outages.scope_for("POST")) == (Scope.tickets_read, Scope.events_write)
    assert match_route("/v1/integrations/alertmanager/other") is None  # the webhook is one path, not a prefix


async def test_a_key_created_with_ingest_monitoring_reaches_the_webhook_and_nothing_else(
    make_gateway: GatewayFactory, admin_key: str
) -> None:
    async with make_gateway() as gw:
        created = await gw.post(
            "/v1/api-keys", json={"name": "alertmanager", "scopes": ["ingest:monitoring"]}, headers=auth(admin_key)
        )
        assert created.status_code == 201, created.text
        assert created.json()["scopes"] == ["ingest:monitoring"]
        key = created.json()["key"]
        webhook = await gw.post("/v1/integrations/alertmanager", json={}, headers=auth(key))
        mapping = await gw.post("/v1/integrations/alertmanager/mappings", json={}, headers=auth(key))
        facts = await gw.post("/v1/service-facts", json={}, headers=auth(key))
        events = await gw.post("/v1/events", json={}, headers=auth(key))
    assert webhook.status_code == 200  # the stub upstream answers
    assert [r.status_code for r in (mapping, facts, events)] == [403, 403, 403]
    assert mapping.json()["required_scope"] == "definitions:write"


class TestWhoAmI:
    async def test_a_user_token_reports_its_subject_scopes_department_and_expiry(
        self, make_gateway: GatewayFactory, rsa_key: Any
    ) -> None:
        body = claims(org={"department": "grid-ops"})
        token = jwt.encode(body, rsa_key, algorithm="RS256")
        async with make_gateway(
            jwt_public_key=public_pem(rsa_key), jwt_department_claim="org.department", **JWT_SETTINGS
        ) as gw:
            me = await gw.get("/v1/me", headers=auth(token))
        assert me.status_code == 200, me.text
        assert me.json() == {
            "sub": "alice",
            "kind": "user",
            "scopes": ["complaints:read", "definitions:read", "feedback:read", "reports:read", "tickets:read"],
            "sources": None,
            "department": "grid-ops",
            "expires_at": datetime.fromtimestamp(body["exp"], UTC).isoformat().replace("+00:00", "Z"),
        }

    async def test_without_a_department_claim_configured_the_department_is_null(
        self, make_gateway: GatewayFactory, rsa_key: Any
    ) -> None:
        token = jwt.encode(claims(department="grid-ops"), rsa_key, algorithm="RS256")
        async with make_gateway(jwt_public_key=public_pem(rsa_key), **JWT_SETTINGS) as gw:
            me = await gw.get("/v1/me", headers=auth(token))
        assert me.json()["department"] is None

    async def test_an_api_key_reports_its_id_and_scopes(self, make_gateway: GatewayFactory, admin_key: str) -> None:
        async with make_gateway() as gw:
            me = await gw.get("/v1/me", headers=auth(admin_key))
        assert me.status_code == 200, me.text
        assert (me.json()["kind"], me.json()["scopes"], me.json()["expires_at"]) == ("key", ["admin"], None)

    async def test_a_token_without_reports_read_is_403_and_a_bad_one_401(
        self, make_gateway: GatewayFactory, rsa_key: Any
    ) -> None:
        none = jwt.encode(claims(roles=["nobody"]), rsa_key, algorithm="RS256")
        expired = jwt.encode(claims(exp=1), rsa_key, algorithm="RS256")
        async with make_gateway(jwt_public_key=public_pem(rsa_key), **JWT_SETTINGS) as gw:
            refused = await gw.get("/v1/me", headers=auth(none))
            stale = await gw.get("/v1/me", headers=auth(expired))
        assert refused.status_code == 403
        assert stale.status_code == 401
