"""Stopping the suite leaves no process behind; starting it again on the same data loses nothing."""

from pathlib import Path

import httpx
import psutil
from pledge_common.identity import service_headers
from pledge_dev.pg import fresh_database
from pledge_dev.suite import running_suite


def _alive(pid: int) -> bool:
    return psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE


def test_stop_leaves_no_process_and_restart_keeps_data(tmp_path: Path) -> None:
    with fresh_database("test") as database_url:
        with running_suite(database_url, log_dir=tmp_path, key_file=tmp_path / "admin-key") as suite:
            pids = [p.pid for p in suite.processes.values()]
            headers = service_headers("e2e", suite.service_token)
            created = httpx.put(
                f"{suite.url('commitment')}/v1/segments/kept-across-restarts",
                json={"name": "Kept"},
                headers=headers,
                timeout=10,
            )
            assert created.status_code in (200, 201), created.text
        assert not any(_alive(pid) for pid in pids)

        with running_suite(database_url, log_dir=tmp_path, key_file=tmp_path / "admin-key") as again:
            headers = service_headers("e2e", again.service_token)
            read = httpx.get(f"{again.url('commitment')}/v1/segments/kept-across-restarts", headers=headers, timeout=10)
            ready = httpx.get(f"{again.gateway_url}/readyz", timeout=10)
        assert read.status_code == 200
        assert read.json()["name"] == "Kept"
        assert ready.status_code == 200
