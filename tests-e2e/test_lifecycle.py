"""Stopping the suite leaves no process behind; starting it again on the same data loses nothing."""

import httpx
import psutil
from pledge_dev.pg import fresh_database
from pledge_dev.suite import running_suite


def test_stop_leaves_no_process_and_restart_keeps_data(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with fresh_database("test") as database_url:
        with running_suite(database_url, log_dir=tmp_path, key_file=tmp_path / "admin-key") as suite:
            pids = [p.pid for p in suite.processes.values()]
            commitment = suite.url("commitment")
            with httpx.Client(timeout=5) as client:
                before = client.get(f"{commitment}/internal/v1/events", headers=_auth(suite.service_token)).json()
        assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids)
        with running_suite(database_url, log_dir=tmp_path, key_file=tmp_path / "admin-key") as again:
            with httpx.Client(timeout=5) as client:
                after = client.get(
                    f"{again.url('commitment')}/internal/v1/events", headers=_auth(again.service_token)
                ).json()
                ready = client.get(f"{again.gateway_url}/readyz")
        assert after["events"] == before["events"]
        assert ready.status_code == 200


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
