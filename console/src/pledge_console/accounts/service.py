"""Sign-in, sessions, sign-out, the first admin account. Services never commit (the caller's session does)."""

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from pledge_console.accounts.repository import AccountRepository, SessionRepository, SessionRow
from pledge_console.accounts.rules import (
    DUMMY_HASH,
    MAX_PASSWORD,
    USERNAME,
    Role,
    hash_password,
    new_password,
    password_matches,
    scopes_of,
    token_terms,
)
from pledge_console.clients.gateway import GatewayClient


@dataclass(frozen=True)
class NewSession:
    token: str  # for the cookie; only its hash is stored
    expires_at: datetime


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def authenticate(session: AsyncSession, username: str, password: str) -> SessionRow | None:
    """The account when the password is right, else None (an unknown name costs the same hash)."""
    account = await AccountRepository(session).by_username(username) if USERNAME.match(username) else None
    stored = account.password_hash if account is not None else DUMMY_HASH
    if len(password) > MAX_PASSWORD:
        return None
    matches = await asyncio.to_thread(password_matches, password, stored)
    if account is None or not matches:
        return None
    return SessionRow(account, "", "", account.id, datetime.now(UTC))


async def open_session(
    session: AsyncSession, gateway: GatewayClient, signed_in: SessionRow, lifetime: timedelta
) -> NewSession:
    """A session and its API key: the scopes of the account's role, expiring with the session."""
    account = signed_in.account
    now = datetime.now(UTC).replace(microsecond=0)
    expires_at = now + lifetime
    key, key_id = await gateway.create_session_key(
        f"console session of {account.username}", scopes_of(Role(account.role)), expires_at
    )
    token = secrets.token_urlsafe(32)
    await SessionRepository(session).add(
        token_hash(token), account.id, secrets.token_urlsafe(32), key, key_id, now, expires_at
    )
    return NewSession(token, expires_at)


async def open_token_session(
    session: AsyncSession, gateway: GatewayClient, user_token: str, lifetime: timedelta
) -> NewSession | str:
    """A session for the holder of a user token of the gateway's issuer, or why not (a message key).

    The gateway verifies the token (`GET /v1/me` with it): the console holds no verifier of its own. The token
    is kept server-side and sent with every API call of the session; the session ends when the token expires.
    A GatewayError (401: the gateway refused the token) reaches the caller."""
    now = datetime.now(UTC).replace(microsecond=0)
    terms = token_terms(await gateway.get("/v1/me", user_token), now, lifetime)
    if isinstance(terms, str):
        return terms
    token = secrets.token_urlsafe(32)
    await SessionRepository(session).add_token_session(
        token_hash(token),
        secrets.token_urlsafe(32),
        user_token,
        terms.subject,
        terms.scopes,
        terms.department,
        now,
        terms.expires_at,
    )
    return NewSession(token, terms.expires_at)


async def current(session: AsyncSession, token: str | None) -> SessionRow | None:
    if not token or len(token) > 200:
        return None
    return await SessionRepository(session).active(token_hash(token), datetime.now(UTC))


async def close_session(session: AsyncSession, gateway: GatewayClient, token: str) -> None:
    """Forget the session and revoke its API key."""
    key_id = await SessionRepository(session).remove(token_hash(token))
    if key_id is not None:
        await gateway.revoke_key(key_id)


async def create_first_admin(session: AsyncSession, username: str = "admin") -> str | None:
    """The first account (role admin) with a random password, only when there is no account: its password."""
    repository = AccountRepository(session)
    if await repository.any_account():
        return None
    password = new_password()
    hashed = await asyncio.to_thread(hash_password, password)
    await repository.add(username, hashed, Role.admin.value, None, datetime.now(UTC))
    return password


async def create_account(
    session: AsyncSession, username: str, password: str, role: Role, department: str | None
) -> None:
    hashed = await asyncio.to_thread(hash_password, password)
    await AccountRepository(session).add(username, hashed, role.value, department, datetime.now(UTC))
