"""`Idempotency-Key` on requests that create: a retried request gets the first answer, nothing is written twice.

The key is scoped to the caller. The first successful answer (status, JSON body, ETag/Location) is stored
in the same transaction as the resource it describes, so either both exist or neither does. A request with
a key already answered gets that answer back (header `Idempotent-Replayed: true`) when its body is the
same, and a 422 naming `Idempotency-Key` when it is not. Failed requests store nothing: their retry is
processed afresh. Concurrent requests with one key are serialised by a transaction-scoped advisory lock.
Keys expire after `idempotency_key_ttl_seconds`; each stored key removes a batch of expired ones.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Header, Request, Response, status
from pledge_common.identity import Caller
from pledge_common.problems import invalid
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from commitment_svc.core.etags import etag_of

IDEMPOTENCY_FIELD = "Idempotency-Key"
PURGE_BATCH = 100

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=IDEMPOTENCY_FIELD,
        min_length=1,
        max_length=200,
        description="retry safely: the same key and body get the first answer again; the same key with another"
        " body is a 422. Keys are per caller and expire (24 h by default).",
    ),
]


@dataclass(frozen=True, slots=True)
class Answer:
    """What a creating route answers: rendered once, stored when the request carries a key."""

    status_code: int
    body: BaseModel
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def upserted(cls, body: BaseModel, created: bool, version: int) -> "Answer":
        """A resource created (201) or replaced (200) by a PUT, with the ETag of its version."""
        return cls(status.HTTP_201_CREATED if created else status.HTTP_200_OK, body, {"ETag": etag_of(version)})


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    request_hash: bytes
    status_code: int
    body: str
    headers: dict[str, str]


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, caller: str, key: str) -> None:
        """Serialise requests carrying the same key (until the transaction ends)."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:ck, 0))"), {"ck": f"commitment-idem:{caller}:{key}"}
        )

    async def find(self, caller: str, key: str) -> StoredAnswer | None:
        """The unexpired answer stored for this caller's key."""
        row = (
            await self.session.execute(
                text(
                    "SELECT request_hash, status_code, response_body, response_headers FROM idempotency_keys"
                    " WHERE caller = :c AND key = :k AND expires_at > now()"
                ),
                {"c": caller, "k": key},
            )
        ).first()
        return StoredAnswer(bytes(row[0]), row[1], row[2], dict(row[3])) if row else None

    async def store(self, caller: str, key: str, answer: StoredAnswer, ttl_seconds: int) -> None:
        """Record the answer; an expired answer under the same key is replaced."""
        await self.session.execute(
            text(
                "INSERT INTO idempotency_keys"
                " (caller, key, request_hash, status_code, response_body, response_headers, created_at, expires_at)"
                " VALUES (:c, :k, :h, :s, :b, CAST(:hd AS jsonb), now(), now() + make_interval(secs => :ttl))"
                " ON CONFLICT (caller, key) DO UPDATE SET request_hash = EXCLUDED.request_hash,"
                " status_code = EXCLUDED.status_code, response_body = EXCLUDED.response_body,"
                " response_headers = EXCLUDED.response_headers, created_at = EXCLUDED.created_at,"
                " expires_at = EXCLUDED.expires_at"
                " WHERE idempotency_keys.expires_at <= now()"
            ),
            {
                "c": caller,
                "k": key,
                "h": answer.request_hash,
                "s": answer.status_code,
                "b": answer.body,
                "hd": json.dumps(answer.headers),
                "ttl": ttl_seconds,
            },
        )

    async def purge_expired(self, limit: int = PURGE_BATCH) -> int:
        """Delete up to `limit` expired keys; rows another transaction holds are left for later."""
        result = await self.session.execute(
            text(
                "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys"
                " WHERE expires_at <= now() ORDER BY expires_at LIMIT :n FOR UPDATE SKIP LOCKED)"
            ),
            {"n": limit},
        )
        return int(getattr(result, "rowcount", 0) or 0)


def caller_scope(caller: Caller) -> str:
    """Keys belong to one caller: an API key, a user or a service (the gateway-signed identity)."""
    return f"{caller.kind}:{caller.sub}"


def request_hash(request: Request, body: BaseModel) -> bytes:
    """The method, the path and the validated body (key order and whitespace do not matter)."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{request.method} {request.url.path}\n{canonical}".encode()).digest()


def _response(status_code: int, content: str, headers: dict[str, str]) -> Response:
    return Response(content, status_code=status_code, headers=headers, media_type="application/json")


async def answer_once(
    request: Request,
    session: AsyncSession,
    caller: Caller,
    key: str | None,
    body: BaseModel,
    make: Callable[[], Awaitable[Answer]],
) -> Response:
    """`make()` the answer, unless this caller's key already has one (then replay it, or 422 on another body)."""
    if key is None:
        answer = await make()
        return _response(answer.status_code, answer.body.model_dump_json(by_alias=True), answer.headers)
    scope = caller_scope(caller)
    digest = request_hash(request, body)
    repo = IdempotencyRepository(session)
    await repo.lock(scope, key)
    stored = await repo.find(scope, key)
    if stored is not None:
        if stored.request_hash != digest:
            raise invalid(IDEMPOTENCY_FIELD, "already used with a different request (method, path or body)")
        return _response(stored.status_code, stored.body, {**stored.headers, "Idempotent-Replayed": "true"})
    answer = await make()
    first = StoredAnswer(digest, answer.status_code, answer.body.model_dump_json(by_alias=True), answer.headers)
    ttl: int = request.app.state.settings.idempotency_key_ttl_seconds
    await repo.store(scope, key, first, ttl)
    await repo.purge_expired()
    return _response(first.status_code, first.body, first.headers)
