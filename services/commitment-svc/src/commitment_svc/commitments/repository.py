import json
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select, tuple_

from commitment_svc.commitments.models import CommitmentVersion
from commitment_svc.commitments.rules import IN_FORCE


class CommitmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, id_: uuid.UUID, *, for_update: bool = False) -> CommitmentVersion | None:
        statement = select(CommitmentVersion).where(CommitmentVersion.id == id_)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def page(
        self,
        after: tuple[str, int] | None,
        limit: int,
        *,
        key: str | None = None,
        process_key: str | None = None,
        node_key: str | None = None,
        segment_key: str | None = None,
        status: str | None = None,
        kind: str | None = None,
        service_key: str | None = None,
    ) -> Sequence[CommitmentVersion]:
        statement = (
            select(CommitmentVersion)
            .order_by(col(CommitmentVersion.commitment_key), col(CommitmentVersion.version))
            .limit(limit)
        )
        if after is not None:
            statement = statement.where(
                tuple_(col(CommitmentVersion.commitment_key), col(CommitmentVersion.version)) > tuple_(*after)
            )
        for column, value in (
            (CommitmentVersion.commitment_key, key),
            (CommitmentVersion.process_key, process_key),
            (CommitmentVersion.node_key, node_key),
            (CommitmentVersion.segment_key, segment_key),
            (CommitmentVersion.status, status),
            (CommitmentVersion.kind, kind),
            (CommitmentVersion.service_key, service_key),
        ):
            if value is not None:
                statement = statement.where(col(column) == value)
        return (await self.session.execute(statement)).scalars().all()

    async def versions_of(self, commitment_key: str, *, for_update: bool = False) -> Sequence[CommitmentVersion]:
        statement = (
            select(CommitmentVersion)
            .where(CommitmentVersion.commitment_key == commitment_key)
            .order_by(col(CommitmentVersion.version))
        )
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalars().all()

    async def key_exists(self, commitment_key: str) -> bool:
        row = await self.session.execute(
            select(CommitmentVersion.id).where(CommitmentVersion.commitment_key == commitment_key).limit(1)
        )
        return row.first() is not None

    async def kinds_of(self, keys: Sequence[str]) -> dict[str, str]:
        """The kind of each commitment that exists among `keys` (a commitment keeps its kind in every version)."""
        rows = await self.session.execute(
            select(CommitmentVersion.commitment_key, CommitmentVersion.kind)
            .where(col(CommitmentVersion.commitment_key).in_(list(keys)))
            .distinct()
        )
        return {key: kind for key, kind in rows}

    async def overlapping_in_force(
        self, row: CommitmentVersion, effective_from: datetime, effective_to: datetime | None
    ) -> CommitmentVersion | None:
        """A version of another commitment on the same subject as `row` whose range overlaps the given one: the
        same process, node and segment (duration), or the same kind, service, obligation and segment."""
        subject: list[ColumnElement[bool]] = (
            [
                col(CommitmentVersion.kind) == "duration",
                col(CommitmentVersion.process_key) == row.process_key,
                col(CommitmentVersion.node_key).is_not_distinct_from(row.node_key),
            ]
            if row.kind == "duration"
            else [
                col(CommitmentVersion.kind) == row.kind,
                col(CommitmentVersion.service_key) == row.service_key,
                col(CommitmentVersion.obligation_key).is_not_distinct_from(row.obligation_key),
            ]
        )
        statement = (
            select(CommitmentVersion)
            .where(
                *subject,
                CommitmentVersion.segment_key == row.segment_key,
                col(CommitmentVersion.status).in_(IN_FORCE),
                CommitmentVersion.commitment_key != row.commitment_key,
                text("tstzrange(effective_from, effective_to) && tstzrange(:f, :t)").bindparams(
                    f=effective_from, t=effective_to
                ),
            )
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def resolve(
        self, process_key: str, node_key: str | None, segment_key: str, at: datetime
    ) -> CommitmentVersion | None:
        """The version governing the subject at `at`, preferring the segment over `default`."""
        statement = (
            select(CommitmentVersion)
            .where(
                CommitmentVersion.process_key == process_key,
                col(CommitmentVersion.node_key).is_not_distinct_from(node_key),
                col(CommitmentVersion.segment_key).in_([segment_key, "default"]),
                col(CommitmentVersion.status).in_(IN_FORCE),
                text("tstzrange(effective_from, effective_to) @> CAST(:at AS timestamptz)").bindparams(at=at),
            )
            .order_by((col(CommitmentVersion.segment_key) == segment_key).desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def agreements_covering(self, commitment_key: str) -> list[str]:
        rows = await self.session.execute(
            text(
                "SELECT 'agreement ' || key || ' v' || version FROM agreements"
                " WHERE covers @> CAST(:c AS jsonb) ORDER BY 1 LIMIT 20"
            ),
            {"c": json.dumps([{"commitment_key": commitment_key}])},
        )
        return list(rows.scalars().all())

    async def add(self, version: CommitmentVersion) -> None:
        self.session.add(version)
        await self.session.flush()

    async def delete(self, version: CommitmentVersion) -> None:
        await self.session.delete(version)
        await self.session.flush()
