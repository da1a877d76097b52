"""Failed authentication: wrong secrets never lock out the holder of the right one, and failures are rate
limited per client address (429 with Retry-After), while good credentials from that address still pass."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from conftest import new_key
from pledge_common.problems import PROBLEM_JSON
from pledge_dev.testing import ServiceSpec
from pledge_gateway.config import Settings
from pledge_gateway.main import create_app
from pledge_gateway.routes import Scope
from sqlalchemy.ext.asyncio import AsyncEngine

SEGMENT = "/v1/segments/a/b"  # definitions:read
Clients = Callable[..., AbstractAsyncContextManager[tuple[httpx.AsyncClient, httpx.AsyncClient]]]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def two_addresses(service_spec: ServiceSpec, migrated_url: str) -> Clients:
    """One gateway, and a client on it from each of two addresses."""

    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
        application = create_app(Settings(**{"database_url": migrated_url, **service_spec.env, **overrides}))
        async with LifespanManager(application):
            clients = [
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=application, client=(address, 40000)),
                    base_url="http://gateway.test",
                )
                for address in ("203.0.113.66", "198.51.100.7")
            ]
            async with clients[0] as attacker, clients[1] as holder:
                yield attacker, holder

    return factory


async def test_wrong_secrets_from_one_address_never_lock_out_a_fresh_key_used_from_another(
    two_addresses: Clients, engine: AsyncEngine, clean_keys: None
) -> None:
    key, _ = await new_key(engine, [Scope.definitions_read])
    prefix = "_".join(key.split("_", 2)[:2])
    async with two_addresses(key_cache_seconds=0, wrong_secret_limit={"rate": 0.01, "burst": 10}) as (attacker, holder):
        wrong = [await attacker.get(SEGMENT, headers=auth(f"{prefix}_wrong-{n}")) for n in range(12)]
        right = await holder.get(SEGMENT, headers=auth(key))
    assert [a.status_code for a in wrong] == [401] * 12
    assert "too many wrong secrets" in wrong[-1].json()["detail"]  # the attacker's own address is rationed
    assert right.status_code == 200


async def test_failed_authentications_are_429_per_address_past_their_allowance(
    two_addresses: Clients, engine: AsyncEngine, clean_keys: None
) -> None:
    key, _ = await new_key(engine, [Scope.definitions_read])
    async with two_addresses(auth_failure_limit={"rate": 0.01, "burst": 3}) as (attacker, other):
        failures = [await attacker.get(SEGMENT, headers=auth(f"pledge_0123456789ab_guess-{n}")) for n in range(4)]
        anonymous = await attacker.get(SEGMENT)
        elsewhere = await other.get(SEGMENT, headers={"X-API-Key": "garbage"})
        good = await attacker.get(SEGMENT, headers=auth(key))
    assert [f.status_code for f in failures] == [401, 401, 401, 429]
    assert failures[3].headers["content-type"] == PROBLEM_JSON
    assert int(failures[3].headers["retry-after"]) >= 1
    assert anonymous.status_code == 429  # no credentials is a failed authentication too
    assert elsewhere.status_code == 401  # counted per address
    assert good.status_code == 200  # good credentials from that address are never refused
