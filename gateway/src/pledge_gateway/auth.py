"""Who is calling: API keys (partners, machines) and JWT bearer tokens (front-end users).

Verified keys are cached for a few seconds, keyed by the SHA-256 of the full key, so that the slow
hash is paid once per key and burst; the cache never outlives the key's expiry. The key's own rate limits are
cached with it, so the limiter needs no query of its own.
"""

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Annotated, Any

import httpx
import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import Depends, Request
from pledge_common.identity import Caller
from pledge_common.problems import Unauthorized
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pledge_gateway.config import RateLimit, Settings
from pledge_gateway.keys import material
from pledge_gateway.keys.repository import ApiKeyRepository
from pledge_gateway.routes import ALL_SCOPES

log = logging.getLogger("pledge.gateway.auth")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="pledge"'}
CACHE_LIMIT = 50_000
ANONYMOUS_ADMIN = Caller(sub="anonymous", kind="user", scopes=frozenset({"admin"}), sources=None)
NO_OVERRIDES: Mapping[str, RateLimit] = MappingProxyType({})


def unauthorized(detail: str) -> Unauthorized:
    return Unauthorized(detail, headers=dict(CHALLENGE))


@dataclass(frozen=True, slots=True)
class CachedKey:
    key_id: uuid.UUID
    caller: Caller | None  # None: a key that failed verification (negative cache)
    valid_until: float  # monotonic
    problem: str = ""
    rate_limits: Mapping[str, RateLimit] = field(default_factory=lambda: NO_OVERRIDES)  # the key's own buckets by name


class KeyVerifier:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], cache_seconds: float, wrong_secrets: RateLimit
    ) -> None:
        self.sessionmaker = sessionmaker
        self.cache_seconds = cache_seconds
        self.wrong_secrets = wrong_secrets
        self.cache: dict[bytes, CachedKey] = {}
        self.inflight: dict[bytes, asyncio.Future[CachedKey]] = {}
        # wrong secrets for a known prefix: each one costs a slow hash, so they are rationed per client address
        # and prefix. Never per prefix alone: anyone who knows a prefix (it is not secret) could then keep its
        # holder locked out with one wrong secret a second.
        self.failures: dict[tuple[str, str], tuple[float, float]] = {}
        # the SHA-256 of the last key that verified per prefix: its holder is never rationed (nor re-hashed)
        self.known_good: dict[str, bytes] = {}

    def forget(self, key_id: uuid.UUID) -> None:
        for digest in [d for d, entry in self.cache.items() if entry.key_id == key_id]:
            self.cache.pop(digest, None)

    async def verify(self, key: str, client: str = "") -> tuple[Caller, Mapping[str, RateLimit]]:
        """The key's caller and its own rate limits; 401 problem for a key that is not usable.

        `client`: the caller's address, which wrong secrets are rationed by."""
        digest = hashlib.sha256(key.encode()).digest()
        entry = self.cache.get(digest)
        now = time.monotonic()
        if entry is None or entry.valid_until <= now:
            parsed = material.parse_key(key)
            if parsed is not None and self._rationed(client, parsed.prefix, digest, now):
                # not cached: the answer holds for this address only
                raise unauthorized("too many wrong secrets for this key from this address; try again later")
            entry = await self._verify_once(digest, key, client)
        if entry.caller is None:
            raise unauthorized(entry.problem)
        return entry.caller, entry.rate_limits

    def _rationed(self, client: str, prefix: str, digest: bytes, now: float) -> bool:
        """Whether this address has used up its wrong secrets for this prefix (the last good key never is)."""
        if self.known_good.get(prefix) == digest:
            return False
        limit = self.wrong_secrets
        tokens, last = self.failures.get((client, prefix), (float(limit.burst), now))
        return min(float(limit.burst), tokens + (now - last) * limit.rate) < 1

    def _failed(self, client: str, prefix: str, now: float) -> None:
        limit = self.wrong_secrets
        tokens, last = self.failures.get((client, prefix), (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - last) * limit.rate)
        if len(self.failures) >= CACHE_LIMIT:
            self.failures.clear()
        self.failures[(client, prefix)] = (tokens - 1, now)

    async def _verify_once(self, digest: bytes, key: str, client: str) -> CachedKey:
        """Concurrent requests with the same key share one slow verification."""
        pending = self.inflight.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[CachedKey] = asyncio.get_running_loop().create_future()
        self.inflight[digest] = future
        try:
            entry = await self._lookup(key, digest, client)
            if len(self.cache) >= CACHE_LIMIT:
                self.cache.clear()
            self.cache[digest] = entry
            future.set_result(entry)
            return entry
        except BaseException as err:
            future.set_exception(err)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waits
            raise
        finally:
            self.inflight.pop(digest, None)

    async def _lookup(self, key: str, digest: bytes, client: str) -> CachedKey:
        now_mono = time.monotonic()
        negative_until = now_mono + self.cache_seconds
        nil = uuid.UUID(int=0)
        parsed = material.parse_key(key)
        if parsed is None:
            return CachedKey(nil, None, negative_until, "the API key is malformed")
        async with self.sessionmaker() as session:
            row = await ApiKeyRepository(session).by_prefix(parsed.prefix)
        if row is None:
            return CachedKey(nil, None, negative_until, "the API key is not valid")
        if self.known_good.get(parsed.prefix) != digest:
            matches = await asyncio.to_thread(material.secret_matches, parsed.secret, row.salt, row.secret_hash)
            if not matches:
                self._failed(client, parsed.prefix, now_mono)
                return CachedKey(row.id, None, negative_until, "the API key is not valid")
            if len(self.known_good) >= CACHE_LIMIT:
                self.known_good.clear()
            self.known_good[parsed.prefix] = digest
        now = datetime.now(UTC)
        status = material.key_status(row.expires_at, row.revoked_at, now)
        if status != "active":
            return CachedKey(row.id, None, negative_until, f"the API key is {status}")
        valid_until = now_mono + self.cache_seconds
        if row.expires_at is not None:
            valid_until = min(valid_until, now_mono + (row.expires_at - now).total_seconds())
        caller = Caller(
            sub=str(row.id),
            kind="key",
            scopes=frozenset(row.scopes),
            sources=frozenset(row.sources) if row.sources is not None else None,
            owner=str(row.owner_id),
        )
        overrides = {
            name: RateLimit.within_bounds(limit["rate"], limit["burst"])
            for name, limit in (row.rate_limits or {}).items()
        }
        own_limits = MappingProxyType(overrides) if overrides else NO_OVERRIDES
        return CachedKey(row.id, caller, valid_until, rate_limits=own_limits)


class JwtVerifier:
    """RS256/ES256 tokens from an identity provider: a fixed public key or the provider's JWKS."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self.static_key: Any = (
            load_pem_public_key(settings.jwt_public_key.encode()) if settings.jwt_public_key else None
        )
        self.jwks: dict[str, jwt.PyJWK] = {}
        self.jwks_fetched = 0.0
        self.jwks_lock = asyncio.Lock()

    @property
    def configured(self) -> bool:
        return self.static_key is not None or bool(self.settings.jwt_jwks_url)

    async def _jwks_key(self, kid: str | None) -> Any:
        fresh = time.monotonic() - self.jwks_fetched < self.settings.jwt_jwks_ttl_seconds
        if not fresh or (kid not in self.jwks and time.monotonic() - self.jwks_fetched > 30):
            async with self.jwks_lock:
                await self._fetch_jwks()
        if kid is None and len(self.jwks) == 1:
            return next(iter(self.jwks.values())).key
        found = self.jwks.get(kid or "")
        if found is None:
            raise unauthorized("the token's signing key is unknown")
        return found.key

    async def _fetch_jwks(self) -> None:
        try:
            response = await self.http.get(self.settings.jwt_jwks_url, timeout=5.0)
            response.raise_for_status()
            keys: dict[str, jwt.PyJWK] = {}
            for index, data in enumerate(response.json().get("keys", [])):
                if data.get("use", "sig") != "sig":
                    continue
                try:
                    keys[str(data.get("kid", index))] = jwt.PyJWK(data)
                except jwt.PyJWTError:
                    continue
            self.jwks = keys
            self.jwks_fetched = time.monotonic()
        except (httpx.HTTPError, ValueError) as err:
            log.warning("cannot fetch the JWKS: %s", type(err).__name__)
            if not self.jwks:
                raise unauthorized("user tokens cannot be verified right now") from None

    async def claims(self, token: str) -> dict[str, Any]:
        """The token's claims once its signature, algorithm, issuer, audience and expiry hold; 401 otherwise."""
        if not self.configured:
            raise unauthorized("this gateway does not accept user tokens (no JWT key configured)")
        settings = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise unauthorized("the bearer token is malformed") from None
        if header.get("alg") not in settings.jwt_algorithms:
            raise unauthorized(f"the token algorithm {header.get('alg')!r} is not allowed")
        key = self.static_key if self.static_key is not None else await self._jwks_key(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=settings.jwt_algorithms,
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
                leeway=settings.jwt_leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise unauthorized("the token is not meant for this audience") from None
        except jwt.InvalidIssuerError:
            raise unauthorized("the token comes from an unknown issuer") from None
        except jwt.PyJWTError:
            raise unauthorized("the token is not valid") from None
        return claims

    async def verify(self, token: str) -> Caller:
        claims = await self.claims(token)
        return Caller(
            sub=str(claims["sub"]),
            kind="user",
            scopes=frozenset(self._scopes(claims)),
            sources=self._sources(claims),
        )

    def department(self, claims: dict[str, Any]) -> str | None:
        """The user's department from `jwt_department_claim` (None when not configured or absent)."""
        if not self.settings.jwt_department_claim:
            return None
        value = self._claim(claims, self.settings.jwt_department_claim)
        return str(value)[:64] if isinstance(value, str | int) and str(value) else None

    def _claim(self, claims: dict[str, Any], path: str) -> Any:
        value: Any = claims
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    def _scopes(self, claims: dict[str, Any]) -> set[str]:
        roles = self._claim(claims, self.settings.jwt_roles_claim)
        if isinstance(roles, str):
            roles = roles.split()
        scopes: set[str] = set()
        for role in roles if isinstance(roles, list) else []:
            scopes.update(s for s in self.settings.jwt_role_scopes.get(str(role), ()) if s in ALL_SCOPES)
        return scopes

    def _sources(self, claims: dict[str, Any]) -> frozenset[str] | None:
        if not self.settings.jwt_sources_claim:
            return None
        value = self._claim(claims, self.settings.jwt_sources_claim)
        if value is None:
            return None
        return frozenset(str(v) for v in value) if isinstance(value, list) else frozenset({str(value)})


class Authenticator:
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], http: httpx.AsyncClient):
        self.enabled = settings.auth_enabled
        self.keys = KeyVerifier(sessionmaker, settings.key_cache_seconds, settings.wrong_secret_limit)
        self.jwt = JwtVerifier(settings, http)

    def forget_key(self, key_id: uuid.UUID) -> None:
        self.keys.forget(key_id)

    async def authenticate(
        self, authorization: str | None, api_key: str | None, client: str = ""
    ) -> tuple[Caller, Mapping[str, RateLimit]]:
        """The caller behind `X-API-Key` or `Authorization: Bearer <key or JWT>` and the rate limits of its own
        (an API key's overrides; none for users); 401 otherwise. `client`: the caller's address."""
        if not self.enabled:
            return ANONYMOUS_ADMIN, NO_OVERRIDES
        if api_key:
            return await self.keys.verify(api_key.strip(), client)
        if not authorization:
            raise unauthorized("credentials are required: an API key (X-API-Key) or a bearer token")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("the Authorization header must be `Bearer <API key or token>`")
        if material.looks_like_key(token):
            return await self.keys.verify(token, client)
        return await self.jwt.verify(token), NO_OVERRIDES


def _gateway_caller(request: Request) -> Caller:
    caller: Caller | None = getattr(request.state, "caller", None)
    if caller is None:  # the edge authenticates every /v1 route before it reaches an endpoint
        raise unauthorized("credentials are required")
    return caller


GatewayCallerDep = Annotated[Caller, Depends(_gateway_caller)]
