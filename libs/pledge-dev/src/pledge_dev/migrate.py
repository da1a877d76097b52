"""Run a service's Alembic migrations programmatically (make run, tests, the e2e suite)."""

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from pledge_dev.paths import REPO_ROOT

COMPONENTS = {
    "commitment": REPO_ROOT / "services" / "commitment-svc" / "alembic.ini",
    "tracking": REPO_ROOT / "services" / "tracking-svc" / "alembic.ini",
    "evaluation": REPO_ROOT / "services" / "evaluation-svc" / "alembic.ini",
    "feedback": REPO_ROOT / "services" / "feedback-svc" / "alembic.ini",
    "gateway": REPO_ROOT / "gateway" / "alembic.ini",
    "console": REPO_ROOT / "console" / "alembic.ini",
}


def alembic_config(alembic_ini: Path, database_url: str) -> Config:
    config = Config(str(alembic_ini))
    config.set_main_option("script_location", str(alembic_ini.parent / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(alembic_ini: Path, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(alembic_ini, database_url), revision)


def downgrade(alembic_ini: Path, database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(alembic_ini, database_url), revision)


async def upgrade_async(alembic_ini: Path, database_url: str, revision: str = "head") -> None:
    # env.py drives its own event loop, so it runs in a worker thread
    await asyncio.to_thread(upgrade, alembic_ini, database_url, revision)


def upgrade_all(database_url: str) -> None:
    for alembic_ini in COMPONENTS.values():
        upgrade(alembic_ini, database_url)
