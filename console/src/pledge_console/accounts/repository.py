"""SQL of accounts and sessions (schema `console`). Repositories flush; they never commit."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pledge_console.accounts.rules import TOKEN_ROLE, Role, scopes_of


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    username: str
    password_hash: str
    role: str
    department: str | None


@dataclass(frozen=True)
class SessionRow:
    """A signed-in session. A token session's `account` stands in for the token's holder (no local account:
    the subject as username, role `token`, the department the gateway reported); its `api_key` is the token."""

    account: Account
    csrf_token: str
    api_key: str
    api_key_id: uuid.UUID | None  # the gateway key made for an account's session; None for a token session
    expires_at: datetime
    scopes: frozenset[str] = frozenset()

    def may(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


ACCOUNT_COLUMNS = "a.id, a.username, a.password_hash, a.role, a.department"


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def any_account(self) -> bool:
        return bool(await self.session.scalar(text("SELECT EXISTS (SELECT 1 FROM accounts)")))

    async def by_username(self, username: str) -> Account | None:
        row = (
            await self.session.execute(
                text(f"SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.username = :u AND a.disabled_at IS NULL"),
                {"u": username},
            )
        ).first()
        return Account(*row) if row else None

    async def add(
        self, username: str, password_hash: str, role: str, department: str | None, now: datetime
    ) -> uuid.UUID:
        account_id = uuid.uuid4()
        await self.session.execute(
            text(
                "INSERT INTO accounts (id, username, password_hash, role, department, created_at) "
                "VALUES (:id, :u, :h, :r, :d, :now)"
            ),
            {"id": account_id, "u": username, "h": password_hash, "r": role, "d": department, "now": now},
        )
        return account_id


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        token_hash: bytes,
        account_id: uuid.UUID,
        csrf_token: str,
        api_key: str,
        api_key_id: uuid.UUID,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        await self.session.execute(
            text(
                "INSERT INTO sessions (token_hash, account_id, csrf_token, api_key, api_key_id, created_at, "
                "expires_at) VALUES (:t, :a, :c, :k, :kid, :now, :exp)"
            ),
            {
                "t": token_hash,
                "a": account_id,
                "c": csrf_token,
                "k": api_key,
                "kid": api_key_id,
                "now": now,
                "exp": expires_at,
            },
        )

    async def add_token_session(
        self,
        token_hash: bytes,
        csrf_token: str,
        user_token: str,
        subject: str,
        scopes: list[str],
        department: str | None,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        await self.session.execute(
            text(
                "INSERT INTO sessions (token_hash, csrf_token, api_key, subject, scopes, department, created_at, "
                "expires_at) VALUES (:t, :c, :k, :sub, :scopes, :d, :now, :exp)"
            ),
            {
                "t": token_hash,
                "c": csrf_token,
                "k": user_token,
                "sub": subject,
                "scopes": scopes,
                "d": department,
                "now": now,
                "exp": expires_at,
            },
        )

    async def active(self, token_hash: bytes, now: datetime) -> SessionRow | None:
        row = (
            await self.session.execute(
                text(
                    f"SELECT {ACCOUNT_COLUMNS}, s.csrf_token, s.api_key, s.api_key_id, s.expires_at, "
                    "s.subject, s.scopes, s.department "
                    "FROM sessions s LEFT JOIN accounts a ON a.id = s.account_id "
                    "WHERE s.token_hash = :t AND s.expires_at > :now "
                    "AND (s.account_id IS NULL OR a.disabled_at IS NULL)"
                ),
                {"t": token_hash, "now": now},
            )
        ).first()
        if row is None:
            return None
        if row[9] is not None:  # a token session
            holder = Account(uuid.UUID(int=0), row[9], "", TOKEN_ROLE, row[11])
            return SessionRow(holder, row[5], row[6], None, row[8], frozenset(row[10]))
        account = Account(*row[:5])
        return SessionRow(account, row[5], row[6], row[7], row[8], frozenset(scopes_of(Role(account.role))))

    async def remove(self, token_hash: bytes) -> uuid.UUID | None:
        """Delete the session; the id of its API key (to revoke), or None when there was none."""
        key_id: uuid.UUID | None = await self.session.scalar(
            text("DELETE FROM sessions WHERE token_hash = :t RETURNING api_key_id"), {"t": token_hash}
        )
        return key_id

    async def purge_expired(self, now: datetime) -> int:
        result = await self.session.execute(text("DELETE FROM sessions WHERE expires_at <= :now"), {"now": now})
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
