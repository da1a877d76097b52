"""Create the first admin API key, once: `python -m pledge_gateway.bootstrap --database-url URL --write FILE`.

Idempotent: when an active admin key exists nothing is created (the key in FILE, if any, stays). Run it
after the gateway's migrations. The new key is printed once and written to FILE (mode 0600).
"""

import argparse
import asyncio
import os
import sys
from pathlib import Path

from pledge_common.db import create_engine, create_sessionmaker
from sqlalchemy import text

from pledge_gateway.keys.service import create_admin_key_if_none


async def bootstrap(database_url: str) -> str | None:
    engine = create_engine(database_url, "gateway", pool_size=1, app_name="gateway-bootstrap")
    try:
        async with engine.connect() as conn:
            if not await conn.scalar(text("SELECT to_regclass('gateway.api_keys') IS NOT NULL")):
                raise SystemExit("the gateway schema is not migrated: run the gateway's migrations first")
        async with create_sessionmaker(engine)() as session:
            key = await create_admin_key_if_none(session)
            await session.commit()
            return key
    finally:
        await engine.dispose()


def write_key(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database-url", default=os.environ.get("GATEWAY_DATABASE_URL") or os.environ.get("DATABASE_URL")
    )
    parser.add_argument("--write", type=Path, help="file to store the new key in (mode 0600)")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url (or GATEWAY_DATABASE_URL / DATABASE_URL) is required")
    key = asyncio.run(bootstrap(args.database_url))
    if key is None:
        where = f"; the key stored in {args.write} stays valid" if args.write and args.write.exists() else ""
        print(f"an active admin API key exists already: none created{where}", file=sys.stderr)
        return 0
    if args.write:
        write_key(args.write, key)
    print(key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
