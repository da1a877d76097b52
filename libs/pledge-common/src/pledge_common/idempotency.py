"""`Idempotency-Key` on every unsafe POST: a retried request gets the first answer; nothing is written twice.

A key (1-255 printable ASCII characters) belongs to one caller. The first successful answer (status, JSON body
and the headers in `KEPT_HEADERS`) is stored in the same transaction as what the request wrote, so either both
exist or neither does; a failed request stores nothing and its retry is processed afresh.

- The same key with the same request (method, path, query and canonical body: the SHA-256 `fingerprint`) answers
  the stored answer again, with `Idempotent-Replayed: true`.
- The same key with another request is a 422 naming `header.Idempotency-Key`.
- The same key while the first request is still running is a 409: the first holds a transaction-scoped advisory
  lock on the key until it commits or rolls back, and a second one that cannot take it at once is refused (it
  would otherwise wait, then replay, holding a connection meanwhile). The lock lives in Postgres, so this holds
  across replicas.
- Keys expire after the service's `idempotency_key_ttl_seconds` (24 h by default). Every stored key deletes up to
  `PURGE_BATCH` expired ones (`FOR UPDATE SKIP LOCKED`: replicas purging at once skip each other's rows), and an
  expired key is never replayed even before it is purged. `purge_expired_keys` deletes all expired keys in
  batches; each service runs it on a schedule with its partition maintenance (`pledge_common.partitions`), so
  keys of callers that stopped writing do not stay for ever.

Each service owns an `idempotency_keys` table in its own schema, created by its own migration from
`IDEMPOTENCY_DDL`. A route takes `IdempotencyDep` (which declares the header in its OpenAPI) and returns
`await idem.answer(make, body)`; a route that reads its body as a stream uses `claim`/`replay`/`record`.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from pledge_common.db import SessionDep
from pledge_common.identity import Caller, CallerDep
from pledge_common.problems import Conflict, field_error, invalid

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_FIELD = f"header.{KEY_HEADER}"
DEFAULT_TTL_SECONDS = 24 * 3600
PURGE_BATCH = 100
# Headers of the first answer that a replay repeats (anything else, like a request id, belongs to one exchange).
KEPT_HEADERS = frozenset({"etag", "location", "pledge-duplicate", "link"})

IDEMPOTENCY_DDL = (
    """
    CREATE TABLE idempotency_keys (
        caller text NOT NULL,
        key text NOT NULL,
        request_hash bytea NOT NULL,
        status_code integer NOT NULL,
        response_body text NOT NULL,
        response_headers jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (caller, key),
        CONSTRAINT idempotency_keys_expire_after_creation CHECK (expires_at > created_at)
    )
    """,
    "CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at)",
)
"""The table every service creates in its own schema (the answer is kept as the exact JSON text sent, not jsonb,
which would reorder its keys, so a replay is byte for byte the first answer)."""

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=KEY_HEADER,
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$",
        description="retry safely: the same key and body get the first answer again (with `Idempotent-Replayed:"
        " true`); the same key with another body is a 422, while the first is still running a 409. 1-255"
        " printable ASCII characters, per caller, kept 24 hours.",
    ),
]


@dataclass(frozen=True, slots=True)
class Answer:
    """What a writing route answers: rendered once, and stored when the request carries a key."""

    status_code: int
    body: BaseModel | str | None
    headers: dict[str, str] = field(default_factory=dict)

    def content(self) -> str:
        if self.body is None:
            return ""
        if isinstance(self.body, str):
            return self.body
        return self.body.model_dump_json(by_alias=True)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    request_hash: bytes
    status_code: int
    body: str
    headers: dict[str, str]


def caller_scope(caller: Caller) -> str:
    """Keys belong to one caller: an API key, a user or a service (the gateway-signed identity)."""
    return f"{caller.kind}:{caller.sub}"


def canonical_json(value: Any) -> bytes:
    """JSON text in which key order and whitespace do not matter."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fingerprint(method: str, path: str, query: str, body: BaseModel | bytes | None) -> bytes:
    """SHA-256 of the method, the path, the query parameters (sorted) and the body: a validated model as
    canonical JSON (key order, whitespace and spelling of numbers do not matter), raw bytes as they are."""
    payload = canonical_json(body.model_dump(mode="json")) if isinstance(body, BaseModel) else body or b""
    params = "&".join(sorted(query.split("&"))) if query else ""
    head = f"{method.upper()} {path}?{params}\n".encode()
    return hashlib.sha256(head + payload).digest()


class IdempotencyStore:
    """The `idempotency_keys` table of the session's schema."""

    def __init__(self, session: AsyncSession, namespace: str) -> None:
        self.session = session
        self.namespace = namespace

    async def claim(self, scope: str, key: str) -> None:
        """Hold the key until the transaction ends; a 409 when another request holds it right now."""
        taken = (
            await self.session.execute(
                text("SELECT pg_try_advisory_xact_lock(hashtextextended(:ck, 0))"),
                {"ck": f"idem:{self.namespace}:{scope}:{key}"},
            )
        ).scalar_one()
        if not taken:
            raise Conflict(
                "a request with this Idempotency-Key is still being processed; retry once it has been answered",
                errors=[field_error(KEY_FIELD, "in use by a request still running")],
            )

    async def find(self, scope: str, key: str) -> StoredAnswer | None:
        """The unexpired answer stored for this caller's key."""
        row = (
            await self.session.execute(
                text(
                    "SELECT request_hash, status_code, response_body, response_headers FROM idempotency_keys"
                    " WHERE caller = :c AND key = :k AND expires_at > now()"
                ),
                {"c": scope, "k": key},
            )
        ).first()
        return StoredAnswer(bytes(row[0]), row[1], row[2], dict(row[3])) if row else None

    async def store(self, scope: str, key: str, answer: StoredAnswer, ttl_seconds: int) -> None:
        """Record the answer (an expired answer under the same key is replaced), then purge a batch of expired keys."""
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
                "c": scope,
                "k": key,
                "h": answer.request_hash,
                "s": answer.status_code,
                "b": answer.body,
                "hd": json.dumps(answer.headers),
                "ttl": ttl_seconds,
            },
        )
        await self.purge_expired()

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


SCHEDULED_PURGE_BATCH = 5000
_PURGE = text(
    "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys"
    " WHERE expires_at <= now() ORDER BY expires_at LIMIT :n FOR UPDATE SKIP LOCKED)"
)


async def purge_expired_keys(engine: AsyncEngine, batch: int = SCHEDULED_PURGE_BATCH) -> int:
    """The scheduled purge: delete every expired key (expires_at <= now), `batch` rows per transaction (short
    locks, replicas skip each other's rows); the number deleted. Keys not expired are never touched."""
    deleted = 0
    while True:
        async with engine.begin() as conn:
            n = int((await conn.execute(_PURGE, {"n": batch})).rowcount or 0)
        deleted += n
        if n < batch:
            return deleted


def json_response(status_code: int, content: str, headers: dict[str, str]) -> Response:
    if not content:
        return Response(status_code=status_code, headers=headers)
    return Response(content, status_code=status_code, headers=headers, media_type="application/json")


class Idempotency:
    """The `Idempotency-Key` of one request, with what is needed to honour it."""

    def __init__(
        self, request: Request, session: AsyncSession, scope: str, key: str | None, ttl_seconds: int, namespace: str
    ) -> None:
        self.request = request
        self.key = key
        self.scope = scope
        self.ttl_seconds = ttl_seconds
        self.store = IdempotencyStore(session, namespace)

    def fingerprint(self, body: BaseModel | bytes | None) -> bytes:
        return fingerprint(self.request.method, self.request.url.path, self.request.url.query, body)

    async def claim(self) -> StoredAnswer | None:
        """Hold this request's key (409 if another request holds it) and return its unexpired stored answer."""
        assert self.key is not None
        await self.store.claim(self.scope, self.key)
        return await self.store.find(self.scope, self.key)

    @staticmethod
    def replay(stored: StoredAnswer, digest: bytes) -> Response:
        """The stored answer again, or a 422 when it answered another request."""
        if stored.request_hash != digest:
            raise invalid(KEY_FIELD, "already used with a different request (method, path or body)")
        return json_response(stored.status_code, stored.body, {**stored.headers, REPLAYED_HEADER: "true"})

    async def record(self, digest: bytes, answer: Answer) -> Response:
        """Store the first answer (when the request carries a key) and render it."""
        content = answer.content()
        if self.key is not None:
            kept = {name: value for name, value in answer.headers.items() if name.lower() in KEPT_HEADERS}
            await self.store.store(
                self.scope, self.key, StoredAnswer(digest, answer.status_code, content, kept), self.ttl_seconds
            )
        return json_response(answer.status_code, content, answer.headers)

    async def answer(self, make: Callable[[], Awaitable[Answer]], body: BaseModel | bytes | None = None) -> Response:
        """`make()` the answer, unless this caller's key already has one (then replay it, or 422 on another body).
        `body` is what the request carried (its validated model), for the fingerprint."""
        if self.key is None:
            return await self.record(b"", await make())
        digest = self.fingerprint(body)
        stored = await self.claim()
        if stored is not None:
            return self.replay(stored, digest)
        return await self.record(digest, await make())


def ttl_of(request: Request) -> int:
    settings = getattr(request.app.state, "settings", None)
    return int(getattr(settings, "idempotency_key_ttl_seconds", DEFAULT_TTL_SECONDS))


def namespace_of(request: Request) -> str:
    settings = getattr(request.app.state, "settings", None)
    return str(getattr(settings, "db_schema", "") or "")


def idempotency_of(request: Request, session: AsyncSession, caller: Caller, key: str | None) -> Idempotency:
    """The kit for one request of `caller` (for an app whose caller comes from elsewhere than `CallerDep`)."""
    return Idempotency(request, session, caller_scope(caller), key, ttl_of(request), namespace_of(request))


async def _idempotency(
    request: Request, session: SessionDep, caller: CallerDep, idempotency_key: IdempotencyKey = None
) -> Idempotency:
    return idempotency_of(request, session, caller, idempotency_key)


IdempotencyDep = Annotated[Idempotency, Depends(_idempotency)]
"""A route's `Idempotency-Key` (declared in its OpenAPI parameters), scoped to the signed caller."""
