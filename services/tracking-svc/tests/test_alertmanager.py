"""`POST /v1/integrations/alertmanager` and its label mappings, with payloads shaped as Alertmanager sends them."""

from typing import Any

import httpx
import pytest
from conftest import T0, feed
from pledge_common.identity import Caller, identity_headers
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from tracking_svc.config import Settings
from tracking_svc.facts.alertmanager import AlertIn, Mapping, Refusal, alert_facts, choose_mapping

pytestmark = pytest.mark.usefixtures("services")

URL = "/v1/integrations/alertmanager"
MAPPINGS = f"{URL}/mappings"
ZERO = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of an alert still firing


def alert(
    fingerprint: str, status: str, service: str | None, starts: str, ends: str = ZERO, **labels: str
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {
            "alertname": "CoreRouterDown",
            "severity": "critical",
            **({"svc": service} if service else {}),
            **labels,
        },
        "annotations": {"summary": f"{service} is down", "description": "probe failed for 5m"},
        "startsAt": starts,
        "endsAt": ends,
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up%3D%3D0",
        "fingerprint": fingerprint,
    }


def payload(*alerts: dict[str, Any], receiver: str = "pledge") -> dict[str, Any]:
    """The webhook body of Alertmanager (version 4)."""
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


MONITOR = Caller(sub="am", kind="key", scopes=frozenset({"ingest:monitoring"}), sources=None)


@pytest.fixture
def monitor(settings: Settings) -> dict[str, str]:
    return identity_headers(MONITOR, settings.service_token)


@pytest.fixture
async def mapping(client: httpx.AsyncClient) -> dict[str, Any]:
    body = {
        "key": "prod",
        "receiver": "pledge",
        "service_label": "svc",
        "service_map": {"core-router": "core-network", "backup-job": "backup"},
        "planned_label": "maintenance",
        "weight_label": "impact",
    }
    response = await client.post(MAPPINGS, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def outages(session: AsyncSession) -> list[tuple[Any, ...]]:
    rows = await session.execute(
        text("SELECT service_key, outage_ref, started_at, ended_at, planned, weight FROM outages ORDER BY outage_ref")
    )
    return [tuple(r) for r in rows]


@pytest.mark.usefixtures("mapping")
class TestWebhook:
    async def test_a_firing_a_resolved_and_an_unknown_service_alert(
        self, client: httpx.AsyncClient, session: AsyncSession, monitor: dict[str, str]
    ) -> None:
        body = payload(
            alert("a1f0c2d3e4f5a6b7", "firing", "core-router", "2026-03-03T02:00:00Z"),
            alert("b2f0c2d3e4f5a6b7", "resolved", "backup-job", "2026-03-03T01:00:00Z", "2026-03-03T01:30:00Z"),
            alert("c3f0c2d3e4f5a6b7", "firing", "mail-relay", "2026-03-03T02:00:00Z"),
        )
        response = await client.post(URL, json=body, headers=monitor)
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert [(r["index"], r["fingerprint"], r["outcome"]) for r in results] == [
            (0, "a1f0c2d3e4f5a6b7", "accepted"),
            (1, "b2f0c2d3e4f5a6b7", "accepted"),
            (2, "c3f0c2d3e4f5a6b7", "rejected"),
        ]
        assert results[0]["reason"] is None
        assert "mail-relay" in results[2]["reason"]
        assert await outages(session) == [
            ("core-network", "a1f0c2d3e4f5a6b7@2026-03-03T02:00:00Z", T0, None, False, 1.0),
            (
                "backup",
                "b2f0c2d3e4f5a6b7@2026-03-03T01:00:00Z",
                T0.replace(hour=1),
                T0.replace(hour=1, minute=30),
                False,
                1.0,
            ),
        ]
        assert len(await feed(session, "outage.upserted")) == 2

    async def test_a_redelivery_is_a_duplicate_and_the_resolution_ends_the_outage(
        self, client: httpx.AsyncClient, session: AsyncSession, monitor: dict[str, str]
    ) -> None:
        firing = alert("a1f0c2d3e4f5a6b7", "firing", "core-router", "2026-03-03T02:00:00Z")
        await client.post(URL, json=payload(firing), headers=monitor)
        again = await client.post(URL, json=payload(firing), headers=monitor)  # the next group_interval
        assert again.json()["results"][0]["outcome"] == "duplicate"
        resolved = {**firing, "status": "resolved", "endsAt": "2026-03-03T03:15:00Z"}
        ended = await client.post(URL, json=payload(resolved), headers=monitor)
        assert ended.json()["results"][0]["outcome"] == "accepted"
        assert (await outages(session))[0][2:4] == (T0, T0.replace(hour=3, minute=15))
        redelivered = await client.post(URL, json=payload(resolved), headers=monitor)
        assert redelivered.json()["results"][0]["outcome"] == "duplicate"
        assert len(await feed(session, "outage.upserted")) == 2

    async def test_a_resolution_whose_firing_was_lost_records_the_whole_outage(
        self, client: httpx.AsyncClient, session: AsyncSession, monitor: dict[str, str]
    ) -> None:
        resolved = alert("a1f0c2d3e4f5a6b7", "resolved", "core-router", "2026-03-03T02:00:00Z", "2026-03-03T02:10:00Z")
        assert (await client.post(URL, json=payload(resolved), headers=monitor)).json()["results"][0][
            "outcome"
        ] == "accepted"
        assert (await outages(session))[0][2:4] == (T0, T0.replace(minute=10))

    async def test_planned_and_weight_labels_are_read(
        self, client: httpx.AsyncClient, session: AsyncSession, monitor: dict[str, str]
    ) -> None:
        degraded = alert(
            "a1f0c2d3e4f5a6b7", "firing", "core-router", "2026-03-03T02:00:00Z", maintenance="true", impact="0.3"
        )
        assert (await client.post(URL, json=payload(degraded), headers=monitor)).json()["results"][0][
            "outcome"
        ] == "accepted"
        assert (await outages(session))[0][4:] == (True, 0.3)

    async def test_a_missing_label_a_bad_weight_and_a_malformed_alert_are_rejected_alone(
        self, client: httpx.AsyncClient, session: AsyncSession, monitor: dict[str, str]
    ) -> None:
        body = payload(
            alert("a1f0c2d3e4f5a6b7", "firing", None, "2026-03-03T02:00:00Z"),
            alert("b2f0c2d3e4f5a6b7", "firing", "core-router", "2026-03-03T02:00:00Z", impact="2"),
            {"status": "firing", "labels": {"svc": "core-router"}, "fingerprint": "c3"},  # no startsAt
            alert("d4f0c2d3e4f5a6b7", "firing", "core-router", "2026-03-03T02:00:00Z"),
        )
        results = (await client.post(URL, json=body, headers=monitor)).json()["results"]
        assert [r["outcome"] for r in results] == ["rejected", "rejected", "rejected", "accepted"]
        assert "svc" in results[0]["reason"]
        assert "impact" in results[1]["reason"]
        assert "startsAt" in results[2]["reason"]
        assert len(await outages(session)) == 1

    async def test_an_alert_ending_before_its_start_is_rejected_without_writing_its_start(
        self, client: httpx.AsyncClient, session: AsyncSession, monitor: dict[str, str]
    ) -> None:
        backwards = alert("a1f0c2d3e4f5a6b7", "resolved", "core-router", "2026-03-03T02:00:00Z", "2026-03-03T01:00:00Z")
        results = (await client.post(URL, json=payload(backwards), headers=monitor)).json()["results"]
        assert results[0]["outcome"] == "rejected"
        assert "occurred_at" in results[0]["reason"]
        assert await outages(session) == []  # nothing half-written: not even its start
        assert await session.scalar(text("SELECT count(*) FROM service_facts")) == 0

    async def test_a_receiver_without_a_mapping_rejects_every_alert_with_the_reason(
        self, client: httpx.AsyncClient, monitor: dict[str, str]
    ) -> None:
        body = payload(alert("a1f0c2d3e4f5a6b7", "firing", "core-router", "2026-03-03T02:00:00Z"), receiver="other")
        results = (await client.post(URL, json=body, headers=monitor)).json()["results"]
        assert results[0]["outcome"] == "rejected"
        assert "no mapping for receiver 'other'" in results[0]["reason"]

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"version": "3"}, "version"),
            ({"alerts": "none"}, "alerts"),
            ({"status": None}, "status"),
        ],
    )
    async def test_a_body_that_is_not_an_alertmanager_payload_is_a_422(
        self, client: httpx.AsyncClient, monitor: dict[str, str], change: dict[str, Any], field: str
    ) -> None:
        body = {**payload(alert("a1", "firing", "core-router", "2026-03-03T02:00:00Z")), **change}
        response = await client.post(URL, json=body, headers=monitor)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field

    async def test_more_alerts_than_the_maximum_is_a_413(
        self, client: httpx.AsyncClient, monitor: dict[str, str], settings: Settings
    ) -> None:
        settings.alertmanager_max_alerts = 1
        one = alert("a1", "firing", "core-router", "2026-03-03T02:00:00Z")
        response = await client.post(URL, json=payload(one, one), headers=monitor)
        assert response.status_code == 413

    async def test_other_scopes_are_refused(self, client: httpx.AsyncClient, settings: Settings) -> None:
        writer = Caller(sub="w", kind="key", scopes=frozenset({"events:write", "definitions:write"}), sources=None)
        body = payload(alert("a1", "firing", "core-router", "2026-03-03T02:00:00Z"))
        response = await client.post(URL, json=body, headers=identity_headers(writer, settings.service_token))
        assert response.status_code == 403
        assert response.json()["required_scope"] == "ingest:monitoring"

    async def test_ingest_monitoring_writes_no_other_facts_nor_mappings(
        self, client: httpx.AsyncClient, monitor: dict[str, str]
    ) -> None:
        sample = {
            "source": "alertmanager",
            "external_id": "x",
            "type": "sample.recorded",
            "service": "core-network",
            "occurred_at": "2026-03-03T02:00:00Z",
            "obligation": "u",
            "value": 1,
        }
        assert (await client.post("/v1/service-facts", json=sample, headers=monitor)).status_code == 403
        assert (await client.post(MAPPINGS, json={"key": "x"}, headers=monitor)).status_code == 403

    async def test_a_nul_in_a_label_rejects_that_alert_only(
        self, client: httpx.AsyncClient, monitor: dict[str, str]
    ) -> None:
        body = payload(
            alert("a1", "firing", "core-router", "2026-03-03T02:00:00Z", note="a\x00b"),
            alert("b2", "firing", "core-router", "2026-03-03T02:00:00Z"),
        )
        results = (await client.post(URL, json=body, headers=monitor)).json()["results"]
        assert [r["outcome"] for r in results] == ["rejected", "accepted"]


class TestMappings:
    async def test_a_mapping_is_created_listed_read_and_deleted(
        self, client: httpx.AsyncClient, mapping: dict[str, Any]
    ) -> None:
        assert mapping["service_map"] == {"core-router": "core-network", "backup-job": "backup"}
        listed = await client.get(MAPPINGS, params={"limit": 1})
        assert [m["key"] for m in listed.json()["items"]] == ["prod"]
        assert (await client.get(f"{MAPPINGS}/prod")).json() == mapping
        assert (await client.delete(f"{MAPPINGS}/prod")).status_code == 204
        assert (await client.get(f"{MAPPINGS}/prod")).status_code == 404

    async def test_a_second_mapping_of_the_same_key_or_receiver_is_a_409(
        self, client: httpx.AsyncClient, mapping: dict[str, Any]
    ) -> None:
        assert (await client.post(MAPPINGS, json={"key": "prod"})).status_code == 409
        assert (await client.post(MAPPINGS, json={"key": "other", "receiver": "pledge"})).status_code == 409
        assert (await client.post(MAPPINGS, json={"key": "any"})).status_code == 201

    async def test_an_unknown_field_is_a_422_naming_it(self, client: httpx.AsyncClient) -> None:
        response = await client.post(MAPPINGS, json={"key": "k", "labels": "x"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "labels"

    async def test_the_mapping_for_any_receiver_applies_when_none_is_specific(
        self, client: httpx.AsyncClient, session: AsyncSession, monitor: dict[str, str]
    ) -> None:
        assert (await client.post(MAPPINGS, json={"key": "any"})).status_code == 201  # label `service`, identity
        firing = alert("a1", "firing", None, "2026-03-03T02:00:00Z")
        firing["labels"]["service"] = "core-network"
        results = (await client.post(URL, json=payload(firing, receiver="team-x"), headers=monitor)).json()["results"]
        assert results[0]["outcome"] == "accepted", results
        assert (await outages(session))[0][0] == "core-network"


class TestAlertRules:
    MAPPING = Mapping("m", None, "svc", None, None, None)

    def alert(self, status: str = "firing", ends: str = ZERO) -> AlertIn:
        return AlertIn.model_validate(alert("ff00", status, "s", "2026-03-03T10:00:00+08:00", ends))

    def test_a_firing_alert_is_a_start_named_by_fingerprint_and_start(self) -> None:
        facts = alert_facts(self.alert(), self.MAPPING)
        assert not isinstance(facts, Refusal)
        (start,) = facts
        assert (start.external_id, start.outage_ref) == (
            "ff00:firing:2026-03-03T02:00:00Z",
            "ff00@2026-03-03T02:00:00Z",
        )

    def test_a_resolved_alert_is_the_same_start_and_its_end(self) -> None:
        facts = alert_facts(self.alert("resolved", "2026-03-03T02:30:00Z"), self.MAPPING)
        assert not isinstance(facts, Refusal)
        assert [f.external_id for f in facts] == [
            "ff00:firing:2026-03-03T02:00:00Z",
            "ff00:resolved:2026-03-03T02:00:00Z",
        ]

    def test_the_receivers_own_mapping_wins_over_the_one_for_any(self) -> None:
        own = Mapping("own", "r", "svc", None, None, None)
        assert choose_mapping([self.MAPPING, own], "r") is own
        assert choose_mapping([self.MAPPING, own], "q") is self.MAPPING
        assert choose_mapping([own], "q") is None

    def test_nanosecond_instants_as_prometheus_writes_them_name_the_outage_the_same_way_each_time(self) -> None:
        sent = alert("ff00", "firing", "s", "2026-03-03T02:00:00.123456789Z")
        first = alert_facts(AlertIn.model_validate(sent), self.MAPPING)
        again = alert_facts(AlertIn.model_validate(sent), self.MAPPING)
        assert not isinstance(first, Refusal)
        assert not isinstance(again, Refusal)
        assert first[0].outage_ref == again[0].outage_ref == "ff00@2026-03-03T02:00:00.123456Z"
