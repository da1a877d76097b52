"""This service's copy of commitment-svc's processes, nodes and segments. Never commits."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tracking_svc.catalogue.upstream import ProcessIn, SegmentIn, ServiceIn


async def replace_processes(session: AsyncSession, processes: Sequence[ProcessIn]) -> None:
    """Upsert processes (full state) and replace their nodes: three statements for any number."""
    if not processes:
        return
    keys = [p.key for p in processes]
    await session.execute(
        text(
            "INSERT INTO known_processes (key, name) SELECT k, n FROM unnest(CAST(:k AS text[]), CAST(:n AS text[]))"
            " AS u(k, n) ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, updated_at = now()"
        ),
        {"k": keys, "n": [p.name for p in processes]},
    )
    await session.execute(text("DELETE FROM known_nodes WHERE process_key = ANY(CAST(:k AS text[]))"), {"k": keys})
    nodes = [(p.key, n) for p in processes for n in p.nodes]
    if nodes:
        await session.execute(
            text(
                "INSERT INTO known_nodes (process_key, node_key, name, position, department, position_key)"
                " SELECT * FROM unnest(CAST(:p AS text[]), CAST(:k AS text[]), CAST(:n AS text[]),"
                " CAST(:o AS integer[]), CAST(:d AS text[]), CAST(:pk AS text[]))"
                " ON CONFLICT (process_key, node_key) DO NOTHING"
            ),
            {
                "p": [p for p, _ in nodes],
                "k": [n.key for _, n in nodes],
                "n": [n.name for _, n in nodes],
                "o": [n.position for _, n in nodes],
                "d": [n.department for _, n in nodes],
                "pk": [n.position_key for _, n in nodes],
            },
        )


async def delete_processes(session: AsyncSession, keys: Sequence[str]) -> None:
    """Forget deleted processes (their tickets stay; new events naming them are refused)."""
    if keys:
        await session.execute(
            text("DELETE FROM known_processes WHERE key = ANY(CAST(:k AS text[]))"), {"k": list(keys)}
        )


async def upsert_segments(session: AsyncSession, segments: Sequence[SegmentIn]) -> None:
    if segments:
        await session.execute(
            text(
                "INSERT INTO known_segments (key, name) SELECT * FROM unnest(CAST(:k AS text[]), CAST(:n AS text[]))"
                " ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, updated_at = now()"
            ),
            {"k": [s.key for s in segments], "n": [s.name for s in segments]},
        )


async def upsert_services(session: AsyncSession, services: Sequence[ServiceIn]) -> None:
    """Upsert services (full state, one statement); a retired service stays known (its facts still arrive)."""
    if services:
        await session.execute(
            text(
                "INSERT INTO known_services (key, name, customer_ref, segment, owner_department, status)"
                " SELECT * FROM unnest(CAST(:k AS text[]), CAST(:n AS text[]), CAST(:c AS text[]),"
                " CAST(:s AS text[]), CAST(:d AS text[]), CAST(:st AS text[]))"
                " ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, customer_ref = EXCLUDED.customer_ref,"
                " segment = EXCLUDED.segment, owner_department = EXCLUDED.owner_department,"
                " status = EXCLUDED.status, updated_at = now()"
            ),
            {
                "k": [s.key for s in services],
                "n": [s.name for s in services],
                "c": [s.customer_ref for s in services],
                "s": [s.segment for s in services],
                "d": [s.owner_department for s in services],
                "st": [s.status for s in services],
            },
        )


async def known_services(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    """Which of `keys` name a service of the copy."""
    if not keys:
        return set()
    rows = await session.execute(
        text("SELECT key FROM known_services WHERE key = ANY(CAST(:k AS text[]))"), {"k": list(keys)}
    )
    return set(rows.scalars())


async def known_process(session: AsyncSession, key: str) -> tuple[str, list[dict[str, Any]]] | None:
    """A process of the copy (its name and its nodes in position order), or None when unknown."""
    rows = (
        await session.execute(
            text(
                "SELECT p.name, n.node_key, n.name, n.position, n.department, n.position_key"
                " FROM known_processes p LEFT JOIN known_nodes n ON n.process_key = p.key"
                " WHERE p.key = :k ORDER BY n.position, n.node_key"
            ),
            {"k": key},
        )
    ).all()
    if not rows:
        return None
    nodes = [
        {"key": r[1], "name": r[2], "position": r[3], "department": r[4], "position_key": r[5]}
        for r in rows
        if r[1] is not None
    ]
    return rows[0][0], nodes
