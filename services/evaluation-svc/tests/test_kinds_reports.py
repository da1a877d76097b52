"""The availability and obligations reports through the HTTP API, on a real Postgres, fed like the read model."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from evalfactories import (
    agreement,
    calendar_w,
    deliverable,
    kind_commitment,
    occurrence,
    outage,
    sample,
    service,
)
from evaluation_svc.readmodel.service import Projection
from fastapi import FastAPI
from pledge_common.identity import Caller, identity_headers
from sqlalchemy.ext.asyncio import AsyncSession

PROBLEM = "application/problem+json"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


YEAR = {"from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"}
Y0 = utc("2026-01-01T00:00")


async def trap(session: AsyncSession) -> None:
    """The 98 % trap of docs/kinds.md: 49 outages of 5 min and one of 7 days in 2026, 24x7."""
    projection = Projection()
    await projection.handle_commitment(
        session, [service(), kind_commitment(), agreement("sla-erp", covers=(("erp-uptime", 0.98),))]
    )
    facts = [
        outage(f"o{i}", Y0 + timedelta(days=3 * i + 1), Y0 + timedelta(days=3 * i + 1, minutes=5)) for i in range(49)
    ]
    facts.append(outage("week", utc("2026-07-01T00:00"), utc("2026-07-08T00:00")))
    await projection.handle_tracking(session, facts)


async def report(client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


class TestAvailabilityReport:
    async def test_the_98_percent_trap_meets_the_target_and_breaks_the_max_single_outage(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await trap(session)
        [row] = (await report(client, "/v1/reports/availability", YEAR))["rows"]
        assert row["commitment"] == "erp-uptime"
        assert row["service"] == {"key": "erp", "name": "ERP", "customer": "acme", "segment": "default"}
        assert row["target"] == 0.98
        assert abs(row["availability"] - (1 - 10325 / 525600)) < 1e-12
        assert row["target_met"] is True
        assert row["downtime"] == "PT172H5M"
        assert (row["outages"], row["states"]) == (50, {"completed_normal": 49, "completed_warning": 1})
        assert row["limits"]["max_outages"] == {"limit": 60.0, "actual": 50.0, "met": True}
        assert row["limits"]["max_downtime"]["met"] is True
        assert row["limits"]["max_single_outage"] == {"limit": "PT4H", "actual": "PT168H", "met": False}
        longest = row["longest_outage"]
        assert (longest["id"], longest["state"], longest["counted"]) == ("week", "completed_warning", "PT168H")
        assert row["error_budget"] == "PT175H12M"  # 2 % of 8 760 h
        assert row["budget_remaining_seconds"] == (10512 - 10325) * 60
        # as of a day of 2026 when no outage burned for 3 days: the rest of the year is forecast to burn nothing
        assert row["forecast"]["downtime"] == row["downtime"] or datetime.now(UTC) >= utc("2027-01-01T00:00")
        assert row["burn"]["alert"] is None

    async def test_a_month_of_the_trap_misses_the_target(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await trap(session)
        july = {"from": "2026-07-01T00:00:00Z", "to": "2026-08-01T00:00:00Z"}
        [row] = (await report(client, "/v1/reports/availability", july))["rows"]
        assert row["target_met"] is False
        assert row["outages"] == 1  # the week (the 5-minute outages were all before June)

    async def test_an_open_outage_burns_pages_and_is_forecast(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = Projection()
        await projection.handle_commitment(
            session, [service(), kind_commitment(), agreement("sla-erp", covers=(("erp-uptime", 0.999),))]
        )
        now = datetime.now(UTC)
        await projection.handle_tracking(session, [outage("live", now - timedelta(minutes=70))])
        params = {"from": (now - timedelta(days=10)).isoformat(), "to": (now + timedelta(days=20)).isoformat()}
        [row] = (await report(client, "/v1/reports/availability", params))["rows"]
        assert row["burn"]["alert"] == "page"
        assert row["longest_outage"]["ended_at"] is None
        assert row["longest_outage"]["state"] == "in_progress_normal"
        assert row["forecast"]["meets_target"] is False  # 70 min already beyond a 43.2 min budget
        assert row["forecast"]["certain"] is True

    async def test_business_hours_and_planned_maintenance(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = Projection()
        events = [
            calendar_w(),
            service(),
            kind_commitment(
                commitment_limit="PT1H",
                tolerance_limit="PT2H",
                calendar_key="cn-office",
                objective={"max_outages": 2, "max_downtime": "PT4H", "planned_maintenance_exempt": True},
            ),
            agreement("sla-erp", covers=(("erp-uptime", 0.98),)),
        ]
        await projection.handle_commitment(session, events)
        cst = "+08:00"
        await projection.handle_tracking(
            session,
            [
                outage(
                    "A",
                    datetime.fromisoformat(f"2026-03-03T17:00{cst}"),
                    datetime.fromisoformat(f"2026-03-04T10:00{cst}"),
                ),
                outage(
                    "B",
                    datetime.fromisoformat(f"2026-03-05T09:00{cst}"),
                    datetime.fromisoformat(f"2026-03-05T13:00{cst}"),
                    weight=0.5,
                ),
                outage(
                    "C",
                    datetime.fromisoformat(f"2026-03-06T17:00{cst}"),
                    datetime.fromisoformat(f"2026-03-06T18:00{cst}"),
                    planned=True,
                ),
            ],
        )
        march = {"from": f"2026-03-01T00:00:00{cst}", "to": f"2026-04-01T00:00:00{cst}"}
        [row] = (await report(client, "/v1/reports/availability", march))["rows"]
        assert (row["service_time"], row["downtime"]) == ("PT175H", "PT3H30M")
        assert abs(row["availability"] - 0.98) < 1e-12
        assert (row["outages"], row["exempted"]) == (2, 1)
        assert (row["mttr"], row["mtbf"]) == ("PT2H30M", "PT85H45M")
        assert row["longest_outage"]["id"] == "B"

    async def test_filters_by_service_and_customer(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        projection = Projection()
        await projection.handle_commitment(
            session,
            [
                service(),
                service("crm", customer_ref="globex"),
                kind_commitment(),
                kind_commitment("c-crm-uptime-v1", key="crm-uptime", service_key="crm"),
            ],
        )
        both = await report(client, "/v1/reports/availability", YEAR)
        assert [r["service"]["key"] for r in both["rows"]] == ["crm", "erp"]
        by_service = await report(client, "/v1/reports/availability", {**YEAR, "service": "crm"})
        assert [r["service"]["key"] for r in by_service["rows"]] == ["crm"]
        by_customer = await report(client, "/v1/reports/availability", {**YEAR, "customer": "acme"})
        assert [r["service"]["key"] for r in by_customer["rows"]] == ["erp"]
        assert both["rows"][0]["target"] is None  # no agreement: no budget, no burn
        assert both["rows"][0]["error_budget"] is None


class TestObligationsReport:
    async def test_count_frequency_and_clause_side_by_side(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = Projection()
        events = [
            service(),
            kind_commitment(
                "c-users",
                kind="count",
                key="users",
                obligation_key="users",
                commitment_limit=None,
                tolerance_limit=None,
                objective={"direction": "at_least", "limit": 1000, "tolerance": 900, "unit": "users"},
            ),
            kind_commitment(
                "c-backup",
                kind="frequency",
                key="backup",
                obligation_key="db-backup",
                commitment_limit="P2D",
                tolerance_limit="P3D",
                effective_from="2026-03-01T00:00:00+00:00",
                objective={"first_due_at": None},
            ),
            kind_commitment(
                "c-training",
                kind="clause",
                key="training",
                obligation_key="staff-training",
                commitment_limit=None,
                tolerance_limit=None,
                objective={
                    "due_at": "2026-03-05T10:00:00Z",
                    "tolerance_due_at": "2026-03-08T10:00:00Z",
                    "requires_sign_off": True,
                },
            ),
            agreement("sla-erp", covers=(("users", 0.5), ("backup", 0.9), ("training", 1.0))),
        ]
        await projection.handle_commitment(session, events)
        facts = [
            sample("s1", utc("2026-03-02T10:00"), 1200, obligation="users"),
            sample("s2", utc("2026-03-03T10:00"), 1000, obligation="users"),
            sample("s3", utc("2026-03-04T10:00"), 950, obligation="users"),
            sample("s4", utc("2026-03-05T10:00"), 899, obligation="users"),
            occurrence("b1", utc("2026-03-02T22:00")),
            occurrence("b2", utc("2026-03-05T10:00")),
            occurrence("b3", utc("2026-03-08T12:00")),
            deliverable("d1", utc("2026-03-06T10:00")),
        ]
        await projection.handle_tracking(session, facts)
        params = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-10T13:00:00Z"}
        rows = {r["commitment"]: r for r in (await report(client, "/v1/reports/obligations", params))["rows"]}
        users, backup, training = rows["users"], rows["backup"], rows["training"]
        assert (users["kind"], users["units"], users["share_within_limit"]) == ("count", 4, 0.5)
        assert (users["worst"], users["unit"], users["target_met"]) == (899, "users", True)
        assert backup["states"] == {
            "completed_normal": 1,
            "completed_acceptable": 1,
            "completed_warning": 1,
            "in_progress_acceptable": 1,
        }
        assert backup["next_due_at"] == "2026-03-10T12:00:00Z"
        assert backup["share_within_limit"] == 0.25
        assert training["states"] == {"completed_acceptable": 1}
        assert (training["outcome"], training["signed_off"], training["awaiting_sign_off"]) == ("late", False, True)
        assert training["target_met"] is False

    async def test_a_period_after_the_last_backup_judges_the_open_interval_from_it(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        projection = Projection()
        await projection.handle_commitment(
            session,
            [
                service(),
                kind_commitment(
                    "c-backup",
                    kind="frequency",
                    key="backup",
                    obligation_key="db-backup",
                    commitment_limit="P2D",
                    tolerance_limit="P3D",
                    effective_from="2026-03-01T00:00:00+00:00",
                    objective={"first_due_at": None},
                ),
            ],
        )
        await projection.handle_tracking(session, [occurrence("b1", utc("2026-03-02T22:00"))])
        params = {"from": "2026-03-04T00:00:00Z", "to": "2026-03-07T00:00:00Z"}
        [row] = (await report(client, "/v1/reports/obligations", params))["rows"]
        assert row["states"] == {"in_progress_warning": 1}  # due 03-04 22:00, tolerance 03-05 22:00
        assert row["next_due_at"] == "2026-03-04T22:00:00Z"


class TestParameters:
    async def test_a_period_is_required_and_checked(self, client: httpx.AsyncClient) -> None:
        for params, field in [
            ({"to": "2026-02-01T00:00:00Z"}, "query.from"),
            ({"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "query.to"),
            ({"from": "2026-02-01T00:00:00", "to": "2026-03-01T00:00:00Z"}, "query.from"),
            ({"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "query.to"),
            ({**YEAR, "service": "x" * 201}, "query.service"),
        ]:
            response = await client.get("/v1/reports/availability", params=params)
            assert response.status_code == 422, (params, response.text)
            assert response.headers["content-type"].startswith(PROBLEM)
            assert field in [e["field"] for e in response.json()["errors"]], response.text

    async def test_an_unknown_parameter_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/reports/obligations", params={**YEAR, "bucket": "month"})
        assert response.status_code in (400, 422)
        assert response.headers["content-type"].startswith(PROBLEM)

    async def test_a_key_bound_to_source_systems_is_refused(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        caller = Caller(sub="crm-key", kind="api_key", scopes=frozenset({"reports:read"}), sources=frozenset({"crm"}))
        headers = identity_headers(caller, app.state.settings.service_token)
        response = await client.get("/v1/reports/availability", params=YEAR, headers=headers)
        assert response.status_code == 403


class TestStatusTable:
    async def test_the_kinds_are_rows_of_their_own_beside_the_runs(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await trap(session)
        projection = Projection()
        await projection.handle_commitment(
            session,
            [
                kind_commitment(
                    "c-users",
                    kind="count",
                    key="users",
                    obligation_key="users",
                    commitment_limit=None,
                    tolerance_limit=None,
                    objective={"direction": "at_least", "limit": 1000, "tolerance": 900, "unit": "users"},
                )
            ],
        )
        await projection.handle_tracking(session, [sample("s1", utc("2026-07-02T10:00"), 950, obligation="users")])
        july = {"from": "2026-07-01T00:00:00Z", "to": "2026-08-01T00:00:00Z"}
        body = await report(client, "/v1/reports/status", july)
        assert body["rows"] == []
        assert body["totals"] == []
        rows = {(r["population"], r["group"]["commitment"]): r for r in body["services"]}
        assert rows["availability", "erp-uptime"]["counts"]["completed_warning"] == 1
        assert rows["availability", "erp-uptime"]["total"] == 1
        assert rows["count", "users"]["counts"]["completed_acceptable"] == 1
        assert rows["count", "users"]["group"] == {"commitment": "users", "service": "erp"}

    async def test_as_of_an_instant_or_filtered_by_process_there_is_none(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await trap(session)
        assert (await report(client, "/v1/reports/status", {}))["services"] == []
        by_process = {**YEAR, "process": "fault-repair"}
        assert (await report(client, "/v1/reports/status", by_process))["services"] == []
        by_month = await report(client, "/v1/reports/status", {**YEAR, "bucket": "month"})
        assert len(by_month["services"]) == 12
