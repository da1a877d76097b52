"""How a node run is shown: counted time as a whole-second ISO 8601 duration that keeps its judgment."""

from datetime import UTC, datetime, timedelta

from evaluation_svc.reports.schemas import ReportRunPublic

ROW = {
    "id": "r1",
    "kind": "node",
    "ticket_id": "t1",
    "source": "crm",
    "external_id": "wo-1",
    "process_key": "fault-repair",
    "node_key": "restore",
    "segment": "default",
    "customer_ref": None,
    "cycle": 1,
    "department": None,
    "position": None,
    "status": "completed",
    "started_at": datetime(2026, 3, 3, 2, tzinfo=UTC),
    "completed_at": datetime(2026, 3, 3, 8, tzinfo=UTC),
    "cancelled_at": None,
    "pauses": [],
    "commitment_id": None,
    "commitment_key": None,
    "prewarning_due_at": None,
    "commitment_due_at": None,
    "tolerance_due_at": None,
    "state": "completed_acceptable",
    "exempted": False,
}


def test_fractional_counted_time_is_rounded_up_to_whole_seconds() -> None:
    run = ReportRunPublic.from_row(ROW | {"counted_seconds": 6 * 3600 + 0.4})
    assert run.counted == timedelta(hours=6, seconds=1)
    # RFC 3339 durations name every unit between the first and the last
    assert run.model_dump(mode="json")["counted"] == "PT6H0M1S"


def test_counted_time_on_the_limit_stays_on_the_limit() -> None:
    run = ReportRunPublic.from_row(ROW | {"counted_seconds": 6 * 3600.0})
    assert run.counted == timedelta(hours=6)


def test_a_run_without_counted_time_shows_none() -> None:
    assert ReportRunPublic.from_row(ROW | {"counted_seconds": None}).counted is None
