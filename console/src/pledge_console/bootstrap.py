"""Console accounts from the command line.

python -m pledge_console.bootstrap first-admin --database-url URL --write FILE
    the first account (`admin`, role admin) with a random password, only when there is no account yet;
    prints `admin <password>` once and writes it to FILE (mode 0600)
python -m pledge_console.bootstrap add-account --username NAME --role viewer|manager|admin [--department KEY]
    another account; its password is read from the CONSOLE_NEW_PASSWORD variable, or generated and printed
"""

import argparse
import asyncio
import os
import sys
from pathlib import Path

from pledge_common.db import committing, create_engine, create_sessionmaker
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from pledge_console.accounts import service
from pledge_console.accounts.rules import USERNAME, Role, new_password, password_problem

FIRST_ADMIN = "admin"


async def _with_session(database_url: str, work: object) -> object:
    engine = create_engine(database_url, "console", pool_size=1, app_name="console-bootstrap")
    try:
        async with engine.connect() as conn:
            if not await conn.scalar(text("SELECT to_regclass('console.accounts') IS NOT NULL")):
                raise SystemExit("the console schema is not migrated: run the console's migrations first")
        async with committing(create_sessionmaker(engine)) as session:
            return await work(session)  # type: ignore[operator]
    finally:
        await engine.dispose()


def write_secret(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["first-admin", "add-account"])
    parser.add_argument(
        "--database-url", default=os.environ.get("CONSOLE_DATABASE_URL") or os.environ.get("DATABASE_URL")
    )
    parser.add_argument("--write", type=Path, help="first-admin: file to store `admin <password>` in (mode 0600)")
    parser.add_argument("--username")
    parser.add_argument("--role", choices=[r.value for r in Role], default=Role.viewer.value)
    parser.add_argument("--department", help="the department the account's pages are filtered to by default")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url (or CONSOLE_DATABASE_URL / DATABASE_URL) is required")
    if args.command == "first-admin":
        password = asyncio.run(_with_session(args.database_url, service.create_first_admin))
        if password is None:
            where = f"; the credentials in {args.write} stay valid" if args.write and args.write.exists() else ""
            print(f"a console account exists already: none created{where}", file=sys.stderr)
            return 0
        if args.write:
            write_secret(args.write, f"{FIRST_ADMIN} {password}")
        print(f"{FIRST_ADMIN} {password}")
        return 0
    username = (args.username or "").strip().lower()
    if not USERNAME.match(username):
        parser.error("--username: 1-64 characters of a-z 0-9 . _ -")
    given = os.environ.get("CONSOLE_NEW_PASSWORD")
    password = given or new_password()
    problem = password_problem(password)
    if problem:
        parser.error(f"CONSOLE_NEW_PASSWORD: {problem}")

    async def add(session: object) -> None:
        await service.create_account(session, username, password, Role(args.role), args.department)  # type: ignore[arg-type]

    try:
        asyncio.run(_with_session(args.database_url, add))
    except IntegrityError:
        parser.error(f"--username: an account {username!r} exists already")
    print(f"{username} {password}" if not given else f"{username} created")
    return 0


if __name__ == "__main__":
    sys.exit(main())
