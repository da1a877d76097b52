import uuid
from datetime import datetime
from typing import Any

from pledge_common.etags import check_if_match
from pledge_common.identity import Caller
from pledge_common.outbox import emit_many
from pledge_common.problems import Conflict, NotFound, field_error, invalid
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from commitment_svc.agreements.models import AgreementRow
from commitment_svc.agreements.repository import AgreementRepository
from commitment_svc.agreements.rules import EDITABLE, cover_error, penalty_error, transition_error
from commitment_svc.agreements.schemas import (
    AgreementCreate,
    AgreementHistory,
    AgreementPublic,
    AgreementTerms,
    AgreementTransition,
)
from commitment_svc.commitments.repository import CommitmentRepository
from commitment_svc.core.errors import problem_for
from commitment_svc.core.models import now_utc
from commitment_svc.departments.repository import DepartmentRepository
from commitment_svc.segments.repository import SegmentRepository

CONSTRAINTS = {
    "agreements_one_open_draft": (409, "key", "this agreement already has an open draft"),
    "agreements_one_signed": (409, "to", "another version of this agreement was signed concurrently"),
    "agreements_key_version": (409, "key", "that version number was taken concurrently"),
}
TERM_FIELDS = (
    "title", "provider", "customer", "scope", "covers", "exemptions", "penalties", "billing", "glossary"
)  # fmt: skip


def public(row: AgreementRow) -> AgreementPublic:
    return AgreementPublic(
        id=row.id,
        key=row.key,
        version=row.version,
        kind=row.kind,  # type: ignore[arg-type]
        title=row.title,
        provider=row.provider,
        customer=row.customer,
        scope=row.scope,
        covers=row.covers,
        exemptions=row.exemptions,
        penalties=row.penalties,
        billing=row.billing or {"period": "month", "timezone": "UTC"},
        glossary=row.glossary,
        status=row.status,  # type: ignore[arg-type]
        history=[AgreementHistory.model_validate(h) for h in row.history],
        signed_at=row.signed_at,
        terminated_at=row.terminated_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _dump(terms: AgreementTerms | AgreementCreate) -> dict[str, Any]:
    data = terms.model_dump(mode="json", by_alias=True, exclude_unset=isinstance(terms, AgreementTerms))
    return {k: v for k, v in data.items() if k in TERM_FIELDS and v is not None}


async def _check(session: AsyncSession, kind: str, terms: dict[str, Any]) -> None:
    """References of an agreement: departments, segments, commitments; penalties against the covers."""
    departments = DepartmentRepository(session)
    if await departments.get(terms["provider"]) is None:
        raise invalid("provider", f"unknown department `{terms['provider']}`")
    if kind == "ola" and await departments.get(terms["customer"]) is None:
        raise invalid("customer", f"an OLA's customer is a department; unknown department `{terms['customer']}`")
    segments = terms["scope"].get("segments", [])
    known_segments = await SegmentRepository(session).existing_keys(segments)
    for i, segment in enumerate(segments):
        if segment not in known_segments:
            raise invalid(f"scope.segments[{i}]", f"unknown segment `{segment}`")
    covered = [c["commitment_key"] for c in terms["covers"]]
    kinds = await CommitmentRepository(session).kinds_of(covered)
    for i, cover in enumerate(terms["covers"]):
        error = cover_error(cover["commitment_key"], float(cover["target_rate"]), kinds)
        if error is not None:
            field, message = error
            raise invalid(f"covers[{i}].{field}", message)
    for i, period in enumerate(terms["exemptions"].get("force_majeure", [])):
        if datetime.fromisoformat(period["to"]) <= datetime.fromisoformat(period["from"]):
            raise invalid(f"exemptions.force_majeure[{i}].to", "must be after `from`")
    billing_currency = (terms.get("billing") or {}).get("currency")
    for i, penalty in enumerate(terms["penalties"]):
        if billing_currency is not None and penalty["currency"] != billing_currency:
            raise invalid(f"penalties[{i}].currency", f"must be the billing currency {billing_currency}")
        if penalty["kind"] == "per_warning_run":
            continue
        error = penalty_error(penalty, kinds)
        if error is not None:
            field, message = error
            raise invalid(f"penalties[{i}].{field}" if field else f"penalties[{i}]", message)


def _history(row: AgreementRow, status: str, caller: Caller, at: datetime, reason: str | None) -> None:
    row.history = [*row.history, {"status": status, "at": at.isoformat(), "by": caller.sub, "reason": reason}]


async def _flush(session: AsyncSession, rows: list[AgreementRow]) -> None:
    repo = AgreementRepository(session)
    try:
        for row in rows:
            await repo.add(row)
    except IntegrityError as err:
        raise problem_for(err, CONSTRAINTS) from None


async def _save(session: AsyncSession, rows: list[AgreementRow]) -> None:
    await _flush(session, rows)
    await emit_many(session, [("agreement.upserted", str(r.id), public(r).feed_payload()) for r in rows])


async def get_agreement(session: AsyncSession, id_: uuid.UUID, *, for_update: bool = False) -> AgreementRow:
    row = await AgreementRepository(session).get(id_, for_update=for_update)
    if row is None:
        raise NotFound(f"no agreement `{id_}`")
    return row


async def create_agreement(session: AsyncSession, body: AgreementCreate, caller: Caller) -> AgreementRow:
    if await AgreementRepository(session).versions_of(body.key):
        raise Conflict(
            f"agreement `{body.key}` exists; change it with POST /v1/agreements/{{id}}/versions",
            errors=[field_error("key", "already exists")],
        )
    terms = _dump(body)
    await _check(session, body.kind, terms)
    now = now_utc()
    row = AgreementRow(
        id=uuid.uuid4(),
        key=body.key,
        version=1,
        kind=body.kind,
        status="draft",
        history=[],
        created_at=now,
        updated_at=now,
        **terms,
    )
    _history(row, "draft", caller, now, None)
    await _save(session, [row])
    return row


def _immutable(row: AgreementRow) -> Conflict:
    return Conflict(
        f"a {row.status} agreement is immutable; change it with a new version (POST /v1/agreements/{row.id}/versions)",
        errors=[field_error("status", f"is {row.status}")],
    )


async def update_agreement(
    session: AsyncSession, id_: uuid.UUID, body: AgreementTerms, if_match: str | None
) -> AgreementRow:
    row = await get_agreement(session, id_, for_update=True)
    check_if_match(if_match, row.row_version, required=True)
    if row.status not in EDITABLE:
        raise _immutable(row)
    changes = _dump(body)
    if not changes:
        return row
    merged = {field: getattr(row, field) for field in TERM_FIELDS} | changes
    await _check(session, row.kind, merged)
    for field, value in changes.items():
        setattr(row, field, value)
    row.row_version += 1
    row.updated_at = now_utc()
    await _save(session, [row])
    return row


async def create_version(session: AsyncSession, id_: uuid.UUID, body: AgreementTerms, caller: Caller) -> AgreementRow:
    base = await get_agreement(session, id_)
    versions = await AgreementRepository(session).versions_of(base.key, for_update=True)
    open_draft = next((v for v in versions if v.status in EDITABLE), None)
    if open_draft is not None:
        raise Conflict(
            f"agreement `{base.key}` already has an open {open_draft.status} version {open_draft.version}"
            f" ({open_draft.id}); edit that one",
            errors=[field_error("key", "has an open draft")],
            open_version_id=str(open_draft.id),
        )
    terms = {field: getattr(base, field) for field in TERM_FIELDS} | _dump(body)
    await _check(session, base.kind, terms)
    now = now_utc()
    row = AgreementRow(
        id=uuid.uuid4(),
        key=base.key,
        version=max(v.version for v in versions) + 1,
        kind=base.kind,
        status="draft",
        history=[],
        created_at=now,
        updated_at=now,
        **terms,
    )
    _history(row, "draft", caller, now, f"new version from version {base.version}")
    await _save(session, [row])
    return row


async def transition(
    session: AsyncSession, id_: uuid.UUID, body: AgreementTransition, caller: Caller, if_match: str | None
) -> AgreementRow:
    """draft → negotiating → signed → terminated (negotiating → draft to revise). Signing a new version
    terminates the version signed before it, in the same transaction."""
    row = await get_agreement(session, id_)
    versions = await AgreementRepository(session).versions_of(row.key, for_update=True)
    row = next(v for v in versions if v.id == id_)
    check_if_match(if_match, row.row_version, required=False)
    problem = transition_error(row.status, body.to)
    if problem is not None:
        raise Conflict(f"to: {problem}", errors=[field_error("to", problem)])
    now = now_utc()
    changed: list[AgreementRow] = []
    if body.to == "signed":
        if not row.covers:
            raise invalid("covers", "an agreement must cover at least one commitment before it is signed")
        for old in versions:
            if old.status == "signed":
                old.status = "terminated"
                old.terminated_at = now
                old.row_version += 1
                old.updated_at = now
                _history(old, "terminated", caller, now, f"superseded by version {row.version}")
                changed.append(old)
        # the superseded version must leave `signed` before this one enters it (one signed version per key)
        await _flush(session, changed)
        row.signed_at = now
    elif body.to == "terminated":
        row.terminated_at = now
    row.status = body.to
    row.row_version += 1
    row.updated_at = now
    _history(row, body.to, caller, now, body.reason)
    changed.append(row)
    await _save(session, changed)
    return row
