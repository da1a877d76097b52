"""commitment-svc through the gateway, as real processes: the demo organisation, ETags, resolution, preview."""

import uuid

import httpx
from pledge_dev.demo_org import demo_org_loaded, load_demo_org

W = {str(d): [["09:00", "12:00"], ["13:00", "18:00"]] for d in range(5)}


async def test_demo_org_loads_through_the_gateway_and_reloads_without_failing(gateway: httpx.AsyncClient) -> None:
    await load_demo_org(gateway)
    await load_demo_org(gateway)
    assert await demo_org_loaded(gateway)
    params = {"process": "complaint-handling", "node": "acknowledge", "segment": "simple"}
    response = await gateway.get("/v1/commitments/resolve", params=params)
    assert response.status_code == 200, response.text
    assert response.json()["commitment_limit"] == "PT15M"


async def test_reloading_the_demo_leaves_someone_elses_open_drafts_alone(gateway: httpx.AsyncClient) -> None:
    """An open draft of a signed agreement or an active commitment is a revision in progress: the loader neither
    signs nor activates it (an agreement draft with no covers could not even be signed)."""
    await load_demo_org(gateway)
    [signed] = (await gateway.get("/v1/agreements", params={"key": "sla-hengda-steel", "status": "signed"})).json()[
        "items"
    ]
    draft = await gateway.post(f"/v1/agreements/{signed['id']}/versions", json={"covers": []})
    assert draft.status_code == 201, draft.text
    [active] = (
        await gateway.get("/v1/commitments", params={"key": "complaint-general-e2e", "status": "active"})
    ).json()["items"]
    revision = await gateway.post(f"/v1/commitments/{active['id']}/versions", json={"commitment_limit": "PT1H"})
    assert revision.status_code == 201, revision.text

    await load_demo_org(gateway)

    assert (await gateway.get(f"/v1/agreements/{draft.json()['id']}")).json()["status"] == "draft"
    # by its key the agreement is reviewed in its signed version, not in the open draft (which covers nothing)
    review = await gateway.get(
        "/v1/reports/agreements/sla-hengda-steel", params={"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}
    )
    assert review.status_code == 200, review.text
    assert {c["commitment"] for c in review.json()["commitments"]} == {c["commitment_key"] for c in signed["covers"]}
    assert (await gateway.get(f"/v1/commitments/{revision.json()['id']}")).json()["status"] == "draft"
    path = f"/v1/commitments/{revision.json()['id']}"  # agreements keep their drafts; this one goes
    current = await gateway.get(path)
    assert (await gateway.delete(path, headers={"If-Match": current.headers["etag"]})).status_code == 204


async def test_calendar_etag_and_if_match_pass_through_the_gateway(gateway: httpx.AsyncClient) -> None:
    body = {"name": "E2E office", "timezone": "Asia/Shanghai", "weekly": W}
    created = await gateway.put("/v1/calendars/e2e-office", json=body)
    assert created.status_code in (200, 201), created.text
    etag = created.headers["etag"]
    missing = await gateway.put("/v1/calendars/e2e-office", json={**body, "name": "x"})
    assert missing.status_code == 428
    stale = await gateway.put("/v1/calendars/e2e-office", json={**body, "name": "x"}, headers={"If-Match": '"999"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    updated = await gateway.put("/v1/calendars/e2e-office", json={**body, "name": "E2E"}, headers={"If-Match": etag})
    assert updated.status_code == 200, updated.text


async def test_deadline_preview_through_the_gateway(gateway: httpx.AsyncClient) -> None:
    await gateway.put("/v1/calendars/e2e-w", json={"name": "W", "timezone": "Asia/Shanghai", "weekly": W})
    response = await gateway.post(
        "/v1/deadlines/preview",
        json={
            "start": "2026-03-03T16:00:00+08:00",
            "commitment": {"commitment_limit": "PT6H", "tolerance_limit": "PT10H", "calendar": "e2e-w"},
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["commitment_due_at"] == "2026-03-04T06:00:00Z"  # DESIGN example 5: Wed 14:00


async def test_a_retried_create_with_an_idempotency_key_is_answered_once(gateway: httpx.AsyncClient) -> None:
    path = f"/v1/calendars/e2e-retry-{uuid.uuid4().hex[:8]}"
    body = {"name": "E2E retried", "timezone": "Asia/Shanghai", "weekly": W}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await gateway.put(path, json=body, headers=key)
    again = await gateway.put(path, json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    reused = await gateway.put(path, json={**body, "name": "other"}, headers=key)
    assert reused.status_code == 422
    assert [e["field"] for e in reused.json()["errors"]] == ["header.Idempotency-Key"]


async def test_calendar_patch_needs_the_current_etag_through_the_gateway(gateway: httpx.AsyncClient) -> None:
    path = f"/v1/calendars/e2e-patch-{uuid.uuid4().hex[:8]}"
    created = await gateway.put(path, json={"name": "E2E patch", "timezone": "Asia/Shanghai", "weekly": W})
    assert created.status_code == 201, created.text
    merge = {"Content-Type": "application/merge-patch+json"}
    patched = await gateway.patch(
        path, content=b'{"name": "E2E patched"}', headers={**merge, "If-Match": created.headers["etag"]}
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["name"], patched.json()["timezone"]) == ("E2E patched", "Asia/Shanghai")
    stale = await gateway.patch(path, content=b'{"name": "x"}', headers={**merge, "If-Match": created.headers["etag"]})
    assert stale.status_code == 412
