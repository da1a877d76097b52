"""The service engine's connection settings."""

from pledge_common.db import create_engine
from sqlalchemy import text


async def _show(database_url: str, parallel_workers: int | None = None) -> tuple[str, str, str]:
    engine = create_engine(database_url, "enginetest", parallel_workers=parallel_workers)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT current_setting('TimeZone'), current_setting('search_path'),"
                        " current_setting('max_parallel_workers_per_gather')"
                    )
                )
            ).one()
            return str(row[0]), str(row[1]), str(row[2])
    finally:
        await engine.dispose()


async def test_connections_read_instants_in_utc_and_see_their_schema(database_url: str) -> None:
    timezone, search_path, _ = await _show(database_url)
    assert (timezone, search_path) == ("UTC", "enginetest,public")


async def test_parallel_workers_are_capped_only_when_asked(database_url: str) -> None:
    default = (await _show(database_url))[2]
    assert (await _show(database_url, parallel_workers=0))[2] == "0"
    assert (await _show(database_url, parallel_workers=1))[2] == "1"
    assert default == (await _show(database_url, parallel_workers=None))[2]
