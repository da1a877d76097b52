from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from commitment_svc.processes.models import Process, ProcessNode


class ProcessRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: str, *, for_update: bool = False) -> Process | None:
        statement = select(Process).where(Process.key == key)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(self, after: str | None, limit: int) -> Sequence[Process]:
        statement = select(Process).order_by(col(Process.key)).limit(limit)
        if after is not None:
            statement = statement.where(col(Process.key) > after)
        return (await self.session.execute(statement)).scalars().all()

    async def nodes_of(self, keys: Sequence[str]) -> dict[str, list[ProcessNode]]:
        rows = await self.session.execute(
            select(ProcessNode)
            .where(col(ProcessNode.process_key).in_(list(keys)))
            .order_by(col(ProcessNode.process_key), col(ProcessNode.position))
            .execution_options(populate_existing=True)
        )
        out: dict[str, list[ProcessNode]] = {k: [] for k in keys}
        for node in rows.scalars().all():
            out[node.process_key].append(node)
        return out

    async def nodes_page(self, process_key: str, after: int | None, limit: int) -> Sequence[ProcessNode]:
        """The nodes of one process by position (unique within it), after the position `after`."""
        statement = (
            select(ProcessNode)
            .where(ProcessNode.process_key == process_key)
            .order_by(col(ProcessNode.position))
            .limit(limit)
            .execution_options(populate_existing=True)
        )
        if after is not None:
            statement = statement.where(col(ProcessNode.position) > after)
        return (await self.session.execute(statement)).scalars().all()

    async def node_exists(self, process_key: str, node_key: str) -> bool:
        row = await self.session.execute(
            select(ProcessNode.key).where(ProcessNode.process_key == process_key, ProcessNode.key == node_key)
        )
        return row.first() is not None

    async def add(self, process: Process) -> None:
        self.session.add(process)
        await self.session.flush()

    async def replace_nodes(self, process_key: str, nodes: Sequence[ProcessNode]) -> None:
        """Make the stored nodes exactly `nodes` (kept nodes updated in place, so references stay valid)."""
        keys = [n.key for n in nodes]
        await self.session.execute(
            text("DELETE FROM process_nodes WHERE process_key = :p AND NOT (key = ANY(:keys))"),
            {"p": process_key, "keys": keys},
        )
        if not nodes:
            return
        await self.session.execute(
            text(
                "INSERT INTO process_nodes (process_key, key, name, position, department, position_key)"
                " SELECT :p, k, n, pos, d, pk FROM unnest(CAST(:keys AS text[]), CAST(:names AS text[]),"
                " CAST(:positions AS int[]), CAST(:departments AS text[]), CAST(:position_keys AS text[]))"
                " AS u(k, n, pos, d, pk)"
                " ON CONFLICT (process_key, key) DO UPDATE SET name = EXCLUDED.name, position = EXCLUDED.position,"
                " department = EXCLUDED.department, position_key = EXCLUDED.position_key"
            ),
            {
                "p": process_key,
                "keys": keys,
                "names": [n.name for n in nodes],
                "positions": [n.position for n in nodes],
                "departments": [n.department for n in nodes],
                "position_keys": [n.position_key for n in nodes],
            },
        )

    async def delete(self, process: Process) -> None:
        await self.session.execute(text("DELETE FROM process_nodes WHERE process_key = :p"), {"p": process.key})
        await self.session.delete(process)
        await self.session.flush()

    async def references(self, process_key: str, node_keys: Sequence[str] | None = None) -> list[str]:
        """Commitment versions that name the process (or, with `node_keys`, one of those nodes)."""
        if node_keys is None:
            sql = (
                "SELECT 'commitment ' || commitment_key || ' v' || version FROM commitment_versions"
                " WHERE process_key = :p ORDER BY 1 LIMIT 20"
            )
        else:
            sql = (
                "SELECT 'commitment ' || commitment_key || ' v' || version || ' (node ' || node_key || ')'"
                " FROM commitment_versions WHERE process_key = :p AND node_key = ANY(:n) ORDER BY 1 LIMIT 20"
            )
        rows = await self.session.execute(text(sql), {"p": process_key, "n": list(node_keys or [])})
        return list(rows.scalars().all())
