from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from commitment_svc.departments.models import Department, Position


class DepartmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: str, *, for_update: bool = False) -> Department | None:
        statement = select(Department).where(Department.key == key)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(self, after: str | None, limit: int, parent_key: str | None = None) -> Sequence[Department]:
        statement = select(Department).order_by(col(Department.key)).limit(limit)
        if after is not None:
            statement = statement.where(col(Department.key) > after)
        if parent_key is not None:
            statement = statement.where(Department.parent_key == parent_key)
        return (await self.session.execute(statement)).scalars().all()

    async def positions_of(self, keys: Sequence[str]) -> dict[str, list[Position]]:
        rows = await self.session.execute(
            select(Position)
            .where(col(Position.department_key).in_(list(keys)))
            .order_by(col(Position.department_key), col(Position.ordinal), col(Position.key))
            .execution_options(populate_existing=True)
        )
        out: dict[str, list[Position]] = {k: [] for k in keys}
        for position in rows.scalars().all():
            out[position.department_key].append(position)
        return out

    async def ancestors(self, key: str) -> list[str]:
        """The chain of parents above `key`, nearest first (stops on a cycle)."""
        rows = await self.session.execute(
            text(
                "WITH RECURSIVE up(key, parent_key, depth) AS ("
                " SELECT key, parent_key, 0 FROM departments WHERE key = :k"
                " UNION ALL SELECT d.key, d.parent_key, up.depth + 1 FROM departments d"
                " JOIN up ON d.key = up.parent_key WHERE up.depth < 1000)"
                " SELECT key FROM up ORDER BY depth"
            ),
            {"k": key},
        )
        return list(rows.scalars().all())

    async def existing_keys(self, keys: Sequence[str]) -> set[str]:
        rows = await self.session.execute(select(Department.key).where(col(Department.key).in_(list(keys))))
        return set(rows.scalars().all())

    async def position_exists(self, department_key: str, position_key: str) -> bool:
        row = await self.session.execute(
            select(Position.key).where(Position.department_key == department_key, Position.key == position_key)
        )
        return row.first() is not None

    async def add(self, department: Department) -> None:
        self.session.add(department)
        await self.session.flush()

    async def replace_positions(self, department_key: str, positions: Sequence[Position]) -> None:
        await self.session.execute(text("DELETE FROM positions WHERE department_key = :d"), {"d": department_key})
        if positions:
            await self.session.execute(
                text(
                    "INSERT INTO positions (department_key, key, name, ordinal)"
                    " SELECT :d, k, n, o FROM unnest(CAST(:keys AS text[]), CAST(:names AS text[]),"
                    " CAST(:ordinals AS int[])) AS u(k, n, o)"
                ),
                {
                    "d": department_key,
                    "keys": [p.key for p in positions],
                    "names": [p.name for p in positions],
                    "ordinals": [p.ordinal for p in positions],
                },
            )

    async def delete(self, department: Department) -> None:
        await self.session.execute(text("DELETE FROM positions WHERE department_key = :d"), {"d": department.key})
        await self.session.delete(department)
        await self.session.flush()

    async def position_references(self, department_key: str, position_keys: Sequence[str]) -> list[str]:
        """Nodes and commitment versions that name one of these positions of the department."""
        if not position_keys:
            return []
        rows = await self.session.execute(
            text(
                "SELECT 'node ' || process_key || '/' || key || ' (position ' || position_key || ')'"
                " FROM process_nodes WHERE department = :d AND position_key = ANY(:p)"
                " UNION ALL SELECT 'commitment ' || commitment_key || ' v' || version"
                " || ' (position ' || owner_position || ')' FROM commitment_versions"
                " WHERE owner_department = :d AND owner_position = ANY(:p) LIMIT 20"
            ),
            {"d": department_key, "p": list(position_keys)},
        )
        return list(rows.scalars().all())

    async def references(self, key: str) -> list[str]:
        """Everything that still names this department."""
        rows = await self.session.execute(
            text(
                "SELECT 'department ' || key FROM departments WHERE parent_key = :k"
                " UNION ALL SELECT 'process ' || key FROM processes WHERE owner_department = :k"
                " UNION ALL SELECT 'service ' || key FROM services WHERE owner_department = :k"
                " UNION ALL SELECT 'node ' || process_key || '/' || key FROM process_nodes WHERE department = :k"
                " UNION ALL SELECT 'commitment ' || commitment_key || ' v' || version FROM commitment_versions"
                " WHERE owner_department = :k"
                " UNION ALL SELECT 'agreement ' || key || ' v' || version FROM agreements"
                " WHERE provider = :k OR (kind = 'ola' AND customer = :k) LIMIT 20"
            ),
            {"k": key},
        )
        return list(rows.scalars().all())
