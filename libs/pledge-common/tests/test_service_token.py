"""The service token: distinct keys derived for the bearer and the identity signatures, and a rotation during
which two tokens are accepted, so that no internal call is refused while the pods change their token."""

import time

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from fastapi import FastAPI
from pledge_common.identity import SYSTEM, identity_headers, verify_identity
from pledge_common.internal import (
    BEARER_LABEL,
    SIGNING_LABEL,
    derive_key,
    internal_bearer,
    internal_headers,
    internal_router,
    signing_key,
)
from pledge_common.problems import Unauthorized, install_problem_handlers
from pledge_common.settings import ServiceSettings

OLD, NEW = "old-token-0123456789abcdef", "new-token-fedcba9876543210"


def settings(current: str, previous: str = "") -> ServiceSettings:
    return ServiceSettings(environment="test", service_token=current, service_token_previous=previous)


def app_with(config: ServiceSettings) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    router = internal_router()

    @router.get("/v1/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    app.include_router(router)
    app.state.settings = config
    return app


async def internal_status(config: ServiceSettings, headers: dict[str, str]) -> int:
    transport = httpx.ASGITransport(app=app_with(config))
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return (await client.get("/internal/v1/ping", headers=headers)).status_code


def test_the_bearer_and_the_signing_key_are_distinct_and_neither_is_the_token() -> None:
    bearer = internal_bearer(NEW)
    key = signing_key(NEW).hex()
    assert len({bearer, key, NEW.encode().hex()}) == 3
    assert NEW not in bearer
    assert internal_bearer(OLD) != bearer


def test_the_derivation_is_hkdf_expand_as_documented() -> None:
    for label in (BEARER_LABEL, SIGNING_LABEL):
        expected = HKDFExpand(algorithm=hashes.SHA256(), length=32, info=label).derive(NEW.encode())
        assert derive_key(NEW, label) == expected
    assert internal_bearer(NEW) == derive_key(NEW, BEARER_LABEL).hex()
    assert signing_key(NEW) == derive_key(NEW, SIGNING_LABEL)


async def test_internal_routes_accept_the_derived_bearer_and_refuse_the_raw_token() -> None:
    assert await internal_status(settings(NEW), internal_headers(NEW)) == 200
    assert await internal_status(settings(NEW), {"Authorization": f"Bearer {NEW}"}) == 401
    assert await internal_status(settings(NEW), {"Authorization": f"Bearer {signing_key(NEW).hex()}"}) == 401


async def test_the_previous_token_is_accepted_during_a_rotation_and_refused_after_it() -> None:
    assert await internal_status(settings(NEW, previous=OLD), internal_headers(OLD)) == 200
    assert await internal_status(settings(NEW, previous=OLD), internal_headers(NEW)) == 200
    assert await internal_status(settings(NEW), internal_headers(OLD)) == 401


def test_identity_signed_with_the_previous_token_verifies_during_a_rotation_only() -> None:
    signed_old = identity_headers(SYSTEM, OLD)
    assert verify_identity(signed_old, settings(NEW, previous=OLD).accepted_service_tokens) == SYSTEM
    with pytest.raises(Unauthorized):
        verify_identity(signed_old, settings(NEW).accepted_service_tokens)


def test_an_identity_signed_with_the_raw_token_as_hmac_key_is_refused() -> None:
    import hashlib
    import hmac

    headers = identity_headers(SYSTEM, NEW)
    identity, timestamp = headers["X-Pledge-Identity"], headers["X-Pledge-Timestamp"]
    forged = hmac.new(NEW.encode(), f"{identity}.{timestamp}".encode(), hashlib.sha256).hexdigest()
    with pytest.raises(Unauthorized):
        verify_identity({**headers, "X-Pledge-Signature": forged}, NEW)


def test_a_previous_token_equal_to_the_current_one_adds_nothing() -> None:
    assert settings(NEW, previous=NEW).accepted_service_tokens == (NEW,)
    assert settings(NEW).accepted_service_tokens == (NEW,)


# The documented rotation (docs/operations.md): the pods of one step and of the next run side by side during
# the rollout, so each must accept what the other sends: bearer and identity signature of its current token.
ROTATION = [settings(OLD), settings(OLD, previous=NEW), settings(NEW, previous=OLD), settings(NEW)]


@pytest.mark.parametrize("step", range(len(ROTATION) - 1), ids=["accept new", "swap", "drop old"])
async def test_during_each_rollout_of_the_rotation_old_and_new_pods_accept_each_other(step: int) -> None:
    before, after = ROTATION[step], ROTATION[step + 1]
    for sender, receiver in ((before, after), (after, before)):
        assert await internal_status(receiver, internal_headers(sender.service_token)) == 200
        signed = identity_headers(SYSTEM, sender.service_token, now=time.time())
        assert verify_identity(signed, receiver.accepted_service_tokens) == SYSTEM


async def test_swapping_the_tokens_in_one_step_would_refuse_calls_between_old_and_new_pods() -> None:
    """Why the rotation takes three rollouts, not one: a pod still on the old token alone refuses the new one."""
    assert await internal_status(settings(OLD), internal_headers(NEW)) == 401
