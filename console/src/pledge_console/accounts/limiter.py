"""Failed sign-ins rationed per account *and* client address.

Never per account alone: anyone who knows a username could then keep its holder locked out from another
address. Never per address alone: one address behind a NAT is many people. State is in memory (one console
replica; several replicas each ration on their own, which multiplies the allowance by the replicas).
"""

import time
from dataclasses import dataclass, field

CACHE_LIMIT = 50_000


@dataclass
class SignInLimiter:
    burst: int
    rate: float
    buckets: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)

    def _tokens(self, key: tuple[str, str], now: float) -> float:
        tokens, last = self.buckets.get(key, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - last) * self.rate)

    def retry_after(self, username: str, address: str, now: float | None = None) -> int:
        """0 when a sign-in may be tried now; else the seconds until the next try."""
        now = time.monotonic() if now is None else now
        tokens = self._tokens((username, address), now)
        return 0 if tokens >= 1 else max(1, int((1 - tokens) / self.rate + 0.999))

    def failed(self, username: str, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        key = (username, address)
        tokens = self._tokens(key, now)
        if len(self.buckets) >= CACHE_LIMIT:
            self.buckets.clear()
        self.buckets[key] = (tokens - 1, now)

    def succeeded(self, username: str, address: str) -> None:
        self.buckets.pop((username, address), None)
