"""Alertmanager's webhook through the gateway with a key holding only `ingest:monitoring`: outages read back.

The service is created in commitment-svc (`POST /v1/services`, issue 20) and reaches tracking-svc over
commitment's feed (`service.upserted`); until then an alert naming it is rejected, so the test polls."""

import uuid
from typing import Any

import httpx
from support import bearer, eventually, ok

ZERO = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of an alert still firing


def alert(fingerprint: str, status: str, service: str, starts: str, ends: str = ZERO) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "CoreRouterDown", "service": service, "severity": "critical"},
        "annotations": {"summary": f"{service} unreachable"},
        "startsAt": starts,
        "endsAt": ends,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up%3D%3D0",
        "fingerprint": fingerprint,
    }


def payload(receiver: str, *alerts: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="CoreRouterDown"}',
        "truncatedAlerts": 0,
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": receiver,
        "groupLabels": {"alertname": "CoreRouterDown"},
        "commonLabels": {"alertname": "CoreRouterDown"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


async def test_alertmanager_alerts_become_outages_read_back_through_the_gateway(gateway: httpx.AsyncClient) -> None:
    tag = uuid.uuid4().hex[:8]
    service, receiver = f"core-network-{tag}", f"pledge-{tag}"
    key = ok(
        await gateway.post("/v1/api-keys", json={"name": f"alertmanager {tag}", "scopes": ["ingest:monitoring"]}), 201
    )["key"]
    # the label value `core-router` names the service through the mapping (definitions:write: the admin key)
    ok(
        await gateway.post(
            "/v1/integrations/alertmanager/mappings",
            json={"key": f"m-{tag}", "receiver": receiver, "service_map": {"core-router": service}},
        ),
        201,
    )
    # THE STEP THAT CREATES THE SERVICE: commitment-svc's /v1/services (issue 20, built alongside this test)
    ok(await gateway.post("/v1/services", json={"key": service, "name": "Core network", "customer_ref": "hengda"}), 201)

    firing = alert(f"a{tag}", "firing", "core-router", "2026-11-03T01:12:00Z")
    resolved = alert(f"b{tag}", "resolved", "core-router", "2026-11-02T20:00:00Z", "2026-11-02T20:45:00Z")
    unknown = alert(f"c{tag}", "firing", "mail-relay", "2026-11-03T01:12:00Z")
    body = payload(receiver, firing, resolved, unknown)
    webhook = "/v1/integrations/alertmanager"

    async def delivered() -> Any:  # tracking-svc knows the service once commitment's feed has brought it
        results = ok(await gateway.post(webhook, json=body, headers=bearer(key)))["results"]
        return results if results[0]["outcome"] != "rejected" else None

    results = await eventually(delivered, f"tracking-svc to know the service {service}")
    assert [(r["fingerprint"], r["outcome"]) for r in results] == [
        (f"a{tag}", "accepted"),
        (f"b{tag}", "accepted"),
        (f"c{tag}", "rejected"),
    ]
    assert "mail-relay" in results[2]["reason"]

    again = ok(await gateway.post(webhook, json=body, headers=bearer(key)))["results"]  # the next group_interval
    assert [r["outcome"] for r in again] == ["duplicate", "duplicate", "rejected"]

    listed = ok(
        await gateway.get(
            "/v1/outages", params={"service": service, "from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}
        )
    )
    assert [(o["started_at"], o["ended_at"]) for o in listed["items"]] == [
        ("2026-11-02T20:00:00Z", "2026-11-02T20:45:00Z"),
        ("2026-11-03T01:12:00Z", None),
    ]
    assert listed["items"][1]["outage_ref"] == f"a{tag}@2026-11-03T01:12:00Z"

    # the key holds ingest:monitoring and nothing else
    refused = await gateway.get(
        "/v1/outages", params={"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}, headers=bearer(key)
    )
    assert refused.status_code == 403
    assert refused.json()["required_scope"] == "tickets:read"
