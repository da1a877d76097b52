"""An event that happened in year 1 is refused (422 naming `occurred_at`), alone and as one item of a bulk."""

import httpx
import pytest
from conftest import ev

pytestmark = pytest.mark.usefixtures("catalogue")


async def test_an_event_in_year_1_is_422_naming_occurred_at(client: httpx.AsyncClient) -> None:
    body = {**ev("y1", "ticket.opened", 0), "occurred_at": "0001-01-01T00:00:00+00:00"}
    response = await client.post("/v1/events", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "occurred_at"


async def test_a_bulk_item_in_year_1_is_rejected_and_the_others_accepted(client: httpx.AsyncClient) -> None:
    items = [
        ev("ok-1", "ticket.opened", 0),
        {**ev("y1", "ticket.opened", 0, external_id="WO-2"), "occurred_at": "0001-01-01T00:00:00Z"},
    ]
    response = await client.post("/v1/events/bulk", json=items)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(i["status"], (i["error"] or {}).get("field")) for i in body["items"]] == [
        ("accepted", None),
        ("rejected", "occurred_at"),
    ]
