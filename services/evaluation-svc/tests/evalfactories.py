"""Feed events shaped exactly like docs/contracts.md, for driving the projection in tests."""

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

from pledge_common.outbox import FeedEvent

CST = timezone(timedelta(hours=8))
_seq = itertools.count(1)


def at(text: str) -> datetime:
    """A local instant of the worked examples: '2026-03-03 10:00' in +08:00."""
    return datetime.fromisoformat(text).replace(tzinfo=CST)


def event(type_: str, key: str, payload: dict[str, Any]) -> FeedEvent:
    seq = next(_seq)
    return FeedEvent(
        cursor=f"1:{seq}", seq=seq, type=type_, key=key, payload=payload, occurred_at="2026-01-01T00:00:00Z"
    )


WORK_WEEK = [["09:00", "12:00"], ["13:00", "18:00"]]


def calendar_w(key: str = "cn-office", **over: Any) -> FeedEvent:
    payload = {
        "key": key,
        "name": "CN office hours",
        "timezone": "Asia/Shanghai",
        "weekly": {str(d): (WORK_WEEK if d < 5 else []) for d in range(7)},
        "holidays": ["2026-05-01"],
        "extra_working_days": ["2026-05-09"],
        "extra_day_windows": None,
        "version": 1,
    }
    payload.update(over)
    return event("calendar.upserted", key, payload)


def process(
    key: str = "fault-repair", nodes: tuple[str, ...] = ("dispatch", "repair"), owner: str = "ops"
) -> FeedEvent:
    return event(
        "process.upserted",
        key,
        {
            "key": key,
            "name": key.replace("-", " ").title(),
            "description": "",
            "owner_department": owner,
            "nodes": [
                {"key": n, "name": n.title(), "position": i, "department": "field", "position_key": "engineer"}
                for i, n in enumerate(nodes)
            ],
        },
    )


def commitment(
    id_: str = "c-repair-v1",
    *,
    key: str = "repair-residential",
    version: int = 1,
    process_key: str = "fault-repair",
    node_key: str | None = "repair",
    segment_key: str = "default",
    limit_unit: str = "duration",
    commitment_limit: str = "PT6H",
    tolerance_limit: str = "PT10H",
    calendar_key: str | None = "cn-office",
    allowed: tuple[str, ...] = ("awaiting-customer",),
    prewarning_fraction: float | None = 0.8,
    status: str = "active",
    effective_from: str | None = "2020-01-01T00:00:00+00:00",
    effective_to: str | None = None,
    owner_department: str = "field",
) -> FeedEvent:
    return event(
        "commitment.upserted",
        id_,
        {
            "id": id_,
            "commitment_key": key,
            "version": version,
            "process_key": process_key,
            "node_key": node_key,
            "segment_key": segment_key,
            "limit_unit": limit_unit,
            "commitment_limit": commitment_limit,
            "tolerance_limit": tolerance_limit,
            "calendar_key": calendar_key,
            "allowed_pause_reasons": list(allowed),
            "owner_department": owner_department,
            "owner_position": "engineer",
            "prewarning_fraction": prewarning_fraction,
            "status": status,
            "effective_from": effective_from,
            "effective_to": effective_to,
        },
    )


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def node_run(
    id_: str,
    *,
    started: datetime | None,
    completed: datetime | None = None,
    cancelled: datetime | None = None,
    pauses: tuple[tuple[datetime, datetime | None, str], ...] = (),
    process_key: str = "fault-repair",
    node_key: str = "repair",
    segment: str = "residential",
    department: str | None = "field",
    source: str = "crm",
    customer_ref: str = "cust-1",
    ticket_id: str | None = None,
    cycle: int = 1,
    position: str | None = "engineer",
    ended_by_ticket: bool = False,
) -> FeedEvent:
    status = "cancelled" if cancelled else "completed" if completed else "in_progress" if started else "pending"
    return event(
        "node_run.upserted",
        id_,
        {
            "id": id_,
            "ticket_id": ticket_id or f"t-{id_}",
            "source": source,
            "external_id": f"ext-{id_}",
            "process_key": process_key,
            "node_key": node_key,
            "segment": segment,
            "customer_ref": customer_ref,
            "cycle": cycle,
            "department": department,
            "position": position,
            "status": status,
            "started_at": iso(started),
            "completed_at": iso(completed),
            "cancelled_at": iso(cancelled),
            "pauses": [{"start": iso(s), "end": iso(e), "reason": r} for s, e, r in pauses],
            "ended_by_ticket": ended_by_ticket,
        },
    )


def ticket(
    id_: str,
    *,
    opened: datetime,
    closed: datetime | None = None,
    cancelled: datetime | None = None,
    process_key: str = "fault-repair",
    segment: str = "residential",
    source: str = "crm",
    customer_ref: str = "cust-1",
    pauses: tuple[tuple[str, datetime, datetime | None, str], ...] = (),
) -> FeedEvent:
    """A ticket; `pauses`: (node, start, end, reason) of its node runs, as tracking-svc puts them on it."""
    status = "cancelled" if cancelled else "closed" if closed else "open"
    return event(
        "ticket.upserted",
        id_,
        {
            "id": id_,
            "source": source,
            "external_id": f"ext-{id_}",
            "process_key": process_key,
            "customer_ref": customer_ref,
            "segment": segment,
            "status": status,
            "opened_at": iso(opened),
            "closed_at": iso(closed),
            "cancelled_at": iso(cancelled),
            "attributes": {},
            "pauses": [
                {"node_key": n, "cycle": 1, "start": iso(s), "end": iso(e), "reason": r} for n, s, e, r in pauses
            ],
        },
    )


def agreement(
    id_: str = "sla-1",
    *,
    covers: tuple[tuple[str, float], ...] = (("repair-residential", 0.9),),
    status: str = "signed",
    segments: tuple[str, ...] = (),
    customer_refs: tuple[str, ...] = (),
    pause_reasons: tuple[str, ...] = (),
    force_majeure: tuple[tuple[datetime, datetime, str], ...] = (),
    penalties: tuple[dict[str, Any], ...] = (),
    kind: str = "sla",
    billing: dict[str, Any] | None = None,
) -> FeedEvent:
    return event(
        "agreement.upserted",
        id_,
        {
            "id": id_,
            "key": id_,
            "version": 1,
            "kind": kind,
            "title": f"Agreement {id_}",
            "provider": "ops",
            "customer": "acme",
            "scope": {"customer_refs": list(customer_refs), "segments": list(segments)},
            "covers": [{"commitment_key": k, "target_rate": r} for k, r in covers],
            "exemptions": {
                "pause_reasons": list(pause_reasons),
                "force_majeure": [{"from": iso(a), "to": iso(b), "reason": r} for a, b, r in force_majeure],
            },
            "penalties": list(penalties),
            "billing": billing or {"period": "month", "timezone": "UTC"},
            "glossary": {},
            "status": status,
            "history": [],
            "signed_at": "2026-01-01T00:00:00+00:00",
            "terminated_at": None,
        },
    )


# --- kinds of commitment (docs/kinds.md) ---------------------------------------------------------------------


def service(key: str = "erp", *, customer_ref: str | None = "acme", segment: str = "default") -> FeedEvent:
    payload = {
        "key": key,
        "name": key.upper(),
        "customer_ref": customer_ref,
        "segment": segment,
        "owner_department": "ops",
        "status": "active",
    }
    return event("service.upserted", key, payload)


def kind_commitment(
    id_: str = "c-erp-uptime-v1",
    *,
    kind: str = "availability",
    key: str = "erp-uptime",
    service_key: str = "erp",
    obligation_key: str | None = None,
    objective: dict[str, Any] | None = None,
    commitment_limit: str | None = "PT4H",
    tolerance_limit: str | None = "PT8H",
    limit_unit: str = "duration",
    calendar_key: str | None = None,
    status: str = "active",
    effective_from: str | None = "2026-01-01T00:00:00+00:00",
    segment_key: str = "default",
) -> FeedEvent:
    if objective is None and kind == "availability":
        objective = {"max_outages": 60, "max_downtime": "P8D", "planned_maintenance_exempt": True}
    return event(
        "commitment.upserted",
        id_,
        {
            "id": id_,
            "commitment_key": key,
            "version": 1,
            "kind": kind,
            "process_key": None,
            "node_key": None,
            "service_key": service_key,
            "obligation_key": obligation_key,
            "objective": objective,
            "segment_key": segment_key,
            "limit_unit": limit_unit,
            "commitment_limit": commitment_limit,
            "tolerance_limit": tolerance_limit,
            "calendar_key": calendar_key,
            "allowed_pause_reasons": [],
            "owner_department": "ops",
            "owner_position": None,
            "prewarning_fraction": None,
            "status": status,
            "effective_from": effective_from,
            "effective_to": None,
        },
    )


def outage(
    id_: str,
    started: datetime | None,
    ended: datetime | None = None,
    *,
    service_key: str = "erp",
    planned: bool = False,
    weight: float = 1.0,
) -> FeedEvent:
    payload = {
        "id": id_,
        "service_key": service_key,
        "outage_ref": f"ref-{id_}",
        "started_at": iso(started),
        "ended_at": iso(ended),
        "planned": planned,
        "weight": weight,
    }
    return event("outage.upserted", id_, payload)


def sample(id_: str, when: datetime, value: float, *, service_key: str = "erp", obligation: str = "users") -> FeedEvent:
    payload = {"id": id_, "service_key": service_key, "obligation_key": obligation, "at": iso(when), "value": value}
    return event("sample.recorded", id_, payload)


def occurrence(id_: str, when: datetime, *, service_key: str = "erp", obligation: str = "db-backup") -> FeedEvent:
    payload = {"id": id_, "service_key": service_key, "obligation_key": obligation, "at": iso(when)}
    return event("occurrence.recorded", id_, payload)


def deliverable(
    id_: str,
    delivered: datetime | None,
    signed: datetime | None = None,
    *,
    service_key: str = "erp",
    obligation: str = "staff-training",
) -> FeedEvent:
    payload = {
        "id": id_,
        "service_key": service_key,
        "obligation_key": obligation,
        "delivered_at": iso(delivered),
        "signed_off_at": iso(signed),
        "signed_by": None if signed is None else "li.wei@acme",
        "evidence": "https://docs.example/training-report.pdf",
    }
    return event("deliverable.upserted", id_, payload)
