"""`make run`: the whole suite on this machine, on the embedded Postgres unless DATABASE_URL is set."""

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from types import FrameType

import asyncpg
from pledge_common.settings import to_plain_url

from pledge_dev.paths import DATA_DIR
from pledge_dev.pg import stop_embedded, with_database
from pledge_dev.suite import COMPONENTS, Suite, bootstrap_admin_key, bootstrap_console_admin

log = logging.getLogger("pledge.run")
RUN_DATABASE = "pledge"


async def ensure_database(server_url: str, name: str) -> str:
    conn = await asyncpg.connect(to_plain_url(server_url))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(server_url, name)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo organisation on first start")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    # explicit handlers: a shell may start us with SIGINT ignored, and Ctrl-C must always stop everything
    signal.signal(signal.SIGINT, _raise_interrupt)
    signal.signal(signal.SIGTERM, _raise_interrupt)

    external = os.environ.get("DATABASE_URL")
    embedded_dir = DATA_DIR / "pg"
    started = time.monotonic()
    if external:
        database_url = to_plain_url(external)
        print("Postgres: external (DATABASE_URL)")
    else:
        from pledge_dev.pg import start_embedded

        server = start_embedded(embedded_dir)
        database_url = asyncio.run(ensure_database(server, RUN_DATABASE))
        print(f"Postgres: embedded, data in {embedded_dir}")

    suite = Suite(database_url=database_url, ports={c: port for c, (_, _, port) in COMPONENTS.items()})
    try:
        suite.migrate()
        suite.admin_key = bootstrap_admin_key(database_url, DATA_DIR / "admin-key")
        suite.secrets_dir = DATA_DIR
        suite.console_admin = bootstrap_console_admin(database_url, DATA_DIR / "console-admin")
        suite.start()
        if not args.no_demo:
            load_demo_if_new(suite)
        print(f"\nPledge is ready in {time.monotonic() - started:.1f}s:")
        print(f"  gateway     {suite.gateway_url}        (docs: {suite.gateway_url}/docs)")
        print(f"  console     {suite.gateway_url}/console/")
        if suite.console_admin:
            user, password = suite.console_admin
            print(f"              sign in as {user} / {password}  (also in {DATA_DIR / 'console-admin'})")
        for component in ("commitment", "tracking", "evaluation", "feedback"):
            print(f"  {component:<11} {suite.url(component)}  (internal; use the gateway)")
        if suite.admin_key:
            print(f"  admin key   {suite.admin_key}  (also in {DATA_DIR / 'admin-key'})")
        print(f"  logs        {suite.log_dir}/<component>.log")
        print("Press Ctrl-C to stop.")
        while True:
            for component, process in suite.processes.items():
                if process.poll() is not None:
                    print(f"{component} exited with {process.returncode}; stopping", file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping...")
        return 0
    finally:
        # Ctrl-C reaches make, uv and us at once: further signals must not cut the shutdown short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        suite.stop()
        if not external:
            stop_embedded(embedded_dir)
            print("Postgres stopped.")


def load_demo_if_new(suite: Suite) -> None:
    try:
        from pledge_dev.demo_org import demo_org_loaded, load_demo_org
    except ImportError:
        return
    import httpx

    async def load() -> None:
        headers = {"Authorization": f"Bearer {suite.admin_key}"} if suite.admin_key else {}
        async with httpx.AsyncClient(base_url=suite.gateway_url, headers=headers, timeout=30) as client:
            if not await demo_org_loaded(client):
                await load_demo_org(client)
                print("Loaded the demo organisation (a power utility); `make demo` pushes a month of work orders.")

    asyncio.run(load())


if __name__ == "__main__":
    sys.exit(main())
