"""What every upstream client shares: signed service identity, timeouts, and error mapping.

An upstream that cannot be reached, times out or answers 5xx is *unavailable* (our callers answer
503, the command sender retries). A 4xx is a *rejection* carrying the upstream's problem body.
"""

from typing import Any

import httpx
from pledge_common.identity import Caller, identity_headers, service_headers
from pledge_common.problems import ServiceUnavailable

SERVICE_NAME = "feedback-svc"


class UpstreamUnavailable(ServiceUnavailable):
    """The upstream did not answer usefully; safe to retry later."""

    def __init__(self, upstream: str, reason: str) -> None:
        super().__init__(f"{upstream} is unavailable: {reason}", upstream=upstream)
        self.upstream = upstream
        self.reason = reason


class UpstreamRejected(Exception):
    """The upstream answered 4xx: the request itself is wrong (or names something unknown)."""

    def __init__(self, upstream: str, status: int, body: Any) -> None:
        detail = body.get("detail") if isinstance(body, dict) else None
        super().__init__(f"{upstream} answered {status}: {detail or body}")
        self.upstream = upstream
        self.status = status
        self.body = body

    @property
    def detail(self) -> str:
        if isinstance(self.body, dict) and self.body.get("detail"):
            return str(self.body["detail"])
        return f"{self.upstream} answered {self.status}"


class UpstreamClient:
    """Base of the typed clients: `http` must carry the upstream base URL (or a MockTransport in tests)."""

    upstream = "upstream"

    def __init__(self, http: httpx.AsyncClient, service_token: str) -> None:
        self.http = http
        self._token = service_token

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        sources: frozenset[str] | None = None,
    ) -> httpx.Response:
        """`sources`: ask on behalf of a caller bound to these source systems (the upstream binds its answer)."""
        headers = (
            service_headers(SERVICE_NAME, self._token)
            if sources is None
            else identity_headers(
                Caller(sub=SERVICE_NAME, kind="service", scopes=frozenset({"admin"}), sources=sources), self._token
            )
        )
        try:
            response = await self.http.request(method, path, params=params, json=json, headers=headers)
        except httpx.TimeoutException:
            raise UpstreamUnavailable(self.upstream, "timed out") from None
        except httpx.HTTPError as err:
            raise UpstreamUnavailable(self.upstream, type(err).__name__) from None
        if response.status_code >= 500:
            raise UpstreamUnavailable(self.upstream, f"answered {response.status_code}")
        if response.status_code == 429:
            raise UpstreamUnavailable(self.upstream, "rate limited (429)")
        return response

    def _json_or_reject(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise UpstreamRejected(self.upstream, response.status_code, _body(response))
        try:
            return response.json()
        except ValueError:
            raise UpstreamUnavailable(self.upstream, "answered with a body that is not JSON") from None


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]
