"""`Idempotency-Key` on feedback-svc's POSTs: a retry answers the first answer and writes nothing twice."""

import httpx
from pledge_dev.testing import table_count
from sqlalchemy.ext.asyncio import AsyncSession
from test_complaints import complaint_body

KEY = {"Idempotency-Key": "retry-7f3a"}


class TestComplaintRetry:
    async def test_a_retried_complaint_is_one_complaint_not_a_repeat(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        first = await client.post("/v1/complaints", json=complaint_body(), headers=KEY)
        again = await client.post("/v1/complaints", json=complaint_body(), headers=KEY)
        assert first.status_code == again.status_code == 201, first.text
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"
        assert await table_count(session, "complaints") == 1
        stored = (await client.get(f"/v1/complaints/{first.json()['id']}")).json()
        assert stored["repeat_of"] is None
        assert stored["repeated_by"] == []

    async def test_the_same_key_with_another_complaint_is_422_naming_the_header(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        assert (await client.post("/v1/complaints", json=complaint_body(), headers=KEY)).status_code == 201
        other = await client.post("/v1/complaints", json=complaint_body(customer="C-2"), headers=KEY)
        assert other.status_code == 422
        assert [e["field"] for e in other.json()["errors"]] == ["header.Idempotency-Key"]
        assert await table_count(session, "complaints") == 1

    async def test_without_a_key_two_posts_are_two_complaints(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        for _ in range(2):
            assert (await client.post("/v1/complaints", json=complaint_body())).status_code == 201
        assert await table_count(session, "complaints") == 2

    async def test_a_key_of_control_characters_is_422(self, client: httpx.AsyncClient) -> None:
        refused = await client.post("/v1/complaints", json=complaint_body(), headers={"Idempotency-Key": "a\tb"})
        assert refused.status_code == 422
        assert [e["field"] for e in refused.json()["errors"]] == ["header.Idempotency-Key"]


class TestOtherPosts:
    async def test_a_retried_instrument_is_created_once(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        before = await table_count(session, "survey_instruments")
        body = {
            "key": "kiosk",
            "name": "Kiosk",
            "dimensions": ["speed"],
            "items": [{"key": "q1", "dimension": "speed", "text": "Was it fast?"}],
        }
        first = await client.post("/v1/surveys", json=body, headers=KEY)
        again = await client.post("/v1/surveys", json=body, headers=KEY)
        assert first.status_code == again.status_code == 201, first.text
        assert again.headers["idempotent-replayed"] == "true"
        assert await table_count(session, "survey_instruments") == before + 1

    async def test_the_key_is_declared_on_every_post(self, client: httpx.AsyncClient) -> None:
        spec = (await client.get("/openapi.json")).json()
        for path, operations in spec["paths"].items():
            if "post" in operations and path.startswith("/v1/"):
                names = [p["name"] for p in operations["post"].get("parameters", [])]
                assert "Idempotency-Key" in names, path
