"""The console's one upstream: the gateway's public API, called with the session's own API key."""

import uuid
from datetime import datetime
from typing import Any

import httpx


class GatewayError(Exception):
    """The gateway answered an error (`status`, its problem `detail`) or could not be reached (status 503)."""

    def __init__(
        self, status: int, detail: str, problem_type: str = "", errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problem_type = problem_type
        self.errors = errors or []  # the problem's `errors`: each a `field` and its `message`


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    detail, problem_type, errors = response.reason_phrase, "", []
    try:
        body = response.json()
        if isinstance(body, dict):
            detail = str(body.get("detail") or body.get("title") or detail)
            problem_type = str(body.get("type") or "")
            listed = body.get("errors")
            if isinstance(listed, list):
                errors = [
                    {"field": str(e.get("field", "")), "message": str(e.get("message", ""))}
                    for e in listed[:50]
                    if isinstance(e, dict)
                ]
    except ValueError:
        pass
    raise GatewayError(response.status_code, detail, problem_type, errors)


class GatewayClient:
    def __init__(self, http: httpx.AsyncClient, admin_key: str) -> None:
        self.http = http
        self.admin_key = admin_key

    async def _send(
        self, method: str, path: str, key: str, extra_headers: dict[str, str] | None = None, **kwargs: Any
    ) -> Any:
        headers = {"Authorization": f"Bearer {key}", **(extra_headers or {})}
        try:
            response = await self.http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as err:
            raise GatewayError(503, f"the gateway is unreachable ({type(err).__name__})") from None
        _raise_for(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def get(self, path: str, key: str, params: Any = None) -> Any:
        return await self._send("GET", path, key, params=params)

    async def post(self, path: str, key: str, body: Any = None, idempotency_key: str | None = None) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return await self._send("POST", path, key, headers, json=body)

    async def patch(self, path: str, key: str, body: Any) -> Any:
        return await self._send("PATCH", path, key, json=body)

    async def delete(self, path: str, key: str) -> Any:
        return await self._send("DELETE", path, key)

    async def open_download(self, path: str, key: str, params: Any, accept: str) -> httpx.Response:
        """An export of the API as a stream (the caller closes it): its headers are read, its body is not yet."""
        request = self.http.build_request(
            "GET", path, params=params, headers={"Authorization": f"Bearer {key}", "Accept": accept}
        )
        try:
            response = await self.http.send(request, stream=True)
        except httpx.HTTPError as err:
            raise GatewayError(503, f"the gateway is unreachable ({type(err).__name__})") from None
        if response.status_code >= 400:
            try:
                await response.aread()
            finally:
                await response.aclose()
            _raise_for(response)
        return response

    async def create_session_key(self, name: str, scopes: list[str], expires_at: datetime) -> tuple[str, uuid.UUID]:
        body = {"name": name, "scopes": scopes, "expires_at": expires_at.isoformat()}
        created = await self.post("/v1/api-keys", self.admin_key, body)
        return str(created["key"]), uuid.UUID(str(created["id"]))

    async def revoke_key(self, key_id: uuid.UUID) -> None:
        await self.post(f"/v1/api-keys/{key_id}/revoke", self.admin_key)
