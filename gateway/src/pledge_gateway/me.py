"""GET /v1/me: who the credentials of the request are, as the gateway reads them.

For a user token: its subject, the scopes its roles map to, the sources and the department its claims name,
and when it expires. The console signs a token's holder in with this answer (it verifies nothing itself).
"""

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from pledge_gateway.auth import GatewayCallerDep
from pledge_gateway.keys import material

router = APIRouter(tags=["identity"])


class CallerPublic(BaseModel):
    sub: str = Field(description="the API key's id, or the user token's subject")
    kind: Literal["key", "user", "service"]
    scopes: list[str] = Field(description="the scopes granted (a user's: those its roles map to)")
    sources: list[str] | None = Field(description="the source systems it may see (null: every one)")
    department: str | None = Field(description="a user's department, from the claim the gateway is told to read")
    expires_at: datetime | None = Field(description="when a user token expires (null for API keys)")


@router.get("/v1/me")
async def who_am_i(request: Request, caller: GatewayCallerDep) -> CallerPublic:
    """The caller behind this request's credentials: kind, scopes, sources; a user's department and expiry."""
    department, expires_at = None, None
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    token = token.strip()
    if caller.kind == "user" and scheme.lower() == "bearer" and token and not material.looks_like_key(token):
        verifier = request.app.state.gateway.authenticator.jwt
        claims = await verifier.claims(token)  # verified at the edge already: this reads what it holds
        department = verifier.department(claims)
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
    return CallerPublic(
        sub=caller.sub,
        kind=caller.kind,  # type: ignore[arg-type]
        scopes=sorted(caller.scopes),
        sources=sorted(caller.sources) if caller.sources is not None else None,
        department=department,
        expires_at=expires_at,
    )
