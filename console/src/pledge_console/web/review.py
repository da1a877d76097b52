"""The agreement review: one agreement over one month — each commitment against its target, the exemptions,
the penalties itemised by work-order number, the settlement status of each billing period — and its PDF,
XLSX and CSV, streamed from the API's own export through the console (the session's key, never the browser's).

The month is read in the agreement's billing time zone, so that a month is exactly one monthly billing period.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from pledge_console.accounts.repository import SessionRow
from pledge_console.clients.gateway import GatewayError
from pledge_console.web.pages import (
    PageError,
    SignedIn,
    SignInRequired,
    gateway_of,
    month_window,
    render,
    upstream,
    user_context,
    zone,
)

router = APIRouter(prefix="/console", include_in_schema=False)
AGREEMENT_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # commitment-svc's key pattern
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORTS = {"pdf": "application/pdf", "xlsx": XLSX, "csv": "text/csv"}
AGREEMENTS_LISTED = 500  # one page of /v1/agreements (every version of every agreement)


@dataclass(frozen=True)
class AgreementChoice:
    key: str
    title: str
    kind: str
    version: int
    billing_timezone: str


def agreement_choices(items: list[dict[str, Any]]) -> list[AgreementChoice]:
    """One choice per agreement key (its latest version's title and billing zone), by key."""
    latest: dict[str, dict[str, Any]] = {}
    for item in items:
        key = str(item.get("key") or "")
        if key and int(item.get("version") or 0) >= int(latest.get(key, {}).get("version") or 0):
            latest[key] = item
    return [
        AgreementChoice(
            key=key,
            title=str(item.get("title") or key),
            kind=str(item.get("kind") or ""),
            version=int(item.get("version") or 0),
            billing_timezone=str((item.get("billing") or {}).get("timezone") or "UTC"),
        )
        for key, item in sorted(latest.items())
    ]


def download_name(agreement: str, month: str, fmt: str) -> str:
    """`review-<agreement key>-<YYYY-MM>.<fmt>`: made of checked parts only (nothing to quote in the header)."""
    if not AGREEMENT_KEY.match(agreement) or not MONTH.match(month) or fmt not in EXPORTS:
        raise ValueError("agreement, month or format out of its pattern")
    return f"review-{agreement}-{month}.{fmt}"


def review_view(review: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of the API's review: plain values, each list in the order it is read."""
    periods = [
        {
            "period": p["period"],
            "status": p["status"],
            "penalties": p["penalties"],
            "credit": p["credit"],
            "adjustments": p["adjustments"],
            "credits": p["credits"],
            "amount_due": p.get("amount_due"),
            "pending": len(p.get("pending") or []),
        }
        for p in review.get("periods", [])
    ]
    commitments = [
        {
            "commitment": c["commitment"],
            "target_rate": c["target_rate"],
            "runs": c["runs"],
            "judged": c["judged"],
            "normal": c["normal"]["count"],
            "share": c["normal"].get("share"),
            "met": c.get("met"),
            "excluded": c["excluded"],
            "relieved_by_exemptions": c["relieved_by_exemptions"],
        }
        for c in review.get("commitments", [])
    ]
    penalties = [
        {
            "period": p["period"],
            "work_order": p.get("work_order"),
            "ticket_id": p.get("ticket_id"),
            "commitment": p.get("commitment"),
            "kind": p["kind"],
            "amount": p["amount"],
            "currency": p["currency"],
            "reason": p["reason"],
        }
        for p in review.get("penalties", [])
    ]
    excluded = [
        {
            "period": e["period"],
            "work_order": e.get("work_order"),
            "ticket_id": e.get("ticket_id"),
            "commitment": e.get("commitment"),
            "reason": e["reason"],
        }
        for e in review.get("excluded", [])
    ]
    exemptions = review.get("exemptions") or {}
    agreement = review.get("agreement") or {}
    return {
        "agreement": {k: agreement.get(k) for k in ("key", "title", "kind", "version", "provider", "customer")},
        "from": review["from"],
        "to": review["to"],
        "as_of": review["as_of"],
        "billing": review.get("billing") or {},
        "periods": periods,
        "commitments": commitments,
        "exemptions": {
            "pause_reasons": list(exemptions.get("pause_reasons") or []),
            "force_majeure": list(exemptions.get("force_majeure") or []),
        },
        "penalties": penalties,
        "excluded": excluded,
        "totals": dict(review.get("totals") or {}),
    }


def _checked(agreement: str | None, month: str | None) -> tuple[str | None, str | None]:
    if agreement is not None and agreement != "" and not AGREEMENT_KEY.match(agreement):
        raise PageError(422, "query.agreement: an agreement key (a-z, 0-9, - and _)")
    if month is not None and month != "" and not MONTH.match(month):
        raise PageError(422, "query.month: a month as YYYY-MM")
    return agreement or None, month or None


def _billing_zone(choice: AgreementChoice | None, fallback: ZoneInfo) -> ZoneInfo:
    if choice is None:
        return fallback
    try:
        return ZoneInfo(choice.billing_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return fallback


async def _period(
    request: Request, me: SessionRow, agreement: str | None, month: str | None
) -> tuple[list[AgreementChoice], AgreementChoice | None, str, list[tuple[str, str]]]:
    """The agreements to choose from, the chosen one, the month, and the review's `from`/`to`."""
    agreement, month = _checked(agreement, month)
    listed = await upstream(request, me, "/v1/agreements", [("limit", str(AGREEMENTS_LISTED))])
    choices = agreement_choices(listed["items"])
    chosen = next((c for c in choices if c.key == agreement), None) if agreement else next(iter(choices), None)
    if agreement and chosen is None:
        raise PageError(404, f"query.agreement: no agreement {agreement!r}")
    tz = _billing_zone(chosen, zone(request))
    month = month or datetime.now(tz).strftime("%Y-%m")
    start, end = month_window(month, tz)
    return choices, chosen, month, [("from", start.isoformat()), ("to", end.isoformat())]


async def review_data(request: Request, me: SessionRow, agreement: str | None, month: str | None) -> dict[str, Any]:
    choices, chosen, month, window = await _period(request, me, agreement, month)
    review = None
    if chosen is not None:
        review = review_view(await upstream(request, me, f"/v1/reports/agreements/{chosen.key}", window))
    return {
        "agreements": [{"key": c.key, "title": c.title, "kind": c.kind, "version": c.version} for c in choices],
        "agreement": chosen.key if chosen else "",
        "month": month,
        "billing_timezone": chosen.billing_timezone if chosen else "",
        "review": review,
        "downloads": {fmt: f"/console/review.{fmt}?agreement={chosen.key}&month={month}" for fmt in EXPORTS}
        if chosen
        else {},
    }


@router.get("/review")
async def review_page(
    request: Request,
    me: SignedIn,
    agreement: Annotated[str | None, Query()] = None,
    month: Annotated[str | None, Query()] = None,
) -> Response:
    data = await review_data(request, me, agreement, month)
    return render(request, "review.html", {**user_context(me), **data})


@router.get("/review.json")
async def review_json(
    request: Request,
    me: SignedIn,
    agreement: Annotated[str | None, Query()] = None,
    month: Annotated[str | None, Query()] = None,
) -> Response:
    """The review page's JSON twin."""
    return JSONResponse(await review_data(request, me, agreement, month))


@router.get("/review.{fmt}")
async def review_download(
    request: Request,
    me: SignedIn,
    fmt: str,
    agreement: Annotated[str, Query()],
    month: Annotated[str, Query()],
) -> Response:
    """The API's export of the review (PDF, XLSX, CSV), streamed through with a filename of the console's."""
    if fmt not in EXPORTS:
        raise PageError(404, f"path: no export .{fmt} (one of {', '.join(EXPORTS)})")
    _, chosen, month_, window = await _period(request, me, agreement, month)
    assert chosen is not None  # an agreement was named: _period found it or raised
    try:
        answer = await gateway_of(request).open_download(
            f"/v1/reports/agreements/{chosen.key}", me.api_key, window, EXPORTS[fmt]
        )
    except GatewayError as err:
        if err.status == 401:
            raise SignInRequired from None
        raise PageError(err.status, err.detail) from None
    headers = {"Content-Disposition": f'attachment; filename="{download_name(chosen.key, month_, fmt)}"'}
    return StreamingResponse(
        answer.aiter_bytes(),
        media_type=answer.headers.get("content-type", EXPORTS[fmt]),
        headers=headers,
        background=BackgroundTask(answer.aclose),
    )
