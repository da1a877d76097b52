"""`POST /v1/integrations/alertmanager` (Alertmanager's webhook) and its label mappings
(`/v1/integrations/alertmanager/mappings`)."""

from typing import Any

from fastapi import APIRouter, Path, Request, Response
from pledge_common.db import SessionDep
from pledge_common.idempotency import Answer, IdempotencyDep
from pledge_common.identity import CallerDep
from pledge_common.jsonlimits import DEPTH_MESSAGE, MAX_BODY_DEPTH, nesting_exceeds
from pledge_common.pagination import PageParams, decode_cursor, encode_cursor, paged
from pledge_common.problems import Conflict, NotFound, PayloadTooLarge, field_error, invalid
from pledge_common.scopes import Scope, scoped
from pledge_common.textguard import NUL_MESSAGE, nul_path
from pydantic import ValidationError

from tracking_svc.config import Settings
from tracking_svc.facts import repository as repo
from tracking_svc.facts.alertmanager import (
    AlertmanagerPayload,
    AlertmanagerResult,
    AlertResult,
    Mapping,
    MappingCreate,
    MappingPage,
    MappingPublic,
    Refusal,
    alert_facts,
    alert_outcome,
    choose_mapping,
    parse_alert,
)
from tracking_svc.facts.schemas import FactIn
from tracking_svc.facts.service import ingest_facts

webhook_router = APIRouter(
    prefix="/v1/integrations/alertmanager", tags=["integrations"], dependencies=scoped(Scope.ingest_monitoring)
)
mappings_router = APIRouter(
    prefix="/v1/integrations/alertmanager/mappings",
    tags=["integrations"],
    dependencies=scoped(Scope.definitions_read, Scope.definitions_write),
)


def _mapping(row: Any) -> Mapping:
    return Mapping(row.key, row.receiver, row.service_label, row.service_map, row.planned_label, row.weight_label)


def _public(row: Any) -> MappingPublic:
    return MappingPublic.model_validate(row, from_attributes=True)


@webhook_router.post(
    "",
    response_model=AlertmanagerResult,
    responses={
        413: {"description": "more alerts than the configured maximum"},
        422: {"description": "not an Alertmanager webhook body (version 4)"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": AlertmanagerPayload.model_json_schema()}},
        }
    },
)
async def alertmanager_webhook(
    request: Request, session: SessionDep, caller: CallerDep, idem: IdempotencyDep
) -> Response:
    """Alertmanager's webhook: each alert becomes an outage's start (firing) or start and end (resolved).
    Every alert is answered on its own: accepted, duplicate (a redelivery) or rejected with the reason."""
    settings: Settings = request.app.state.settings
    body = await request.body()  # read raw: firing alerts carry `endsAt: 0001-01-01T00:00:00Z`
    if nesting_exceeds(body, MAX_BODY_DEPTH):
        raise invalid("body", DEPTH_MESSAGE.format(limit=MAX_BODY_DEPTH))
    try:
        payload = AlertmanagerPayload.model_validate_json(body)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise invalid(field, f"not an Alertmanager webhook body (version 4): {first['msg']}") from None
    if "\x00" in payload.receiver:
        raise invalid("receiver", NUL_MESSAGE)
    if len(payload.alerts) > settings.alertmanager_max_alerts:
        raise PayloadTooLarge(
            f"{len(payload.alerts)} alerts; a payload may hold at most {settings.alertmanager_max_alerts}"
            " (set max_alerts in the webhook_config)",
            errors=[field_error("alerts", f"at most {settings.alertmanager_max_alerts} alerts")],
        )

    async def make() -> Answer:
        mapping = choose_mapping(
            [_mapping(r) for r in await repo.mappings_for(session, payload.receiver)], payload.receiver
        )
        reasons: dict[int, str] = {}
        fingerprints: dict[int, str | None] = {}
        items: list[FactIn] = []
        groups: list[int] = []
        for index, raw in enumerate(payload.alerts):
            fingerprints[index] = raw.get("fingerprint") if isinstance(raw, dict) else None
            if not isinstance(fingerprints[index], str) or nul_path(fingerprints[index]) is not None:
                fingerprints[index] = None
            if nul_path(raw) is not None:
                reasons[index] = f"malformed alert: {'.'.join(nul_path(raw) or ())} {NUL_MESSAGE}"
                continue
            alert = parse_alert(raw)
            if isinstance(alert, Refusal):
                reasons[index] = alert.reason
                continue
            if mapping is None:
                reasons[index] = (
                    f"no mapping for receiver {payload.receiver!r} (see /v1/integrations/alertmanager/mappings)"
                )
                continue
            facts = alert_facts(alert, mapping)
            if isinstance(facts, Refusal):
                reasons[index] = facts.reason
                continue
            items.extend(facts)
            groups.extend([index] * len(facts))
        outcomes = await ingest_facts(session, items, caller=caller, settings=settings, groups=groups)
        by_alert: dict[int, list[Any]] = {}
        for group, outcome in zip(groups, outcomes, strict=True):
            by_alert.setdefault(group, []).append(outcome)
        results: list[AlertResult] = []
        for index in range(len(payload.alerts)):
            reason = reasons.get(index)
            alert_outcomes = by_alert.get(index, [])
            refused = next((o for o in alert_outcomes if o.status == "rejected"), None)
            if refused is not None:
                reason = f"{refused.field}: {refused.detail}"
            if reason is not None:
                results.append(
                    AlertResult(index=index, fingerprint=fingerprints[index], outcome="rejected", reason=reason)
                )
            else:
                status = alert_outcome([o.status for o in alert_outcomes])
                results.append(
                    AlertResult(index=index, fingerprint=fingerprints[index], outcome=status, reason=None)  # type: ignore[arg-type]
                )
        return Answer(200, AlertmanagerResult(results=results))

    if idem.key is None:
        return await idem.record(b"", await make())
    digest = idem.fingerprint(body)
    stored = await idem.claim()
    if stored is not None:
        return idem.replay(stored, digest)
    return await idem.record(digest, await make())


@mappings_router.post("", status_code=201, response_model=MappingPublic, responses={409: {"description": "exists"}})
async def create_alertmanager_mapping(session: SessionDep, body: MappingCreate, idem: IdempotencyDep) -> Response:
    """Say how alerts of a receiver (or of any receiver) name their service."""

    async def make() -> Answer:
        row = await repo.insert_mapping(session, body.model_dump())
        if row is None:
            raise Conflict(
                f"a mapping {body.key}, or one for receiver {body.receiver!r}, exists already",
                errors=[field_error("key", "a mapping with this key or receiver exists")],
            )
        return Answer(201, _public(row), {"Location": f"/v1/integrations/alertmanager/mappings/{body.key}"})

    return await idem.answer(make, body)


@mappings_router.get("", response_model=MappingPage)
async def list_alertmanager_mappings(
    request: Request, response: Response, session: SessionDep, page: PageParams
) -> MappingPage:
    """The label mappings, by key."""
    after = decode_cursor(page.cursor, str)
    rows = await repo.list_mappings(session, after[0] if after else None, page.limit + 1)
    chosen = rows[: page.limit]
    next_cursor = encode_cursor(chosen[-1].key) if len(rows) > page.limit else None
    return paged(request, response, MappingPage(items=[_public(r) for r in chosen], next_cursor=next_cursor))


@mappings_router.get("/{key}", response_model=MappingPublic, responses={404: {"description": "no such mapping"}})
async def get_alertmanager_mapping(session: SessionDep, key: str = Path(max_length=64)) -> MappingPublic:
    """One label mapping."""
    row = await repo.get_mapping(session, key)
    if row is None:
        raise NotFound(f"no mapping {key}")
    return _public(row)


@mappings_router.delete("/{key}", status_code=204, responses={404: {"description": "no such mapping"}})
async def delete_alertmanager_mapping(session: SessionDep, key: str = Path(max_length=64)) -> Response:
    """Remove a label mapping (alerts it mapped are refused from then on)."""
    if not await repo.delete_mapping(session, key):
        raise NotFound(f"no mapping {key}")
    return Response(status_code=204)
