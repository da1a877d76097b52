"""What a PDF needs beyond its report: the commitment versions whose definitions governed a period."""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from evaluation_svc.exports.pdf import GoverningVersion


async def governing_versions(
    session: AsyncSession, keys: Iterable[str], start: datetime, end: datetime
) -> list[GoverningVersion]:
    """The versions of these commitments in force at some instant of [start, end), by key and version."""
    rows = await session.execute(
        text(
            """
            SELECT commitment_key, version, limit_unit, commitment_limit, tolerance_limit,
                   effective_from, effective_to
            FROM ref_commitments
            WHERE commitment_key = ANY(:keys) AND effective_from IS NOT NULL AND effective_from < :end
              AND (effective_to IS NULL OR effective_to > :start)
            ORDER BY commitment_key, version
            """
        ),
        {"keys": sorted(set(keys)), "start": start, "end": end},
    )
    return [GoverningVersion(**r) for r in rows.mappings()]
