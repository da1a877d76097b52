"""`PledgeProblem`: every error answer of the API (RFC 9457 problem details) as one typed exception."""

from typing import Any

import httpx

PROBLEM_JSON = "application/problem+json"


class PledgeProblem(Exception):
    """An error answered by Pledge: branch on `type` (a stable `/problems/<slug>`) or `status`.

    `errors` lists the fields at fault (`{"field": "ticket.process", "message": "..."}`); `detail` and
    `title` are English help. A failure that is not a problem document (a proxy's HTML page, a refused
    connection) is a problem too, with type `about:blank` and what could be learnt in `detail`.
    """

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        type: str = "about:blank",  # RFC 9457's member name
        errors: list[dict[str, Any]] | None = None,
        instance: str | None = None,
        request_id: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type
        self.errors = errors or []
        self.instance = instance
        self.request_id = request_id
        self.body = body or {}
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The problem as one line a person can act on: status, title, detail and the fields at fault."""
        text = f"{self.status} {self.title}" if self.status else self.title
        if self.detail and self.detail != self.title:
            text += f": {self.detail}"
        fields = [f"{e.get('field')}: {e.get('message')}" for e in self.errors if e.get("field")]
        if fields and not all(f in text for f in fields):
            text += f" ({'; '.join(fields)})"
        return text

    @classmethod
    def from_response(cls, response: httpx.Response) -> "PledgeProblem":
        request_id = response.headers.get("x-request-id")
        body: Any = None
        if response.headers.get("content-type", "").split(";")[0].strip() in (PROBLEM_JSON, "application/json"):
            try:
                body = response.json()
            except ValueError:
                body = None
        if isinstance(body, dict) and isinstance(body.get("status", response.status_code), int):
            errors = body.get("errors")
            return cls(
                status=int(body.get("status", response.status_code)),
                title=str(body.get("title") or response.reason_phrase or "error"),
                detail=body.get("detail") if isinstance(body.get("detail"), str) else None,
                type=str(body.get("type") or "about:blank"),
                errors=[e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else None,
                instance=body.get("instance") if isinstance(body.get("instance"), str) else None,
                request_id=request_id,
                body=body,
            )
        text = " ".join(response.text.split())[:200] if response.content else None
        return cls(
            status=response.status_code,
            title=response.reason_phrase or "error",
            detail=text,
            request_id=request_id,
        )

    @classmethod
    def from_transport_error(cls, url: str, exc: httpx.TransportError) -> "PledgeProblem":
        return cls(status=0, title=f"cannot reach {url}", detail=f"{type(exc).__name__}: {exc}" if str(exc) else None)
