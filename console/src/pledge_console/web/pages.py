"""The console's pages: sign-in, status with drill-down, a ticket's timeline, the alerts inbox.

Every figure comes from the gateway's public API, called with the session's own key (the scopes of the
account's role); every page is a Jinja2 template (autoescaped); every POST carries the CSRF token.
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pledge_common.db import SessionDep
from pledge_common.scopes import Scope

from pledge_console import charts
from pledge_console.accounts import service
from pledge_console.accounts.limiter import SignInLimiter
from pledge_console.accounts.repository import SessionRow
from pledge_console.accounts.rules import MAX_TOKEN
from pledge_console.clients.gateway import GatewayClient, GatewayError
from pledge_console.config import Settings
from pledge_console.i18n import LANG_COOKIE, LANGUAGES, STATES, Translator, pick_language
from pledge_console.web.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    client_address,
    is_https,
    new_token,
    read_form,
    safe_next,
    same_token,
)

router = APIRouter(prefix="/console", include_in_schema=False)
ROW_CHOICES = {"process_node": ("process", "node"), "department": ("department",), "segment": ("segment",)}
ALERT_STATES = ("open", "acknowledged", "resolved")
ALERT_LEVELS = ("prewarning", "acceptable", "warning", "page", "ticket")  # page, ticket: error-budget burn
# what a runs page may pass on to /v1/reports/status/runs (a cell's link holds only these)
RUN_PARAMS = frozenset(
    {
        "as_of",
        "from",
        "to",
        "agreement",
        "process",
        "node",
        "segment",
        "department",
        "position",
        "source",
        "commitment",
        "scope",
        "ticket_id",
        "state",
        "cursor",
        "limit",
    }
)


class SignInRequired(Exception):
    """No valid session: pages redirect to the sign-in page, JSON twins answer 401."""


class PageError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def templates(request: Request) -> Jinja2Templates:
    found: Jinja2Templates = request.app.state.templates
    return found


def lang_of(request: Request) -> str:
    return pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def zone(request: Request) -> ZoneInfo:
    settings: Settings = request.app.state.settings
    return ZoneInfo(settings.timezone)


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    t = Translator(lang_of(request))
    tz = zone(request)

    def local(value: Any) -> str:
        if not value:
            return ""
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(tz)
        return moment.strftime("%Y-%m-%d %H:%M")

    base = {"t": t, "lang": t.lang, "local": local, "path": request.url.path, "query": request.url.query}
    return templates(request).TemplateResponse(request, name, {**base, **context}, status_code=status)


async def signed_in(request: Request, session: SessionDep) -> SessionRow:
    row = await service.current(session, request.cookies.get(SESSION_COOKIE))
    if row is None:
        raise SignInRequired
    return row


SignedIn = Annotated[SessionRow, Depends(signed_in)]


def gateway_of(request: Request) -> GatewayClient:
    client: GatewayClient = request.app.state.gateway
    return client


async def upstream(request: Request, me: SessionRow, path: str, params: Any = None) -> Any:
    try:
        return await gateway_of(request).get(path, me.api_key, params)
    except GatewayError as err:
        if err.status == 401:
            raise SignInRequired from None  # the session's key expired or was revoked
        raise PageError(err.status, err.detail) from None


def user_context(me: SessionRow) -> dict[str, Any]:
    return {"me": me.account, "csrf": me.csrf_token, "can_manage": me.may(Scope.alerts_manage)}


# ---- sign-in ---------------------------------------------------------------------------------------------


def _sign_in_page(request: Request, error: str = "", status: int = 200, username: str = "") -> HTMLResponse:
    token = request.cookies.get(CSRF_COOKIE) or new_token()
    response = render(
        request,
        "sign_in.html",
        {"csrf": token, "error": error, "username": username, "next": safe_next(request.query_params.get("next"))},
        status,
    )
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=is_https(request), path="/console")
    return response


@router.get("/sign-in")
async def sign_in_form(request: Request) -> Response:
    return _sign_in_page(request)


@router.post("/sign-in")
async def sign_in(request: Request, session: SessionDep) -> Response:
    t = Translator(lang_of(request))
    form = await read_form(request)
    if form is None or not same_token(form.get("csrf"), request.cookies.get(CSRF_COOKIE)):
        return _sign_in_page(request, t("csrf"), 403)
    username = form.get("username", "").strip().lower()[:64]
    password = form.get("password", "")
    address = client_address(request)
    limiter: SignInLimiter = request.app.state.sign_in_limiter
    wait = limiter.retry_after(username, address)
    if wait:
        refused = _sign_in_page(request, t("too_many", seconds=wait), 429, username)
        refused.headers["Retry-After"] = str(wait)
        return refused
    account = await service.authenticate(session, username, password)
    if account is None:
        limiter.failed(username, address)
        return _sign_in_page(request, t("bad_credentials"), 401, username)
    limiter.succeeded(username, address)
    settings: Settings = request.app.state.settings
    try:
        opened = await service.open_session(
            session, gateway_of(request), account, timedelta(seconds=settings.session_seconds)
        )
    except GatewayError as err:
        raise PageError(503 if err.status >= 500 else 502, err.detail) from None
    return _signed_in(request, opened, form.get("next"))


def _signed_in(request: Request, opened: service.NewSession, next_: str | None) -> Response:
    """To the page asked for, with the session's cookie (HttpOnly, SameSite=Strict, lasting as the session)."""
    response = RedirectResponse(safe_next(next_), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        opened.token,
        max_age=max(1, int((opened.expires_at - datetime.now(UTC)).total_seconds())),
        httponly=True,
        samesite="strict",
        secure=is_https(request),
        path="/console",
    )
    response.delete_cookie(CSRF_COOKIE, path="/console", httponly=True, samesite="strict")
    return response


TOKEN_SIGN_IN = "(token)"  # the limiter's account name for sign-ins with a token: rationed per address


@router.post("/session/token")
async def sign_in_with_token(request: Request, session: SessionDep) -> Response:
    """Sign in with a user token of the gateway's JWT issuer: the gateway verifies it and says whose it is."""
    t = Translator(lang_of(request))
    form = await read_form(request)
    if form is None or not same_token(form.get("csrf"), request.cookies.get(CSRF_COOKIE)):
        return _sign_in_page(request, t("csrf"), 403)
    user_token = form.get("token", "").strip()
    user_token = user_token.removeprefix("Bearer ").strip()
    address = client_address(request)
    limiter: SignInLimiter = request.app.state.sign_in_limiter
    wait = limiter.retry_after(TOKEN_SIGN_IN, address)
    if wait:
        refused = _sign_in_page(request, t("too_many", seconds=wait), 429)
        refused.headers["Retry-After"] = str(wait)
        return refused
    if not user_token or len(user_token) > MAX_TOKEN:
        limiter.failed(TOKEN_SIGN_IN, address)
        return _sign_in_page(request, t("bad_token", detail=t("not_a_user_token")), 401)
    settings: Settings = request.app.state.settings
    try:
        opened = await service.open_token_session(
            session, gateway_of(request), user_token, timedelta(seconds=settings.session_seconds)
        )
    except GatewayError as err:
        if err.status == 401:
            limiter.failed(TOKEN_SIGN_IN, address)
            return _sign_in_page(request, t("bad_token", detail=err.detail), 401)
        if err.status == 403:
            limiter.failed(TOKEN_SIGN_IN, address)
            return _sign_in_page(request, t("token_no_scope"), 403)
        if err.status == 429:  # the gateway rations failed authentications from the console's address too
            limiter.failed(TOKEN_SIGN_IN, address)
            return _sign_in_page(request, t("bad_token", detail=err.detail), 429)
        raise PageError(503 if err.status >= 500 else 502, err.detail) from None
    if isinstance(opened, str):
        limiter.failed(TOKEN_SIGN_IN, address)
        return _sign_in_page(request, t("bad_token", detail=t(opened)), 403 if opened == "token_no_scope" else 401)
    return _signed_in(request, opened, form.get("next"))


@router.post("/sign-out")
async def sign_out(request: Request, session: SessionDep, me: SignedIn) -> Response:
    form = await read_form(request)
    if form is None or not same_token(form.get("csrf"), me.csrf_token):
        raise PageError(403, Translator(lang_of(request))("csrf"))
    token = request.cookies.get(SESSION_COOKIE, "")
    try:
        await service.close_session(session, gateway_of(request), token)
    except GatewayError as err:
        if err.status != 404:
            raise PageError(502, err.detail) from None
    response = RedirectResponse("/console/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/console", httponly=True, samesite="strict")
    return response


@router.get("/lang")
async def switch_language(
    to: Annotated[str, Query()], next_: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    """A language choice is no state change worth a CSRF token: a link, kept a year in a cookie."""
    if to not in LANGUAGES:
        raise PageError(422, f"query.to: one of {', '.join(LANGUAGES)}")
    response = RedirectResponse(safe_next(next_), status_code=303)
    response.set_cookie(LANG_COOKIE, to, max_age=365 * 86400, samesite="strict", path="/console")
    return response


@router.get("")
@router.get("/")
async def home() -> Response:
    return RedirectResponse("/console/status", status_code=303)


# ---- status ----------------------------------------------------------------------------------------------


def month_window(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[first day 00:00, next month's first day 00:00) in the console's time zone."""
    try:
        year, number = (int(p) for p in month.split("-"))
        start = datetime(year, number, 1, tzinfo=tz)
    except ValueError:
        raise PageError(422, "query.month: a month as YYYY-MM") from None
    end = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=tz)
    return start, end


def console_link(api_link: str) -> str:
    """A cell's runs link (`/v1/reports/status/runs?…`) as the console's runs page."""
    return "/console/runs?" + urlsplit(api_link).query


async def status_data(
    request: Request, me: SessionRow, month: str | None, as_of: str | None, rows: str, department: str | None
) -> dict[str, Any]:
    tz = zone(request)
    if rows not in ROW_CHOICES:
        raise PageError(422, f"query.rows: one of {', '.join(ROW_CHOICES)}")
    params: list[tuple[str, str]] = [("group_by", g) for g in ROW_CHOICES[rows]]
    if as_of:
        try:
            instant = datetime.fromisoformat(as_of)
        except ValueError:
            raise PageError(422, "query.as_of: a date and time") from None
        instant = instant if instant.tzinfo else instant.replace(tzinfo=tz)
        params.append(("as_of", instant.isoformat()))
    else:
        month = month or datetime.now(tz).strftime("%Y-%m")
        start, end = month_window(month, tz)
        params += [("from", start.isoformat()), ("to", end.isoformat())]
    department = me.account.department if department is None else department
    if department:
        params.append(("department", department))
    report = await upstream(request, me, "/v1/reports/status", params)
    table = []
    for row in [*report["rows"], *report["totals"]]:
        total = int(row["total"]) or 0
        cells = [
            {
                "state": s,
                "count": row["counts"].get(s, 0),
                "share": (row["counts"].get(s, 0) / total) if total else None,
                "link": console_link(row["links"][s]) if s in row.get("links", {}) else None,
            }
            for s in STATES
        ]
        table.append({"group": row["group"], "population": row["population"], "total": total, "cells": cells})
    # the service commitments (availability, count, frequency, clause): each kind its own population, apart
    services = [
        {
            "commitment": row["group"].get("commitment"),
            "service": row["group"].get("service"),
            "population": row["population"],
            "total": int(row["total"]),
            "exempted": int(row.get("exempted") or 0),
            "cells": [
                {"state": s, "count": row["counts"].get(s, 0),
                 "share": row["counts"].get(s, 0) / int(row["total"]) if int(row["total"]) else None}
                for s in STATES
            ],
        }
        for row in report.get("services", [])
    ]  # fmt: skip
    return {
        "month": month or "",
        "as_of": as_of or "",
        "rows": rows,
        "department": department or "",
        "columns": ROW_CHOICES[rows],
        "table": table,
        "totals_from": len(report["rows"]),
        "services": services,
        "report_as_of": report["as_of"],
    }


@router.get("/status")
async def status_page(
    request: Request,
    me: SignedIn,
    month: Annotated[str | None, Query()] = None,
    as_of: Annotated[str | None, Query()] = None,
    rows: Annotated[str, Query()] = "process_node",
    department: Annotated[str | None, Query()] = None,
) -> Response:
    data = await status_data(request, me, month, as_of, rows, department)
    return render(request, "status.html", {**user_context(me), **data, "states": STATES})


@router.get("/status.json")
async def status_json(
    request: Request,
    me: SignedIn,
    month: Annotated[str | None, Query()] = None,
    as_of: Annotated[str | None, Query()] = None,
    rows: Annotated[str, Query()] = "process_node",
    department: Annotated[str | None, Query()] = None,
) -> Response:
    return JSONResponse(await status_data(request, me, month, as_of, rows, department))


# ---- runs and a ticket's timeline ------------------------------------------------------------------------


@router.get("/runs")
async def runs_page(request: Request, me: SignedIn) -> Response:
    params = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True)]
    unknown = sorted({k for k, _ in params} - RUN_PARAMS)
    if unknown:
        raise PageError(422, f"query.{unknown[0]}: not a filter of the runs list")
    page = await upstream(request, me, "/v1/reports/status/runs", params)
    next_link = None
    if page.get("next_cursor"):
        kept = [(k, v) for k, v in params if k != "cursor"]
        next_link = "/console/runs?" + urlencode([*kept, ("cursor", page["next_cursor"])])
    state = next((v for k, v in params if k == "state"), None)
    return render(
        request,
        "runs.html",
        {**user_context(me), "runs": page["items"], "next_link": next_link, "state": state, "filters": params},
    )


@router.get("/tickets/{ticket_id}")
async def ticket_page(request: Request, me: SignedIn, ticket_id: uuid.UUID) -> Response:
    page = await upstream(
        request, me, "/v1/reports/status/runs", [("ticket_id", str(ticket_id)), ("scope", "all"), ("limit", "500")]
    )
    runs = sorted(page["items"], key=lambda r: (r.get("kind") == "ticket", r.get("started_at") or "~"))
    if not runs:
        raise PageError(404, Translator(lang_of(request))("not_found"))
    tz = zone(request)
    e2e = Translator(lang_of(request))("end_to_end")
    chart = charts.timeline(
        runs,
        datetime.now(UTC),
        lambda r: r.get("node") or e2e,
        lambda moment: moment.astimezone(tz).strftime("%m-%d %H:%M"),
    )
    return render(
        request, "ticket.html", {**user_context(me), "runs": runs, "chart": chart, "ticket_id": str(ticket_id)}
    )


# ---- alerts ----------------------------------------------------------------------------------------------


async def alerts_data(
    request: Request, me: SessionRow, state: str, level: str | None, department: str | None
) -> dict[str, Any]:
    if state not in ALERT_STATES:
        raise PageError(422, f"query.state: one of {', '.join(ALERT_STATES)}")
    if level and level not in ALERT_LEVELS:
        raise PageError(422, f"query.level: one of {', '.join(ALERT_LEVELS)}")
    department = me.account.department if department is None else department
    params: list[tuple[str, str]] = [("state", state), ("limit", "500")]
    if level:
        params.append(("level", level))
    if department:
        params.append(("department", department))
    page = await upstream(request, me, "/v1/alerts", params)
    items = page["items"]
    summary: dict[str, dict[str, int]] = {}
    for alert in items:
        counts = summary.setdefault(alert.get("department") or "—", dict.fromkeys(ALERT_LEVELS, 0))
        counts[alert["level"]] = counts.get(alert["level"], 0) + 1
    return {
        "state": state,
        "level": level or "",
        "department": department or "",
        "alerts": items,
        "summary": dict(sorted(summary.items())),
        "levels": ALERT_LEVELS,
        "more": page.get("next_cursor") is not None,
        "updated_at": datetime.now(UTC).isoformat(),
    }


@router.get("/alerts")
async def alerts_page(
    request: Request,
    me: SignedIn,
    state: Annotated[str, Query()] = "open",
    level: Annotated[str | None, Query()] = None,
    department: Annotated[str | None, Query()] = None,
) -> Response:
    data = await alerts_data(request, me, state, level, department)
    return render(request, "alerts.html", {**user_context(me), **data, "alert_states": ALERT_STATES})


@router.get("/alerts.json")
async def alerts_json(
    request: Request,
    me: SignedIn,
    state: Annotated[str, Query()] = "open",
    level: Annotated[str | None, Query()] = None,
    department: Annotated[str | None, Query()] = None,
) -> Response:
    """The inbox's JSON twin (polled by alerts.js)."""
    return JSONResponse(await alerts_data(request, me, state, level, department))


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge(request: Request, me: SignedIn, alert_id: uuid.UUID) -> Response:
    t = Translator(lang_of(request))
    form = await read_form(request)
    if form is None or not same_token(form.get("csrf"), me.csrf_token):
        raise PageError(403, t("csrf"))
    if not me.may(Scope.alerts_manage):
        raise PageError(403, t("forbidden"))
    try:
        await gateway_of(request).post(f"/v1/alerts/{alert_id}/acknowledge", me.api_key, {})
    except GatewayError as err:
        if err.status == 401:
            raise SignInRequired from None
        raise PageError(err.status, err.detail) from None
    return RedirectResponse(safe_next(form.get("next") or "/console/alerts"), status_code=303)
