"""`GET /internal/v1/complaints/resolution`: first-contact resolution per owning department and month, the
figures of evaluation-svc's complaint KPI (docs/kpis.md)."""

import httpx
from test_complaints import CLOSE, RESOLVE, file, move

PATH = "/internal/v1/complaints/resolution"
MARCH = {"from": "2026-03-01T00:00:00+08:00", "to": "2026-05-01T00:00:00+08:00", "tz": "Asia/Shanghai"}


async def test_resolved_and_first_contact_resolved_per_department_and_month(
    client: httpx.AsyncClient, internal_headers: dict[str, str]
) -> None:
    quick = (await file(client, customer="R-1", received_at="2026-03-03T10:00:00+08:00"))["id"]
    again = (await file(client, customer="R-2", received_at="2026-03-31T23:00:00+08:00"))["id"]
    april = (await file(client, customer="R-3", received_at="2026-04-01T09:00:00+08:00"))["id"]
    await file(client, customer="R-4", received_at="2026-03-05T10:00:00+08:00")  # open: not resolved
    for cid in (quick, again, april):
        await move(client, cid, "acknowledged")
        await move(client, cid, "resolved", **RESOLVE)
        await move(client, cid, "closed", **CLOSE)
    await move(client, again, "reopened", reason="the refund never arrived")
    found = await client.get(PATH, params=MARCH, headers=internal_headers)
    assert found.status_code == 200, found.text
    groups = {
        (g["department"], g["period"]): (g["first_contact_resolved"], g["resolved"]) for g in found.json()["groups"]
    }
    # March 31 23:00 in Shanghai is March (UTC would say March too; April 1 09:00 is April 1 01:00 UTC)
    assert groups == {("call-centre", "2026-03"): (1, 2), ("call-centre", "2026-04"): (1, 1)}


async def test_only_services_read_it_and_bad_queries_are_422(
    client: httpx.AsyncClient, internal_headers: dict[str, str]
) -> None:
    assert (await client.get(PATH, params=MARCH)).status_code == 401
    for params, field in (
        ({**MARCH, "tz": "Mars/Olympus"}, "query.tz"),
        ({**MARCH, "to": MARCH["from"]}, "query.to"),
        ({"to": MARCH["to"]}, "query.from"),
    ):
        refused = await client.get(PATH, params=params, headers=internal_headers)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == [field]
