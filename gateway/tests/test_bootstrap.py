"""`python -m pledge_gateway.bootstrap`: the first admin key, created once."""

import stat
from pathlib import Path

import pytest
from pledge_dev import migrate
from pledge_gateway.bootstrap import main
from pledge_gateway.main import ALEMBIC_INI


def test_bootstrap_creates_one_admin_key_and_is_idempotent(
    fresh_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    migrate.upgrade(ALEMBIC_INI, fresh_db_url)
    key_file = tmp_path / "admin-key"
    assert main(["--database-url", fresh_db_url, "--write", str(key_file)]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("pledge_")
    assert key_file.read_text().strip() == printed
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    assert main(["--database-url", fresh_db_url, "--write", str(key_file)]) == 0
    again = capsys.readouterr()
    assert again.out == ""
    assert "exists already" in again.err
    assert key_file.read_text().strip() == printed


def test_bootstrap_refuses_an_unmigrated_database(fresh_db_url: str) -> None:
    with pytest.raises(SystemExit, match="not migrated"):
        main(["--database-url", fresh_db_url])
