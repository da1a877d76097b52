"""The Idempotency-Key kit on a real Postgres: replay, another body, callers apart, expiry."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pledge_common.db import SessionDep, create_engine, create_sessionmaker
from pledge_common.idempotency import IDEMPOTENCY_DDL, Answer, IdempotencyDep, IdempotencyStore, fingerprint
from pledge_common.identity import Caller, identity_headers
from pledge_common.problems import install_problem_handlers
from pledge_common.settings import ServiceSettings
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

SCHEMA = "idemtest"
KEY = {"Idempotency-Key": "k-1"}
JSON_KEY = {**KEY, "Content-Type": "application/json"}


class ThingCreate(BaseModel):
    name: str
    size: int = 1


class ThingPublic(BaseModel):
    id: int
    name: str


@pytest.fixture(scope="module")
async def idem_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, SCHEMA, pool_size=4)
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        for statement in IDEMPOTENCY_DDL:
            await conn.execute(text(statement))
        await conn.execute(text("CREATE TABLE things (id serial PRIMARY KEY, name text NOT NULL)"))
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def app(idem_engine: AsyncEngine) -> FastAPI:
    async with idem_engine.begin() as conn:
        await conn.execute(text("TRUNCATE things, idempotency_keys"))
    app = FastAPI()
    install_problem_handlers(app)
    app.state.settings = ServiceSettings(environment="test", db_schema=SCHEMA, database_url="postgresql://x/y")
    app.state.sessionmaker = create_sessionmaker(idem_engine)
    app.state.gate = asyncio.Event()

    @app.post("/v1/things", status_code=201, response_model=ThingPublic)
    async def create(body: ThingCreate, session: SessionDep, idem: IdempotencyDep, slow: bool = False) -> object:
        async def make() -> Answer:
            if slow:
                await app.state.gate.wait()
            row = (
                await session.execute(text("INSERT INTO things (name) VALUES (:n) RETURNING id"), {"n": body.name})
            ).scalar_one()
            return Answer(201, ThingPublic(id=row, name=body.name), {"Location": f"/v1/things/{row}", "X-Other": "1"})

        return await idem.answer(make, body)

    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        yield client


async def things(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM things"))).scalar_one())


def as_caller(app: FastAPI, sub: str) -> dict[str, str]:
    caller = Caller(sub=sub, kind="key", scopes=frozenset({"admin"}), sources=None)
    return {**identity_headers(caller, app.state.settings.service_token), **KEY}


class TestReplay:
    async def test_same_key_and_body_answers_the_first_answer_with_its_kept_headers(
        self, client: httpx.AsyncClient, idem_engine: AsyncEngine
    ) -> None:
        first = await client.post("/v1/things", json={"name": "a"}, headers=KEY)
        again = await client.post("/v1/things", content=b'{ "size": 1, "name": "a" }', headers=JSON_KEY)
        assert first.status_code == again.status_code == 201
        assert again.content == first.content
        assert again.headers["location"] == first.headers["location"]
        assert again.headers["idempotent-replayed"] == "true"
        assert "x-other" not in again.headers
        assert await things(idem_engine) == 1

    async def test_another_body_or_query_under_the_key_is_422_naming_the_header(
        self, client: httpx.AsyncClient, idem_engine: AsyncEngine
    ) -> None:
        await client.post("/v1/things", json={"name": "a"}, headers=KEY)
        for other in (
            await client.post("/v1/things", json={"name": "b"}, headers=KEY),
            await client.post("/v1/things", params={"slow": "false"}, json={"name": "a"}, headers=KEY),
        ):
            assert other.status_code == 422
            assert [e["field"] for e in other.json()["errors"]] == ["header.Idempotency-Key"]
        assert await things(idem_engine) == 1

    async def test_keys_belong_to_one_caller(
        self, app: FastAPI, client: httpx.AsyncClient, idem_engine: AsyncEngine
    ) -> None:
        first = await client.post("/v1/things", json={"name": "a"}, headers=as_caller(app, "p1"))
        other = await client.post("/v1/things", json={"name": "a"}, headers=as_caller(app, "p2"))
        assert "idempotent-replayed" not in other.headers
        assert first.json()["id"] != other.json()["id"]
        assert await things(idem_engine) == 2

    @pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
    async def test_a_key_outside_1_to_255_printable_ascii_is_422(self, client: httpx.AsyncClient, key: str) -> None:
        refused = await client.post("/v1/things", json={"name": "a"}, headers={"Idempotency-Key": key})
        assert refused.status_code == 422
        assert [e["field"] for e in refused.json()["errors"]] == ["header.Idempotency-Key"]


HELD = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


class TestInFlight:
    async def test_the_same_key_while_the_first_runs_is_409_then_replayed(
        self, app: FastAPI, client: httpx.AsyncClient, idem_engine: AsyncEngine
    ) -> None:
        slow = asyncio.create_task(client.post("/v1/things", params={"slow": "true"}, json={"name": "a"}, headers=KEY))
        for _ in range(500):  # until the first holds its key (a transaction-scoped advisory lock of this database)
            async with idem_engine.connect() as conn:
                if (await conn.execute(text(HELD))).scalar():
                    break
            await asyncio.sleep(0.01)
        busy = await asyncio.wait_for(
            client.post("/v1/things", params={"slow": "true"}, json={"name": "a"}, headers=KEY), timeout=10
        )
        assert busy.status_code == 409
        assert [e["field"] for e in busy.json()["errors"]] == ["header.Idempotency-Key"]
        app.state.gate.set()
        first = await slow
        again = await client.post("/v1/things", params={"slow": "true"}, json={"name": "a"}, headers=KEY)
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"
        assert await things(idem_engine) == 1


class TestExpiry:
    async def test_an_expired_key_is_not_replayed_and_storing_purges_expired_ones(
        self, client: httpx.AsyncClient, idem_engine: AsyncEngine
    ) -> None:
        await client.post("/v1/things", json={"name": "a"}, headers=KEY)
        await client.post("/v1/things", json={"name": "b"}, headers={"Idempotency-Key": "k-2"})
        async with idem_engine.begin() as conn:
            kept = (await conn.execute(text("SELECT max(expires_at - created_at) FROM idempotency_keys"))).scalar_one()
            assert kept.total_seconds() == 24 * 3600
            await conn.execute(
                text("UPDATE idempotency_keys SET created_at = now() - interval '2 days', expires_at = now()")
            )
        again = await client.post("/v1/things", json={"name": "a"}, headers=KEY)
        assert "idempotent-replayed" not in again.headers
        async with idem_engine.connect() as conn:
            keys = (await conn.execute(text("SELECT key FROM idempotency_keys"))).scalars().all()
        assert keys == ["k-1"]
        assert await things(idem_engine) == 3

    async def test_purge_removes_only_expired_keys(self, idem_engine: AsyncEngine) -> None:
        async with idem_engine.begin() as conn:
            await conn.execute(text("TRUNCATE idempotency_keys"))
            await conn.execute(
                text(
                    "INSERT INTO idempotency_keys (caller, key, request_hash, status_code, response_body, created_at,"
                    " expires_at) VALUES ('key:x', 'old', '', 201, '{}', now() - interval '2 days',"
                    " now() - interval '1 day'), ('key:x', 'new', '', 201, '{}', now(), now() + interval '1 day')"
                )
            )
        async with create_sessionmaker(idem_engine)() as session, session.begin():
            assert await IdempotencyStore(session, SCHEMA).purge_expired() == 1


def test_the_fingerprint_ignores_key_order_and_query_order() -> None:
    one = fingerprint("POST", "/v1/things", "a=1&b=2", ThingCreate(name="x", size=2))
    two = fingerprint("post", "/v1/things", "b=2&a=1", ThingCreate.model_validate({"size": 2, "name": "x"}))
    assert one == two
    assert one != fingerprint("POST", "/v1/other", "a=1&b=2", ThingCreate(name="x", size=2))
