"""Ingest service facts: validate each item, deduplicate, derive the touched outages and deliverables, write.

Per request the database sees a fixed handful of set-based statements whatever the number of facts: lock
the touched keys, look up the logged facts, the known services, the touched outages and deliverables; then
append the facts and write the rows that changed, each change with its feed event. Items may be grouped
(the facts of one Alertmanager alert): a group is applied whole or not at all.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from typing import Any
from uuid import UUID

import msgspec
from pledge_common.domain_metrics import count_outcomes
from pledge_common.identity import Caller
from pledge_common.instants import INSTANT_MESSAGE, within_bounds
from pledge_common.jsonlimits import DEPTH_MESSAGE, nesting_exceeds
from pledge_common.observability import current_request_id
from pledge_common.outbox import emit_many
from pledge_common.textguard import NUL_MESSAGE, nul_field
from sqlalchemy.ext.asyncio import AsyncSession

from tracking_svc.catalogue.repository import known_services
from tracking_svc.config import Settings
from tracking_svc.facts import repository as repo
from tracking_svc.facts.rules import (
    Contradiction,
    DeliverableState,
    Delivery,
    OutageEnd,
    OutageStart,
    OutageState,
    SignOff,
    apply_deliverable,
    apply_outage,
)
from tracking_svc.facts.schemas import (
    FACT_DECODER,
    FACT_DEPTH,
    DeliverableDeliveredIn,
    DeliverableSignedOffIn,
    FactIn,
    OccurrenceRecordedIn,
    OutageEndedIn,
    OutageStartedIn,
    SampleRecordedIn,
    fact_type,
)
from tracking_svc.ingest.repository import time_ordered_ids
from tracking_svc.ingest.schemas import decode_error


@dataclass(slots=True)
class FactOutcome:
    status: str  # accepted | duplicate | rejected
    source: str | None = None
    external_id: str | None = None
    type: str | None = None
    service: str | None = None
    error_status: int = 0
    field: str = ""
    detail: str = ""


def _rejected(status: int, field: str, detail: str, fact: FactIn | None = None) -> FactOutcome:
    return FactOutcome(
        "rejected",
        source=fact.source if fact else None,
        external_id=fact.external_id if fact else None,
        type=fact_type(fact) if fact else None,
        service=fact.service if fact else None,
        error_status=status,
        field=field,
        detail=detail,
    )


def _done(status: str, fact: FactIn) -> FactOutcome:
    return FactOutcome(status, fact.source, fact.external_id, fact_type(fact), fact.service)


_CANONICAL = msgspec.json.Encoder(order="sorted")
_BODY = msgspec.json.Encoder()


def payload_hash(fact: FactIn) -> bytes:
    """The same fact in another JSON spelling (key order, time offset) hashes the same."""
    canonical = msgspec.structs.replace(fact, occurred_at=fact.occurred_at.astimezone(UTC))
    return blake2b(_CANONICAL.encode(canonical), digest_size=16).digest()


def _identity(raw: bytes) -> tuple[str | None, str | None]:
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None, None
    if not isinstance(value, dict):
        return None, None

    def text(v: Any) -> str | None:
        return v if isinstance(v, str) and "\x00" not in v else None

    return text(value.get("source")), text(value.get("external_id"))


def parse_item(raw: FactIn | bytes, caller: Caller, latest: datetime) -> FactIn | FactOutcome:
    """A fact checked on its own (format, instants, the caller's right to its source), or its refusal."""
    if isinstance(raw, bytes):
        if nesting_exceeds(raw, FACT_DEPTH):
            return FactOutcome("rejected", error_status=422, field="body", detail=DEPTH_MESSAGE.format(limit=1))
        try:
            fact: FactIn = FACT_DECODER.decode(raw)
        except msgspec.DecodeError as err:
            source, external_id = _identity(raw)
            field, message = decode_error(err)
            return FactOutcome("rejected", source, external_id, error_status=422, field=field, detail=message)
        nul = nul_field(raw)
        if nul is not None:
            return _rejected(422, nul, NUL_MESSAGE)
    else:
        fact = raw
    if not within_bounds(fact.occurred_at):
        return _rejected(422, "occurred_at", INSTANT_MESSAGE, fact)
    if fact.occurred_at > latest:
        return _rejected(422, "occurred_at", f"{fact.occurred_at.isoformat()} is in the future", fact)
    if not caller.can_see_source(fact.source):
        return _rejected(403, "source", f"this caller may not write facts of source {fact.source}", fact)
    return fact


def _lock_keys(facts: Sequence[FactIn]) -> list[str]:
    keys: list[str] = []
    for f in facts:
        keys.append(f"fact:{f.source}:{f.external_id}")
        if isinstance(f, OutageStartedIn | OutageEndedIn):
            keys.append(f"outage:{f.service}:{f.outage_ref}")
        elif isinstance(f, DeliverableDeliveredIn | DeliverableSignedOffIn):
            keys.append(f"deliverable:{f.service}:{f.obligation}")
    return keys


def _instant(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


@dataclass(slots=True)
class _Plan:
    """What the accepted facts change, built in memory before anything is written."""

    outages: dict[tuple[str, str], tuple[UUID | None, OutageState]]
    deliverables: dict[tuple[str, str], tuple[UUID | None, DeliverableState]]
    changed_outages: set[tuple[str, str]]
    changed_deliverables: set[tuple[str, str]]
    outage_sources: dict[tuple[str, str], set[str]] = field(default_factory=dict)


def _apply(plan: _Plan, fact: FactIn) -> bool:
    """Add one fact to the plan: True when it changes something. Raises Contradiction."""
    if isinstance(fact, OutageStartedIn | OutageEndedIn):
        key = (fact.service, fact.outage_ref)
        outage_id, state = plan.outages.get(key, (None, None))
        at = fact.occurred_at.astimezone(UTC)
        step: OutageStart | OutageEnd = (
            OutageStart(at, fact.planned, fact.weight, fact.summary)
            if isinstance(fact, OutageStartedIn)
            else OutageEnd(at)
        )
        new_outage = apply_outage(state, step)
        if new_outage is None:
            return False
        plan.outages[key] = (outage_id, new_outage)
        plan.changed_outages.add(key)
        return True
    if isinstance(fact, DeliverableDeliveredIn | DeliverableSignedOffIn):
        key = (fact.service, fact.obligation)
        deliverable_id, current = plan.deliverables.get(key, (None, None))
        at = fact.occurred_at.astimezone(UTC)
        d_step: Delivery | SignOff = (
            Delivery(at, fact.external_id, fact.evidence)
            if isinstance(fact, DeliverableDeliveredIn)
            else SignOff(at, fact.external_id, fact.signed_by)
        )
        new_deliverable = apply_deliverable(current, d_step)
        if new_deliverable is None:
            return False
        plan.deliverables[key] = (deliverable_id, new_deliverable)
        plan.changed_deliverables.add(key)
        return True
    return True  # samples and occurrences: one row each


async def ingest_facts(
    session: AsyncSession,
    items: Sequence[FactIn | bytes],
    *,
    caller: Caller,
    settings: Settings,
    groups: Sequence[int] | None = None,
) -> list[FactOutcome]:
    """One outcome per item, in order. Items sharing a group number are applied all or none (a refused
    item refuses the others of its group, with the reason)."""
    now = datetime.now(UTC)
    latest = now + timedelta(seconds=settings.max_clock_skew_seconds)
    group_of = list(groups) if groups is not None else list(range(len(items)))
    outcomes: list[FactOutcome | None] = [None] * len(items)
    facts: dict[int, FactIn] = {}
    for i, raw in enumerate(items):
        parsed = parse_item(raw, caller, latest)
        if isinstance(parsed, FactOutcome):
            outcomes[i] = parsed
        else:
            facts[i] = parsed

    await repo.lock_keys(session, _lock_keys(list(facts.values())))
    logged = await repo.stored_facts(session, sorted({(f.source, f.external_id) for f in facts.values()}))
    services = await known_services(session, sorted({f.service for f in facts.values()}))
    stored_outages = await repo.outages(
        session,
        sorted({(f.service, f.outage_ref) for f in facts.values() if isinstance(f, OutageStartedIn | OutageEndedIn)}),
    )
    stored_deliverables = await repo.deliverables(
        session,
        sorted(
            {
                (f.service, f.obligation)
                for f in facts.values()
                if isinstance(f, DeliverableDeliveredIn | DeliverableSignedOffIn)
            }
        ),
    )
    plan = _Plan(
        outages={k: (i, s) for k, (i, s) in stored_outages.items()},
        deliverables={k: (i, s) for k, (i, s) in stored_deliverables.items()},
        changed_outages=set(),
        changed_deliverables=set(),
    )
    hashes: dict[int, bytes] = {}
    seen: dict[tuple[str, str], bytes] = {}
    accepted: list[int] = []

    members: dict[int, list[int]] = {}
    for i, g in enumerate(group_of):
        members.setdefault(g, []).append(i)
    for group in members.values():
        undo_outages = {k: plan.outages.get(k) for k in _outage_keys(facts, group)}
        undo_deliverables = {k: plan.deliverables.get(k) for k in _deliverable_keys(facts, group)}
        changed_before = (set(plan.changed_outages), set(plan.changed_deliverables))
        group_accepted: list[int] = []
        failure: FactOutcome | None = next((o for i in group if (o := outcomes[i]) is not None), None)
        for i in group:
            if failure is not None:
                break
            fact = facts[i]
            digest = hashes[i] = payload_hash(fact)
            key = (fact.source, fact.external_id)
            known = seen.get(key, logged.get(key))
            if known is not None:
                if known == digest:
                    outcomes[i] = _done("duplicate", fact)
                    continue
                failure = outcomes[i] = _rejected(
                    409,
                    "external_id",
                    f"fact {fact.external_id} of source {fact.source} was already received with another content",
                    fact,
                )
                break
            if fact.service not in services:
                failure = outcomes[i] = _rejected(
                    422, "service", f"no service {fact.service} (commitment-svc's /v1/services)", fact
                )
                break
            try:
                changes = _apply(plan, fact)
            except Contradiction as err:
                failure = outcomes[i] = _rejected(err.status, err.field, err.message, fact)
                break
            seen[key] = digest
            if changes:
                outcomes[i] = _done("accepted", fact)
                group_accepted.append(i)
            else:
                outcomes[i] = _done("duplicate", fact)
        if failure is not None:
            for k, v in undo_outages.items():
                if v is None:
                    plan.outages.pop(k, None)
                else:
                    plan.outages[k] = v
            for dk, dv in undo_deliverables.items():
                if dv is None:
                    plan.deliverables.pop(dk, None)
                else:
                    plan.deliverables[dk] = dv
            plan.changed_outages, plan.changed_deliverables = changed_before
            for i in group:
                fact_i = facts.get(i)
                if fact_i is not None:
                    seen.pop((fact_i.source, fact_i.external_id), None)
                if outcomes[i] is not failure:
                    outcomes[i] = FactOutcome(
                        "rejected",
                        fact_i.source if fact_i else None,
                        fact_i.external_id if fact_i else None,
                        fact_type(fact_i) if fact_i else None,
                        fact_i.service if fact_i else None,
                        failure.error_status,
                        failure.field,
                        f"refused with another fact of the same group: {failure.detail}",
                    )
            continue
        accepted.extend(group_accepted)
        for i in group_accepted:
            if isinstance(f := facts[i], OutageStartedIn | OutageEndedIn):
                plan.outage_sources.setdefault((f.service, f.outage_ref), set()).add(f.source)

    await _write(session, plan, [facts[i] for i in sorted(accepted)], [hashes[i] for i in sorted(accepted)])
    result = [o for o in outcomes if o is not None]
    assert len(result) == len(items)
    count_outcomes(session, "service_fact", [o.status for o in result])
    return result


def _outage_keys(facts: dict[int, FactIn], group: list[int]) -> set[tuple[str, str]]:
    return {(f.service, f.outage_ref) for i in group if isinstance(f := facts.get(i), OutageStartedIn | OutageEndedIn)}


def _deliverable_keys(facts: dict[int, FactIn], group: list[int]) -> set[tuple[str, str]]:
    return {
        (f.service, f.obligation)
        for i in group
        if isinstance(f := facts.get(i), DeliverableDeliveredIn | DeliverableSignedOffIn)
    }


async def _write(session: AsyncSession, plan: _Plan, accepted: list[FactIn], hashes: list[bytes]) -> None:
    """Append the accepted facts and write what they changed, each change with its feed event."""
    request_id = current_request_id()
    await repo.insert_facts(
        session,
        [
            repo.LoggedFact(
                f.source,
                f.external_id,
                fact_type(f),
                f.service,
                f.occurred_at,
                h,
                _BODY.encode(f).decode(),
                request_id,
            )
            for f, h in zip(accepted, hashes, strict=True)
        ],
    )
    feed: list[tuple[str, str, Any]] = []

    outage_keys = sorted(plan.changed_outages)
    new_ids = iter(time_ordered_ids(len(outage_keys) + len(plan.changed_deliverables) + len(accepted)))
    outage_rows: list[tuple[UUID, str, str, OutageState]] = []
    for key in outage_keys:
        outage_id, state = plan.outages[key]
        outage_id = outage_id or next(new_ids)
        outage_rows.append((outage_id, key[0], key[1], state))
        feed.append(
            (
                "outage.upserted",
                str(outage_id),
                {
                    "id": str(outage_id),
                    "service_key": key[0],
                    "outage_ref": key[1],
                    "started_at": _instant(state.started_at),
                    "ended_at": _instant(state.ended_at),
                    "planned": state.planned,
                    "weight": state.weight,
                },
            )
        )
    await repo.upsert_outages(session, outage_rows, [sorted(plan.outage_sources[key]) for key in outage_keys])

    deliverable_rows: list[tuple[UUID, str, str, DeliverableState]] = []
    for dkey in sorted(plan.changed_deliverables):
        deliverable_id, d_state = plan.deliverables[dkey]
        deliverable_id = deliverable_id or next(new_ids)
        deliverable_rows.append((deliverable_id, dkey[0], dkey[1], d_state))
        feed.append(
            (
                "deliverable.upserted",
                str(deliverable_id),
                {
                    "id": str(deliverable_id),
                    "service_key": dkey[0],
                    "obligation_key": dkey[1],
                    "delivered_at": _instant(d_state.delivered_at),
                    "signed_off_at": _instant(d_state.signed_off_at),
                    "signed_by": d_state.signed_by,
                    "evidence": d_state.evidence,
                },
            )
        )
    await repo.upsert_deliverables(session, deliverable_rows)

    samples: list[repo.Measurement] = []
    occurrences: list[repo.Measurement] = []
    for f in accepted:
        if isinstance(f, SampleRecordedIn):
            row = repo.Measurement(
                next(new_ids), f.source, f.external_id, f.service, f.obligation, f.occurred_at, value=f.value
            )
            samples.append(row)
            payload: dict[str, Any] = {"value": f.value}
            kind = "sample.recorded"
        elif isinstance(f, OccurrenceRecordedIn):
            row = repo.Measurement(
                next(new_ids), f.source, f.external_id, f.service, f.obligation, f.occurred_at, evidence=f.evidence
            )
            occurrences.append(row)
            payload = {}
            kind = "occurrence.recorded"
        else:
            continue
        feed.append(
            (
                kind,
                str(row.id),
                {
                    "id": str(row.id),
                    "service_key": row.service_key,
                    "obligation_key": row.obligation_key,
                    "at": _instant(row.at),
                    **payload,
                },
            )
        )
    await repo.insert_samples(session, samples)
    await repo.insert_occurrences(session, occurrences)
    await emit_many(session, feed)
