"""Risk points (服务协同风险点): where service collaboration can fail, with controls and an owner."""

import uuid
from datetime import datetime

from pledge_common.identity import Caller
from pledge_common.pagination import Page, decode_cursor, encode_cursor
from pledge_common.problems import NotFound, invalid
from sqlalchemy.ext.asyncio import AsyncSession

from feedback_svc.clients import TrackingClient
from feedback_svc.common import owned_by, utcnow, written_by
from feedback_svc.risks.models import RiskPoint
from feedback_svc.risks.repository import RiskFilter, RiskRepository
from feedback_svc.risks.schemas import ControlPublic, RiskOwnerPublic, RiskPointPublic, RiskPointWrite
from feedback_svc.upstream import require_known_process


async def _check(tracking: TrackingClient, data: RiskPointWrite) -> None:
    if data.node_key is not None and data.process_key is None:
        raise invalid("body.node", "a node needs its process")
    if data.process_key is None and data.department is None:
        raise invalid("body.process", "a risk point belongs to a process (and node) or a department: give one")
    if data.process_key is not None:
        await require_known_process(tracking, data.process_key, "body.process")


def _fields(data: RiskPointWrite) -> dict[str, object]:
    return {
        "title": data.title,
        "description": data.description,
        "level": data.level,
        "process_key": data.process_key,
        "node_key": data.node_key,
        "department": data.department,
        "controls": [c.model_dump() for c in data.controls],
        "owner_department": data.owner.department,
        "owner_person": data.owner.person,
        "kpi_keys": list(dict.fromkeys(data.kpi_keys)),
        "alert_refs": list(dict.fromkeys(data.alert_refs)),
    }


def public(r: RiskPoint) -> RiskPointPublic:
    return RiskPointPublic(
        id=r.id,
        title=r.title,
        description=r.description,
        level=r.level,  # type: ignore[arg-type]
        process_key=r.process_key,
        node_key=r.node_key,
        department=r.department,
        controls=[ControlPublic.model_validate(c) for c in r.controls],
        owner=RiskOwnerPublic(department=r.owner_department, person=r.owner_person),
        kpi_keys=r.kpi_keys,
        alert_refs=r.alert_refs,
        version=r.version,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


async def create(
    session: AsyncSession, tracking: TrackingClient, caller: Caller, data: RiskPointWrite
) -> RiskPointPublic:
    await _check(tracking, data)
    now = utcnow()
    risk = RiskPoint(
        id=uuid.uuid4(),
        **_fields(data),  # type: ignore[arg-type]
        sources=written_by(caller),
        created_by=caller.sub,
        created_at=now,
        updated_at=now,
    )
    await RiskRepository(session).add(risk)
    return public(risk)


async def _visible(repository: RiskRepository, caller: Caller, risk_id: uuid.UUID, lock: bool = False) -> RiskPoint:
    risk = await repository.get(risk_id, for_update=lock)
    if risk is None or not owned_by(caller, risk.sources):
        raise NotFound(f"no risk point {risk_id}")
    return risk


async def get(session: AsyncSession, caller: Caller, risk_id: uuid.UUID) -> RiskPointPublic:
    return public(await _visible(RiskRepository(session), caller, risk_id))


async def replace(
    session: AsyncSession, tracking: TrackingClient, caller: Caller, risk_id: uuid.UUID, data: RiskPointWrite
) -> RiskPointPublic:
    repository = RiskRepository(session)
    risk = await _visible(repository, caller, risk_id, lock=True)
    await _check(tracking, data)
    for name, value in _fields(data).items():
        setattr(risk, name, value)
    risk.version += 1
    risk.updated_at = utcnow()
    await session.flush()
    return public(risk)


async def remove(session: AsyncSession, caller: Caller, risk_id: uuid.UUID) -> None:
    repository = RiskRepository(session)
    await _visible(repository, caller, risk_id, lock=True)
    await repository.delete(risk_id)


async def list_page(session: AsyncSession, where: RiskFilter, cursor: str | None, limit: int) -> Page[RiskPointPublic]:
    after = decode_cursor(cursor, datetime.fromisoformat, uuid.UUID, field="query.cursor")
    rows = await RiskRepository(session).page(where, after, limit + 1)  # type: ignore[arg-type]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[RiskPointPublic](
        items=[public(r) for r in rows],
        next_cursor=encode_cursor(rows[-1].created_at, rows[-1].id) if more else None,
    )
