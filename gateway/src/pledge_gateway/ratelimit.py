"""Token buckets per caller: in memory, or in Redis when several gateway replicas share the state."""

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pledge_common.identity import Caller
from pledge_common.problems import TooManyRequests

from pledge_gateway.config import MIN_RATE, RateLimit, Settings
from pledge_gateway.routes import PublicRoute

log = logging.getLogger("pledge.gateway.ratelimit")
MEMORY_BUCKETS_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: RateLimit
    tokens: float  # left after this request

    @property
    def rate(self) -> float:
        return max(self.limit.rate, MIN_RATE)  # never a division that overflows, whatever the limit says

    @property
    def remaining(self) -> int:
        return max(0, math.floor(self.tokens))

    @property
    def retry_after(self) -> int:
        """Whole seconds until one token is back (0 when allowed)."""
        return 0 if self.allowed else max(1, math.ceil((1 - self.tokens) / self.rate))

    @property
    def reset(self) -> int:
        """Whole seconds until the bucket is full again."""
        return max(0, math.ceil((self.limit.burst - self.tokens) / self.rate))

    def headers(self) -> list[tuple[bytes, bytes]]:
        window = max(1, math.ceil(self.limit.burst / self.rate))
        values = [
            (b"ratelimit-limit", str(self.limit.burst)),
            (b"ratelimit-remaining", str(self.remaining)),
            (b"ratelimit-reset", str(self.retry_after if not self.allowed else self.reset)),
            (b"ratelimit-policy", f"{self.limit.burst};w={window}"),
        ]
        if not self.allowed:
            values.append((b"retry-after", str(self.retry_after)))
        return [(k, v.encode()) for k, v in values]


def take_token(tokens: float, last: float, now: float, limit: RateLimit) -> tuple[bool, float]:
    """The token bucket rule: refill at `rate` per second up to `burst`, then take one if there is one."""
    tokens = min(float(limit.burst), tokens + max(0.0, now - last) * limit.rate)
    if tokens >= 1.0:
        return True, tokens - 1.0
    return False, tokens


def choose_limit(settings: Settings, route: PublicRoute, method: str, scope: str) -> tuple[str, RateLimit]:
    """The most specific configured bucket: "METHOD /path", then "/path", then the scope, then default."""
    limits = settings.rate_limits
    for name in (f"{method} {route.path}", route.path, scope):
        if name in limits:
            return name, limits[name]
    return "default", limits["default"]


class Store(Protocol):
    async def take(self, key: str, limit: RateLimit) -> tuple[bool, float]: ...


class MemoryStore:
    def __init__(self) -> None:
        self.buckets: dict[str, tuple[float, float]] = {}

    async def take(self, key: str, limit: RateLimit) -> tuple[bool, float]:
        now = time.monotonic()
        tokens, last = self.buckets.get(key, (float(limit.burst), now))
        allowed, tokens = take_token(tokens, last, now, limit)
        if len(self.buckets) >= MEMORY_BUCKETS_LIMIT and key not in self.buckets:
            self._prune(now, limit)
        self.buckets[key] = (tokens, now)
        return allowed, tokens

    def _prune(self, now: float, limit: RateLimit) -> None:
        # a bucket idle for longer than it takes to refill is full again: forgetting it changes nothing
        idle = limit.burst / limit.rate
        self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < idle}
        if len(self.buckets) >= MEMORY_BUCKETS_LIMIT:
            self.buckets.clear()


# KEYS[1] bucket; ARGV rate, burst. Redis' own clock, so replicas with skewed clocks agree.
TOKEN_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 't', 'n')
local last = tonumber(state[1]) or now
local tokens = tonumber(state[2]) or burst
tokens = math.min(burst, tokens + math.max(0, now - last) * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 't', tostring(now), 'n', tostring(tokens))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


class RedisStore:
    """Shared buckets; when Redis fails the gateway falls back to its own memory (limits per replica)."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self.client: Any = redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.script = self.client.register_script(TOKEN_BUCKET_LUA)
        self.fallback = MemoryStore()
        self.failing_since: float | None = None

    async def take(self, key: str, limit: RateLimit) -> tuple[bool, float]:
        from redis.exceptions import RedisError

        if self.failing_since is not None and time.monotonic() - self.failing_since < 5:
            return await self.fallback.take(key, limit)
        try:
            allowed, tokens = await self.script(keys=[f"pledge:rl:{key}"], args=[limit.rate, limit.burst])
        except (RedisError, OSError) as err:
            if self.failing_since is None:
                log.warning("rate-limit store unavailable (%s); limiting in memory", type(err).__name__)
            self.failing_since = time.monotonic()
            return await self.fallback.take(key, limit)
        self.failing_since = None
        return bool(int(allowed)), float(tokens)

    async def aclose(self) -> None:
        await self.client.aclose()


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.enabled = settings.rate_limit_enabled
        self.store: MemoryStore | RedisStore = RedisStore(settings.redis_url) if settings.redis_url else MemoryStore()

    async def check(
        self,
        caller: Caller,
        route: PublicRoute,
        method: str,
        scope: str,
        overrides: Mapping[str, RateLimit] | None = None,
    ) -> Decision | None:
        """The decision for this request (None when limiting is off); 429 problem when over the limit.

        The bucket is chosen by the settings; the caller's own limit for that bucket (`overrides`, an API key's)
        replaces the settings' one."""
        if not self.enabled:
            return None
        name, limit = choose_limit(self.settings, route, method, scope)
        if overrides:
            limit = overrides.get(name, limit)
        allowed, tokens = await self.store.take(f"{caller.kind}:{caller.sub}:{name}", limit)
        decision = Decision(allowed, limit, tokens)
        if not allowed:
            raise TooManyRequests(
                f"rate limit of {limit.rate:g}/s (burst {limit.burst}) reached; retry in {decision.retry_after}s",
                headers={k.decode(): v.decode() for k, v in decision.headers()},
            )
        return decision

    async def failed_authentication(self, client: str) -> None:
        """Counts a failed authentication from `client` (an address); 429 problem once its allowance is used up.

        Apart from the per-caller buckets (a failure has no caller) and always on: answering 401s without limit
        lets anyone try credentials, and wrong secrets of real key prefixes each cost a slow hash."""
        limit = self.settings.auth_failure_limit
        allowed, tokens = await self.store.take(f"authfail:{client}", limit)
        if not allowed:
            decision = Decision(allowed, limit, tokens)
            raise TooManyRequests(
                f"too many failed authentications from this address; retry in {decision.retry_after}s",
                headers={k.decode(): v.decode() for k, v in decision.headers()},
            )

    async def aclose(self) -> None:
        if isinstance(self.store, RedisStore):
            await self.store.aclose()
