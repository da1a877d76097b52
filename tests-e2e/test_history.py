"""History through the gateway, as real processes: a commitment version put in force from a past instant.

Accepted when no judged run changes its governing version; refused (409, listing the runs) when some would;
accepted with `rejudge`, after which evaluation-svc re-judges those runs and the audit lists each one's
judgment before and after.
"""

import asyncio
import time
import uuid
from typing import Any

import httpx
from support import eventually, ok

V1_LIMITS = {"commitment_limit": "PT2H", "tolerance_limit": "PT4H"}
V2_LIMITS = {"commitment_limit": "PT1H", "tolerance_limit": "PT2H"}
V3_LIMITS = {"commitment_limit": "PT4H", "tolerance_limit": "PT6H"}


async def define(gateway: httpx.AsyncClient, tag: str) -> dict[str, Any]:
    """A process with one node and its version 1 (2 h / 4 h, 24x7) in force since 2026-01-01."""
    ok(await gateway.put(f"/v1/departments/{tag}-desk", json={"name": "Desk", "positions": []}), 200, 201)
    node = {"key": "fix", "name": "Fix", "department": f"{tag}-desk", "position_key": None}
    process = {"name": "Backfilled process", "owner_department": f"{tag}-desk", "nodes": [node]}
    ok(await gateway.put(f"/v1/processes/{tag}", json=process), 200, 201)
    body = {"key": f"{tag}-fix", "process": tag, "node": "fix", **V1_LIMITS, "calendar": "24x7"}
    v1 = ok(await gateway.post("/v1/commitments", json=body), 201)
    return ok(await activate(gateway, v1["id"], "2026-01-01T00:00:00+00:00"))  # type: ignore[no-any-return]


async def activate(gateway: httpx.AsyncClient, id_: str, start: str, **extra: Any) -> httpx.Response:
    ok(await gateway.post(f"/v1/commitments/{id_}/transitions", json={"to": "negotiating"}))
    return await gateway.post(
        f"/v1/commitments/{id_}/transitions", json={"to": "active", "effective_from": start, **extra}
    )


async def work_order(gateway: httpx.AsyncClient, tag: str, number: str, start: str, end: str) -> None:
    """A closed work order whose node `fix` ran from `start` to `end` (retried while tracking does not know the
    process yet: it learns processes from commitment-svc's feed)."""
    ticket = {"external_id": number, "process": tag}
    events = [
        ("ticket.opened", start, {}),
        ("node.started", start, {"node": "fix"}),
        ("node.completed", end, {"node": "fix"}),
        ("ticket.closed", end, {}),
    ]
    for i, (type_, at, extra) in enumerate(events):
        body = {
            "source": "e2e",
            "event_id": f"{number}-{i}",
            "type": type_,
            "occurred_at": at,
            "ticket": ticket,
            **extra,
        }
        deadline = time.monotonic() + 30
        while True:
            response = await gateway.post("/v1/events", json=body)
            if response.status_code == 422 and "unknown process" in response.text and time.monotonic() < deadline:
                await asyncio.sleep(0.3)
                continue
            ok(response, 201)
            break


async def judged(
    gateway: httpx.AsyncClient, tag: str, as_of: str = "2026-11-30T00:00:00Z"
) -> dict[str, tuple[str, str]]:
    """external id -> (commitment id, state) of the process's node runs (not its end-to-end runs)."""
    params = {"process": tag, "as_of": as_of, "limit": 100}
    page = ok(await gateway.get("/v1/reports/status/runs", params=params))
    return {r["external_id"]: (r["commitment_id"], r["state"]) for r in page["items"] if r["node"] == "fix"}


async def new_version(gateway: httpx.AsyncClient, base: dict[str, Any], limits: dict[str, str]) -> dict[str, Any]:
    return ok(await gateway.post(f"/v1/commitments/{base['id']}/versions", json=limits), 201)  # type: ignore[no-any-return]


async def test_back_dated_versions_are_accepted_refused_or_re_judged_with_an_audit(gateway: httpx.AsyncClient) -> None:
    tag = f"e2e-hist-{uuid.uuid4().hex[:8]}"
    v1 = await define(gateway, tag)
    # a year of history loaded after the fact: two work orders judged by version 1
    await work_order(gateway, tag, f"{tag}-march", "2026-03-02T10:00:00Z", "2026-03-02T11:30:00Z")
    await work_order(gateway, tag, f"{tag}-july", "2026-07-10T10:00:00Z", "2026-07-10T13:00:00Z")

    async def both_judged() -> bool:
        runs = await judged(gateway, tag)
        return len(runs) == 2 and all(c == v1["id"] for c, _ in runs.values())

    await eventually(both_judged, "both judged")

    # 1. from 2026-08-01: no judged run started since, so it is put in force
    v2 = await new_version(gateway, v1, V2_LIMITS)
    ok(await activate(gateway, v2["id"], "2026-08-01T00:00:00+00:00"))
    assert {c for c, _ in (await judged(gateway, tag)).values()} == {v1["id"]}

    # a September work order (3 h) is judged by version 2 (1 h / 2 h): warning
    await work_order(gateway, tag, f"{tag}-sept", "2026-09-10T10:00:00Z", "2026-09-10T13:00:00Z")

    async def september_judged() -> bool:
        return (await judged(gateway, tag)).get(f"{tag}-sept") == (v2["id"], "completed_warning")

    await eventually(september_judged, "september judged")

    # 2. from 2026-09-01: the September run would change version, so it is refused, the run listed
    v3 = await new_version(gateway, v2, V3_LIMITS)
    refused = await activate(gateway, v3["id"], "2026-09-01T00:00:00+00:00")
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["runs_changing"] == 1
    [listed] = problem["runs"]
    assert listed["external_id"] == f"{tag}-sept"
    assert (listed["before"]["version"], listed["before"]["state"]) == (2, "completed_warning")
    assert (listed["after"]["version"], listed["after"]["state"]) == (3, "completed_normal")
    assert (await judged(gateway, tag))[f"{tag}-sept"] == (v2["id"], "completed_warning")

    # 3. the same with rejudge: in force, the run re-judged, the act recorded with who, when, before and after
    accepted = ok(
        await gateway.post(
            f"/v1/commitments/{v3['id']}/transitions",
            json={"to": "active", "effective_from": "2026-09-01T00:00:00+00:00", "rejudge": True, "reason": "backfill"},
        )
    )
    assert accepted["status"] == "active"

    async def recorded() -> bool:
        page = ok(await gateway.get("/v1/reports/rejudgements", params={"commitment": f"{tag}-fix"}))
        return len(page["items"]) == 1

    await eventually(recorded, "recorded")
    [act] = ok(await gateway.get("/v1/reports/rejudgements", params={"commitment": f"{tag}-fix"}))["items"]
    assert (act["version"], act["version_id"], act["runs"], act["reason"]) == (3, v3["id"], 1, "backfill")
    assert act["requested_by"]
    assert act["state_changes"] == [{"before_state": "completed_warning", "after_state": "completed_normal", "runs": 1}]
    [run] = ok(await gateway.get(f"/v1/reports/rejudgements/{act['id']}/runs"))["items"]
    assert run["external_id"] == f"{tag}-sept"
    assert run["before"] == {
        "commitment_key": f"{tag}-fix",
        "version": 2,
        "state": "completed_warning",
        "counted": "PT3H",
    }
    assert run["after"] == {
        "commitment_key": f"{tag}-fix",
        "version": 3,
        "state": "completed_normal",
        "counted": "PT3H",
    }
    runs = await judged(gateway, tag)
    assert runs[f"{tag}-sept"] == (v3["id"], "completed_normal")
    assert runs[f"{tag}-march"][0] == runs[f"{tag}-july"][0] == v1["id"]  # history before it is untouched
