"""Business calendars: windows, holidays, make-up days, the built-in 24x7, holiday import."""

import json
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from support import W_CALENDAR, commitment_body, events, ok, problem


def calendar(**overrides: Any) -> dict[str, Any]:
    return {**W_CALENDAR, **overrides}


class TestPutCalendar:
    async def test_creates_and_emits_the_contract_payload(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        response = await client.put("/v1/calendars/w", json=calendar())
        body = await ok(response, 201)
        assert body["weekly"]["0"] == [["09:00", "12:00"], ["13:00", "18:00"]]
        assert body["weekly"]["6"] == []
        (event,) = await events(session, "calendar.upserted")
        assert event["key"] == "w"
        assert event["holidays"] == ["2026-05-01"]
        assert event["extra_working_days"] == ["2026-05-09"]
        assert event["extra_day_windows"] is None
        assert event["version"] == 1
        assert set(event) == {
            "key", "name", "timezone", "weekly", "holidays", "extra_working_days", "extra_day_windows", "version",
        }  # fmt: skip

    async def test_windows_are_stored_sorted(self, client: httpx.AsyncClient) -> None:
        body = await ok(
            await client.put("/v1/calendars/c", json=calendar(weekly={"2": [["13:30", "17:30"], ["08:30", "12:00"]]})),
            201,
        )
        assert body["weekly"]["2"] == [["08:30", "12:00"], ["13:30", "17:30"]]

    async def test_end_24_00_is_allowed(self, client: httpx.AsyncClient) -> None:
        body = await ok(await client.put("/v1/calendars/c", json=calendar(weekly={"5": [["18:00", "24:00"]]})), 201)
        assert body["weekly"]["5"] == [["18:00", "24:00"]]

    async def test_unknown_time_zone_is_422(self, client: httpx.AsyncClient) -> None:
        problem(await client.put("/v1/calendars/c", json=calendar(timezone="Mars/Olympus")), 422, "timezone")

    async def test_window_ending_before_it_starts_is_422_naming_it(self, client: httpx.AsyncClient) -> None:
        response = await client.put("/v1/calendars/c", json=calendar(weekly={"1": [["12:00", "09:00"]]}))
        problem(response, 422, "weekly.1[0]")

    async def test_empty_window_is_422(self, client: httpx.AsyncClient) -> None:
        problem(await client.put("/v1/calendars/c", json=calendar(weekly={"1": [["09:00", "09:00"]]})), 422,
                "weekly.1[0]")  # fmt: skip

    async def test_overlapping_windows_are_422(self, client: httpx.AsyncClient) -> None:
        response = await client.put(
            "/v1/calendars/c", json=calendar(weekly={"3": [["09:00", "12:00"], ["11:00", "14:00"]]})
        )
        problem(response, 422, "weekly.3[1]")

    async def test_bad_weekday_key_is_422(self, client: httpx.AsyncClient) -> None:
        problem(await client.put("/v1/calendars/c", json=calendar(weekly={"mon": []})), 422, "weekly.mon")

    async def test_bad_clock_is_422(self, client: httpx.AsyncClient) -> None:
        problem(await client.put("/v1/calendars/c", json=calendar(weekly={"0": [["9am", "5pm"]]})), 422,
                "weekly.0[0]")  # fmt: skip

    async def test_a_day_both_holiday_and_working_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.put(
            "/v1/calendars/c", json=calendar(holidays=["2026-05-09"], extra_working_days=["2026-05-09"])
        )
        problem(response, 422, "extra_working_days")

    async def test_update_without_if_match_is_428(self, client: httpx.AsyncClient) -> None:
        await ok(await client.put("/v1/calendars/w", json=calendar()), 201)
        problem(await client.put("/v1/calendars/w", json=calendar(name="W2")), 428, "header.If-Match")

    async def test_update_with_stale_if_match_is_412(self, client: httpx.AsyncClient) -> None:
        await ok(await client.put("/v1/calendars/w", json=calendar()), 201)
        first = await client.put("/v1/calendars/w", json=calendar(name="W2"), headers={"If-Match": '"1"'})
        assert first.status_code == 200
        assert first.headers["etag"] == '"2"'
        problem(await client.put("/v1/calendars/w", json=calendar(name="W3"), headers={"If-Match": '"1"'}), 412)

    async def test_update_with_current_etag_bumps_version_and_emits(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await ok(await client.put("/v1/calendars/w", json=calendar()), 201)
        etag = (await client.get("/v1/calendars/w")).headers["etag"]
        body = await ok(
            await client.put(
                "/v1/calendars/w", json=calendar(holidays=["2026-05-01", "2026-05-04"]), headers={"If-Match": etag}
            )
        )
        assert body["version"] == 2
        assert [e["version"] for e in await events(session, "calendar.upserted")] == [1, 2]

    async def test_built_in_24x7_cannot_change(self, client: httpx.AsyncClient) -> None:
        body = await ok(await client.get("/v1/calendars/24x7"))
        assert body["builtin"] is True
        assert body["weekly"]["6"] == [["00:00", "24:00"]]
        response = await client.put("/v1/calendars/24x7", json=calendar(), headers={"If-Match": '"1"'})
        problem(response, 409)


MERGE_PATCH = "application/merge-patch+json"


async def patch(client: httpx.AsyncClient, url: str, body: Any, if_match: str | None = '"1"') -> httpx.Response:
    headers = {"Content-Type": MERGE_PATCH} | ({"If-Match": if_match} if if_match is not None else {})
    return await client.patch(url, content=json.dumps(body), headers=headers)


class TestPatchCalendar:
    async def test_changes_only_the_fields_sent_and_emits_the_put_payload(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await ok(await client.put("/v1/calendars/w", json=calendar()), 201)
        response = await patch(client, "/v1/calendars/w", {"name": "W renamed", "holidays": ["2026-10-01"]})
        body = await ok(response)
        assert response.headers["etag"] == '"2"'
        assert (body["name"], body["holidays"], body["version"]) == ("W renamed", ["2026-10-01"], 2)
        assert body["weekly"]["0"] == [["09:00", "12:00"], ["13:00", "18:00"]]
        assert body["extra_working_days"] == ["2026-05-09"]
        assert body["timezone"] == "Asia/Shanghai"
        first, second = await events(session, "calendar.upserted")
        assert set(second) == set(first)
        assert {k: v for k, v in second.items() if k not in {"name", "holidays", "version"}} == {
            k: v for k, v in first.items() if k not in {"name", "holidays", "version"}
        }
        assert (second["name"], second["holidays"], second["version"]) == ("W renamed", ["2026-10-01"], 2)

    async def test_plain_json_is_accepted_too(self, client: httpx.AsyncClient) -> None:
        await ok(await client.put("/v1/calendars/w", json=calendar()), 201)
        body = await ok(await client.patch("/v1/calendars/w", json={"name": "W2"}, headers={"If-Match": '"1"'}))
        assert body["name"] == "W2"

    async def test_a_map_sent_replaces_the_whole_map(self, client: httpx.AsyncClient) -> None:
        await ok(await client.put("/v1/calendars/w", json=calendar()), 201)
        body = await ok(await patch(client, "/v1/calendars/w", {"weekly": {"5": [["10:00", "14:00"]]}}))
        assert body["weekly"]["5"] == [["10:00", "14:00"]]
        assert body["weekly"]["0"] == []

    async def test_null_resets_a_field_to_its_default(self, client: httpx.AsyncClient) -> None:
        await ok(await client.put("/v1/calendars/w", json=calendar(extra_day_windows=[["10:00", "16:00"]])), 201)
        body = await ok(await patch(client, "/v1/calendars/w", {"extra_working_days": None, "extra_day_windows": None}))
        assert (body["extra_working_days"], body["extra_day_windows"]) == ([], None)
        assert body["holidays"] == ["2026-05-01"]

    async def test_stale_if_match_is_412_and_missing_is_428(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await ok(await client.put("/v1/calendars/w", json=calendar()), 201)
        await ok(await patch(client, "/v1/calendars/w", {"name": "W2"}))
        problem(await patch(client, "/v1/calendars/w", {"name": "W3"}), 412, "header.If-Match")
        problem(await patch(client, "/v1/calendars/w", {"name": "W3"}, if_match=None), 428, "header.If-Match")
        assert (await ok(await client.get("/v1/calendars/w")))["name"] == "W2"
        assert len(await events(session, "calendar.upserted")) == 2

    async def test_invalid_value_is_422_naming_the_field_and_changes_nothing(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await ok(await client.put("/v1/calendars/w", json=calendar()), 201)
        problem(await patch(client, "/v1/calendars/w", {"timezone": "Mars/Olympus"}), 422, "timezone")
        problem(await patch(client, "/v1/calendars/w", {"weekly": {"1": [["12:00", "09:00"]]}}), 422, "weekly.1[0]")
        problem(await patch(client, "/v1/calendars/w", {"holidays": ["2026-05-09"]}), 422, "extra_working_days")
        problem(await patch(client, "/v1/calendars/w", {"holidays": ["someday"]}), 422, "holidays.0")
        problem(await patch(client, "/v1/calendars/w", {"name": ""}), 422, "name")
        assert (await ok(await client.get("/v1/calendars/w")))["version"] == 1
        assert len(await events(session, "calendar.upserted")) == 1

    async def test_required_field_set_to_null_is_422_naming_it(self, client: httpx.AsyncClient) -> None:
        await ok(await client.put("/v1/calendars/w", json=calendar()), 201)
        problem(await patch(client, "/v1/calendars/w", {"timezone": None}), 422, "timezone")

    async def test_unknown_field_is_422_naming_it_even_when_null(self, client: httpx.AsyncClient) -> None:
        await ok(await client.put("/v1/calendars/w", json=calendar()), 201)
        problem(await patch(client, "/v1/calendars/w", {"colour": "blue"}), 422, "colour")
        problem(await patch(client, "/v1/calendars/w", {"colour": None}), 422, "colour")

    async def test_body_that_is_not_an_object_is_422(self, client: httpx.AsyncClient) -> None:
        await ok(await client.put("/v1/calendars/w", json=calendar()), 201)
        problem(await patch(client, "/v1/calendars/w", ["name"]), 422, "body")

    async def test_patch_changing_nothing_keeps_the_version(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await ok(await client.put("/v1/calendars/w", json=calendar()), 201)
        body = await ok(await patch(client, "/v1/calendars/w", {"name": W_CALENDAR["name"]}))
        assert body["version"] == 1
        assert len(await events(session, "calendar.upserted")) == 1

    async def test_unknown_calendar_is_404(self, client: httpx.AsyncClient) -> None:
        problem(await patch(client, "/v1/calendars/none", {"name": "N"}), 404)

    async def test_built_in_24x7_cannot_change(self, client: httpx.AsyncClient) -> None:
        problem(await patch(client, "/v1/calendars/24x7", {"name": "Always"}), 409)


class TestImportHolidays:
    async def test_imports_cn_holidays_and_make_up_days(self, client: httpx.AsyncClient) -> None:
        await ok(await client.put("/v1/calendars/cn", json=calendar(holidays=[], extra_working_days=[])), 201)
        result = await ok(await client.post("/v1/calendars/cn/holidays/import", json={"country": "CN", "year": 2026}))
        assert "2026-10-01" in result["holidays_added"]  # National Day
        assert "2026-02-17" in result["holidays_added"]  # Spring Festival
        assert "2026-02-14" in result["extra_working_days_added"]  # a make-up Saturday (调休)
        assert "2026-02-14" in result["calendar"]["extra_working_days"]
        assert all(d.startswith("2026-") for d in result["calendar"]["holidays"])

    async def test_importing_twice_changes_nothing(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        await ok(await client.put("/v1/calendars/cn", json=calendar(holidays=[], extra_working_days=[])), 201)
        await ok(await client.post("/v1/calendars/cn/holidays/import", json={"country": "CN", "year": 2026}))
        again = await ok(await client.post("/v1/calendars/cn/holidays/import", json={"country": "CN", "year": 2026}))
        assert again["holidays_added"] == []
        assert again["extra_working_days_added"] == []
        assert again["calendar"]["version"] == 2
        assert len(await events(session, "calendar.upserted")) == 2

    async def test_imports_german_holidays(self, client: httpx.AsyncClient) -> None:
        await ok(await client.put("/v1/calendars/de", json=calendar(timezone="Europe/Berlin", holidays=[],
                                                                    extra_working_days=[])), 201)  # fmt: skip
        result = await ok(await client.post("/v1/calendars/de/holidays/import", json={"country": "DE", "year": 2026}))
        assert "2026-10-03" in result["holidays_added"]
        assert result["extra_working_days_added"] == []

    async def test_unknown_country_is_422(self, client: httpx.AsyncClient) -> None:
        await ok(await client.put("/v1/calendars/cn", json=calendar()), 201)
        response = await client.post("/v1/calendars/cn/holidays/import", json={"country": "QQ", "year": 2026})
        problem(response, 422, "country")

    async def test_unknown_calendar_is_404(self, client: httpx.AsyncClient) -> None:
        problem(await client.post("/v1/calendars/none/holidays/import", json={"country": "CN", "year": 2026}), 404)


class TestDeleteCalendar:
    async def test_calendar_used_by_a_commitment_is_409_naming_it(
        self, client: httpx.AsyncClient, org: dict[str, Any]
    ) -> None:
        await ok(await client.post("/v1/commitments", json=commitment_body()), 201)
        body = problem(await client.delete("/v1/calendars/w"), 409)
        assert body["referenced_by"] == ["commitment repair-dispatch-vip v1"]

    async def test_unused_calendar_is_deleted(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        await ok(await client.put("/v1/calendars/tmp", json=calendar()), 201)
        assert (await client.delete("/v1/calendars/tmp")).status_code == 204
        problem(await client.get("/v1/calendars/tmp"), 404)
        assert [e["key"] for e in await events(session, "calendar.deleted")] == ["tmp"]
