"""Reading events from NDJSON and CSV files, and reading a rejects file back."""

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from pledge_client import PledgeClient
from pledge_client.cli import cli
from pledge_client.files import FileFormatError, Record, read_csv, read_ndjson, rejects_line

HEADER = "event_id,type,occurred_at,source,external_id,process,segment,customer,node,reason,attributes.address\n"


def test_a_csv_row_becomes_an_event_with_its_ticket_built_from_columns(tmp_path: Path) -> None:
    path = tmp_path / "day.csv"
    path.write_text(HEADER + "e1,node.paused,2026-03-03T11:00:00+08:00,crm,WO-1,fault-repair,vip,C-1,dispatch,"
                    "awaiting-customer,1 Main St\n\n")  # fmt: skip
    [record] = list(read_csv(path))
    assert record.event == {
        "event_id": "e1", "type": "node.paused", "occurred_at": "2026-03-03T11:00:00+08:00", "source": "crm",
        "node": "dispatch", "reason": "awaiting-customer",
        "ticket": {"external_id": "WO-1", "process": "fault-repair", "segment": "vip", "customer": "C-1",
                   "attributes": {"address": "1 Main St"}},
    }  # fmt: skip
    assert record.origin == f"{path}:2"


def test_empty_cells_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / "day.csv"
    path.write_text(HEADER + "e2,ticket.opened,2026-03-03T09:00:00+08:00,crm,WO-1,fault-repair,,,,,\n")
    [record] = list(read_csv(path))
    assert record.event is not None
    assert set(record.event) == {"event_id", "type", "occurred_at", "source", "ticket"}
    assert record.event["ticket"] == {"external_id": "WO-1", "process": "fault-repair"}


def test_a_csv_without_a_required_column_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    path = tmp_path / "day.csv"
    path.write_text("event_id,type,occurred_at,source,external_id\n")
    with pytest.raises(FileFormatError, match="missing: process"):
        list(read_csv(path))


def test_an_unknown_csv_column_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "day.csv"
    path.write_text(HEADER.strip() + ",colour\n")
    with pytest.raises(FileFormatError, match="unknown CSV columns: colour"):
        list(read_csv(path))


def test_a_line_that_is_not_json_is_a_local_reject_and_the_others_are_read(tmp_path: Path) -> None:
    path = tmp_path / "day.ndjson"
    path.write_text('{"event_id": "e1"}\n\n{not json\n[1]\n')
    records = list(read_ndjson(path))
    assert [r.origin.rsplit(":", 1)[1] for r in records] == ["1", "3", "4"]
    assert records[0].event == {"event_id": "e1"}
    assert records[0].error is None
    assert records[1].event is None
    assert records[1].raw == "{not json"
    assert records[1].error
    assert records[2].error == "not a JSON object"


def test_a_rejects_file_read_back_gives_the_original_events_again(tmp_path: Path) -> None:
    event = {"event_id": "e3", "type": "node.started", "node": "warp"}
    bad = Record("x:1", event, event, 10)
    broken = Record("x:2", None, "{not json", 9, "not JSON")
    path = tmp_path / "rejects.ndjson"
    path.write_text(rejects_line(bad, {"status": 422, "field": "node"}) + rejects_line(broken, {"status": 422}))
    assert json.loads(path.read_text().splitlines()[0])["error"] == {"status": 422, "field": "node"}
    again = list(read_ndjson(path))
    assert again[0].event == event
    assert again[1].event is None
    assert again[1].raw == "{not json"


def test_the_cli_without_a_key_says_so_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["tickets", "get", "crm:WO-1"], env={"PLEDGE_API_KEY": ""})
    assert result.exit_code == 2
    assert "no API key: pass --key or set PLEDGE_API_KEY" in result.output
    assert "Traceback" not in result.output


def scripted(*answers: httpx.Response) -> tuple[list[httpx.Request], Callable[[], PledgeClient]]:
    sent: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return queue.pop(0)

    return sent, lambda: PledgeClient("http://p", "k", transport=httpx.MockTransport(handler), sleep=lambda s: None)


def test_push_sends_chunks_writes_rejects_and_fails_when_any_was_rejected(tmp_path: Path) -> None:
    events = [{"event_id": f"e{i}", "source": "crm"} for i in range(3)]
    path = tmp_path / "day.ndjson"
    path.write_text("\n".join(json.dumps(e) for e in events[:2]) + "\n{oops\n" + json.dumps(events[2]) + "\n")
    refused = {"index": 1, "event_id": "e1", "status": "rejected", "error": {"status": 422, "field": "node",
               "detail": "unknown node warp"}}  # fmt: skip
    sent, connect = scripted(
        httpx.Response(200, json={"accepted": 1, "duplicates": 0, "rejected": 1, "items": [refused]}),
        httpx.Response(200, json={"accepted": 0, "duplicates": 1, "rejected": 0, "items": []}),
    )
    rejects = tmp_path / "rejects.ndjson"
    result = CliRunner().invoke(cli, ["events", "push", str(path), "--chunk", "2", "--rejects", str(rejects)],
                                obj=connect)  # fmt: skip
    assert result.exit_code == 1
    assert result.stdout.strip() == "accepted 1, duplicates 1, rejected 2"
    assert [json.loads(r.content) for r in sent] == [events[:2], events[2:]]
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(line["origin"], line["event"]) for line in lines] == [(f"{path}:2", events[1]), (f"{path}:3", "{oops")]
    assert lines[0]["error"]["field"] == "node"


def test_a_refused_chunk_stops_the_push_with_one_line_saying_where(tmp_path: Path) -> None:
    path = tmp_path / "day.ndjson"
    path.write_text('{"event_id": "e1"}\n{"event_id": "e2"}\n')
    _, connect = scripted(
        httpx.Response(200, json={"accepted": 1, "duplicates": 0, "rejected": 0, "items": []}),
        httpx.Response(
            413,
            json={"status": 413, "title": "Content Too Large", "detail": "over 20480000 bytes"},
            headers={"content-type": "application/problem+json"},
        ),
    )
    result = CliRunner().invoke(cli, ["events", "push", str(path), "--chunk", "1"], obj=connect)
    assert result.exit_code == 1
    assert result.stdout.strip() == "accepted 1, duplicates 0, rejected 0"
    assert result.stderr.strip() == f"Error: stopped at {path}:2: 413 Content Too Large: over 20480000 bytes"
