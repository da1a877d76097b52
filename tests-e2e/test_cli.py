"""The `pledge` command-line tool against the running suite: the demo month pushed, pushed again, a file with
bad lines and its rejects file, and the status table beside the API's JSON."""

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pledge_dev.demo import PER_DAY, SOURCES, Story, generate, write_ndjson
from pledge_dev.demo_org import SHANGHAI, load_demo_org
from pledge_dev.suite import Suite
from support import FEED_WAIT, eventually, ok

DAYS, SEED = 30, 5


def pledge(suite: Suite, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed console script's code as a partner would, configured by its environment."""
    env = {**os.environ, "PLEDGE_URL": suite.gateway_url, "PLEDGE_API_KEY": suite.admin_key or "", "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "pledge_client", *args], env=env, capture_output=True, text=True,
                          timeout=600, check=False)  # fmt: skip


async def processes_known(gateway: httpx.AsyncClient) -> bool:
    """tracking-svc learns processes from commitment-svc's feed; events of unknown ones would be rejected."""
    for process in PER_DAY:
        if (await gateway.get(f"/v1/known-processes/{process}")).status_code != 200:
            return False
    return True


async def test_the_cli_pushes_the_demo_month_and_prints_the_status_table(
    suite: Suite, gateway: httpx.AsyncClient, tmp_path: Path
) -> None:
    await load_demo_org(gateway)
    await eventually(lambda: processes_known(gateway), "tracking-svc to know the demo processes")
    now = datetime.now(UTC).replace(microsecond=0)
    story: Story = generate(now, DAYS, SEED)
    month = tmp_path / "demo-month.ndjson"
    sent = write_ndjson(story, month)

    first = pledge(suite, "events", "push", str(month), "--rejects", str(tmp_path / "none.ndjson"))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"accepted {sent}, duplicates 0, rejected 0"
    assert (tmp_path / "none.ndjson").read_text() == ""

    again = pledge(suite, "events", "push", str(month), "--quiet")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"accepted 0, duplicates {sent}, rejected 0"

    # a file with one good event, a line that is not JSON and an event of a node the process does not have
    ticket = {"external_id": "CLI-1", "process": "fault-repair", "segment": "residential"}
    late = (now + timedelta(seconds=1)).isoformat()  # after the period read below: it changes no figure there
    good = {
        "event_id": "CLI-1-0",
        "type": "ticket.opened",
        "occurred_at": late,
        "source": "field-app",
        "ticket": ticket,
    }
    warp = {"event_id": "CLI-1-1", "type": "node.started", "occurred_at": late, "source": "field-app",
            "ticket": ticket, "node": "warp"}  # fmt: skip
    bad = tmp_path / "bad.ndjson"
    bad.write_text(f"{json.dumps(good)}\n{{not json\n{json.dumps(warp)}\n")
    rejects = tmp_path / "rejects.ndjson"
    refused = pledge(suite, "events", "push", str(bad), "--rejects", str(rejects), "--quiet")
    assert refused.returncode == 1
    assert refused.stdout.strip() == "accepted 1, duplicates 0, rejected 2"
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [line["origin"] for line in lines] == [f"{bad}:2", f"{bad}:3"]
    assert lines[0]["event"] == "{not json"
    assert lines[1]["event"] == warp
    assert lines[1]["error"]["status"] == 422
    assert lines[1]["error"]["field"] == "node"
    assert "Traceback" not in refused.stderr

    # the rejects file, fixed, is pushed as it is
    fixed = tmp_path / "fixed.ndjson"
    fixed.write_text(json.dumps({**lines[1], "event": {**warp, "node": "dispatch"}}) + "\n")
    resent = pledge(suite, "events", "push", str(fixed), "--quiet")
    assert resent.stdout.strip() == "accepted 1, duplicates 0, rejected 0", resent.stderr

    # the status table of the month, once evaluation-svc has judged every run, beside the API's answer
    start = (now - timedelta(days=DAYS)).astimezone(SHANGHAI).replace(hour=0, minute=0, second=0)
    # the demo's own work orders: other tests of the session push theirs into the same month
    sources = sorted(set(SOURCES.values()))
    period = {"from": start.isoformat(), "to": now.isoformat(), "source": sources}
    by_source = [arg for source in sources for arg in ("--param", f"source={source}")]

    counted: list[int] = []

    async def judged() -> Any:
        report = ok(await gateway.get("/v1/reports/status", params={**period, "scope": "node"}))
        counted.append(sum(r["total"] for r in report["rows"]))
        return report if counted[-1] == story.node_runs else None

    # a month of work orders crosses two feeds: a wider ceiling than one event's (still no timing assertion)
    seen = lambda: counted[-1:]  # noqa: E731
    await eventually(judged, f"evaluation to judge the {story.node_runs} node runs", seen, within=3 * FEED_WAIT)
    api = ok(await gateway.get("/v1/reports/status", params=period))
    assert api["rows"]

    as_csv = pledge(
        suite, "reports", "status", "--from", period["from"], "--to", period["to"], *by_source, "--format", "csv"
    )
    assert as_csv.returncode == 0, as_csv.stderr
    table = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    expected = [
        {
            "process": r["group"]["process"],
            "node": r["group"]["node"] or "",
            "population": r["population"],
            **{s: str(r["counts"][s]) for s in api["states"]},
            "total": str(r["total"]),
        }
        for r in api["rows"]
    ]
    assert table[: len(expected)] == expected  # fmt: skip
    assert [row["total"] for row in table[len(expected) :]] == [str(t["total"]) for t in api["totals"]]

    as_table = pledge(suite, "reports", "status", "--from", period["from"], "--to", period["to"], *by_source)
    assert as_table.returncode == 0, as_table.stderr
    printed = [line.split() for line in as_table.stdout.splitlines()]
    for r in api["rows"]:
        cells = [r["group"]["process"], r["group"]["node"] or "-", r["population"],
                 *(str(r["counts"][s]) for s in api["states"]), str(r["total"])]  # fmt: skip
        assert cells in printed, f"{cells} not in\n{as_table.stdout}"


async def test_a_problem_is_one_line_and_a_failing_exit_code(suite: Suite) -> None:
    missing = pledge(suite, "tickets", "get", "field-app:NO-SUCH-TICKET")
    assert missing.returncode == 1
    assert missing.stderr.startswith("Error: 404 ")
    assert len(missing.stderr.strip().splitlines()) == 1


async def test_the_cli_lists_alerts_and_acknowledges_one(
    suite: Suite, gateway: httpx.AsyncClient, tmp_path: Path
) -> None:
    """The demo's work orders raise alerts; the CLI lists the open ones and acknowledges one of them."""
    await load_demo_org(gateway)
    await eventually(lambda: processes_known(gateway), "tracking-svc to know the demo processes")
    week = tmp_path / "demo-week.ndjson"
    story = generate(datetime.now(UTC).replace(microsecond=0), 7, SEED)
    for event in [
        *story.events,
        *story.late,
    ]:  # work orders of their own: the month test of the same session sent DEMO-…
        event["event_id"] = f"ALERTS-{event['event_id']}"
        event["ticket"]["external_id"] = f"ALERTS-{event['ticket']['external_id']}"
    write_ndjson(story, week)
    pushed = pledge(suite, "events", "push", str(week), "--quiet")
    assert pushed.returncode == 0, pushed.stderr

    async def an_open_alert() -> Any:
        return ok(await gateway.get("/v1/alerts", params={"state": "open", "limit": 1}))["items"] or None

    [alert] = await eventually(an_open_alert, "an open alert of the demo's work orders")
    listed = pledge(suite, "alerts", "list", "--state", "open", "--all", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert alert["id"] in {a["id"] for a in json.loads(listed.stdout)}

    acked = pledge(suite, "alerts", "ack", alert["id"], "--note", "on it", "--format", "csv")
    assert acked.returncode == 0, acked.stderr
    [row] = list(csv.DictReader(io.StringIO(acked.stdout)))
    assert (row["id"], row["state"]) == (alert["id"], "acknowledged")
    assert row["acknowledged_by"]
    assert ok(await gateway.get(f"/v1/alerts/{alert['id']}"))["state"] == "acknowledged"

    still_open = pledge(suite, "alerts", "list", "--state", "open", "--all", "--format", "json")
    assert alert["id"] not in {a["id"] for a in json.loads(still_open.stdout)}
    bad = pledge(suite, "alerts", "list", "--level", "no-such-level")
    assert bad.returncode == 1
    assert bad.stderr.startswith("Error: 422 ")
    assert "level" in bad.stderr
