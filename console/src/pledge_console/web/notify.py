"""Notifications: the contacts, channels and routing rules of evaluation-svc's notifier, its delivery log and
its report subscriptions (docs/notifications.md), over the public API with the session's key.

Every page and form needs `alerts:manage` (the API's own scope for all of it, reads included): a session
without it gets 403 before anything is asked upstream. A channel's URL and secret are write-only: the form
never shows them back, and the list shows what the API answers (the URL's origin, `has_secret`). A 422 of the
API is shown next to the field its problem names; what names no field of the form is shown above it.
"""

import asyncio
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pledge_common.scopes import Scope

from pledge_console.accounts.repository import SessionRow
from pledge_console.clients.gateway import GatewayError
from pledge_console.i18n import Translator
from pledge_console.web.pages import (
    PageError,
    SignedIn,
    SignInRequired,
    gateway_of,
    lang_of,
    render,
    upstream,
    user_context,
)
from pledge_console.web.security import read_form, same_token

router = APIRouter(prefix="/console/notifications", include_in_schema=False)

LANGUAGES = ("zh", "en")
CHANNEL_KINDS = ("email", "wecom", "dingtalk", "feishu", "slack", "teams", "webhook")
MESSAGE_STATUSES = ("queued", "retrying", "sent", "failed", "skipped")
RULE_LEVELS = ("prewarning", "acceptable", "warning", "page", "ticket")
TABS = ("contacts", "channels", "rules", "log", "reports")
LISTED = 200  # one page of contacts, channels, rules or subscriptions on a page
LOG_PAGE = 50
MAX_CURSOR = 500
# what a redirect after a change may say (`?done=`): a closed list, never text of the request
DONE = frozenset({"created", "deleted", "enabled", "disabled", "send_queued"})
LIST_SPLIT = re.compile(r"[,\n\uff0c\u3001]+")  # also the full-width comma and the enumeration comma

CONTACT_FIELDS = ("department", "position", "name", "email", "chat_handle", "language")
CHANNEL_FIELDS = ("kind", "name", "url", "secret", "language", "enabled")
RULE_FIELDS = (
    "name",
    "departments",
    "positions",
    "processes",
    "nodes",
    "segments",
    "levels",
    "channel_ids",
    "contact_ids",
    "responsible",
    "quiet_calendar",
    "escalate_after",
    "escalate_to_department",
    "escalate_to_position",
    "escalate_levels",
    "digest_every",
    "enabled",
)
FORM_WIDE = "_form"  # a message that names no field of the form


@dataclass
class Built:
    """A form read into the API's body, or the messages of the fields it could not read (by form field)."""

    body: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _text(form: Mapping[str, str], name: str, limit: int = 2000) -> str:
    return form.get(name, "").strip()[:limit]


def _optional(form: Mapping[str, str], name: str) -> str | None:
    return _text(form, name) or None


def _checked(form: Mapping[str, str], name: str) -> bool:
    return form.get(name, "") in {"on", "true", "1"}


def split_list(value: str) -> list[str]:
    """`a, b` or one per line (Chinese commas too) → `["a", "b"]`; blanks dropped, order and first kept."""
    seen: dict[str, None] = {}
    for part in LIST_SPLIT.split(value):
        if part.strip():
            seen.setdefault(part.strip(), None)
    return list(seen)


def _picked(form: Mapping[str, str], prefix: str) -> list[str]:
    """The ticked boxes named `<prefix><value>`, in the form's order."""
    return [name[len(prefix) :] for name, value in form.items() if name.startswith(prefix) and value]


def contact_body(form: Mapping[str, str]) -> Built:
    """The contact form → the body of `POST /v1/contacts` (blank optional fields are null)."""
    built = Built()
    for name in ("department", "name"):
        if not _text(form, name):
            built.errors[name] = "required"
    language = _text(form, "language") or "zh"
    if language not in LANGUAGES:
        built.errors["language"] = f"one of {', '.join(LANGUAGES)}"
    built.body = {
        "department": _text(form, "department"),
        "position": _optional(form, "position"),
        "name": _text(form, "name"),
        "email": _optional(form, "email"),
        "chat_handle": _optional(form, "chat_handle"),
        "language": language,
    }
    return built


def channel_body(form: Mapping[str, str]) -> Built:
    """The channel form → the body of `POST /v1/channels`; a blank URL or secret is left out, not sent empty."""
    built = Built()
    kind = _text(form, "kind")
    if kind not in CHANNEL_KINDS:
        built.errors["kind"] = f"one of {', '.join(CHANNEL_KINDS)}"
    if not _text(form, "name"):
        built.errors["name"] = "required"
    language = _text(form, "language") or "zh"
    if language not in LANGUAGES:
        built.errors["language"] = f"one of {', '.join(LANGUAGES)}"
    body: dict[str, Any] = {"kind": kind, "name": _text(form, "name"), "language": language}
    body["enabled"] = _checked(form, "enabled")
    if url := _text(form, "url", 4000):
        if kind == "email":
            built.errors["url"] = "an email channel takes no URL"
        body["url"] = url
    elif kind not in ("", "email") and kind in CHANNEL_KINDS:
        built.errors["url"] = "required for a chat or webhook channel"
    if secret := form.get("secret", "").strip():  # write-only: taken as typed (not cut), never shown back
        body["secret"] = secret
    built.body = body
    return built


def _uuids(values: Iterable[str], name: str, built: Built) -> list[str]:
    kept = []
    for value in values:
        try:
            kept.append(str(uuid.UUID(value)))
        except ValueError:
            built.errors[name] = f"not an id: {value[:40]!r}"
    return kept


def rule_body(form: Mapping[str, str]) -> Built:
    """The rule form → the body of `POST /v1/notification-rules`.

    Lists are typed comma-separated (or one per line); levels, channels and contacts are ticked boxes named
    `level.<level>`, `channel.<id>`, `contact.<id>`; blank optional fields are left to the API's defaults.
    """
    built = Built()
    if not _text(form, "name"):
        built.errors["name"] = "required"
    body: dict[str, Any] = {"name": _text(form, "name")}
    for name in ("departments", "positions", "processes", "nodes", "segments"):
        body[name] = split_list(_text(form, name, 8000))
    levels = _picked(form, "level.")
    if unknown := [lv for lv in levels if lv not in RULE_LEVELS]:
        built.errors["levels"] = f"not a level: {unknown[0][:40]!r}"
    body["levels"] = [lv for lv in RULE_LEVELS if lv in levels]
    body["channel_ids"] = _uuids(_picked(form, "channel."), "channel_ids", built)
    if not body["channel_ids"] and "channel_ids" not in built.errors:
        built.errors["channel_ids"] = "tick at least one channel"
    body["contact_ids"] = _uuids(_picked(form, "contact."), "contact_ids", built)
    body["responsible"] = _checked(form, "responsible")
    body["enabled"] = _checked(form, "enabled")
    for name in ("quiet_calendar", "escalate_after", "escalate_to_department", "escalate_to_position", "digest_every"):
        if value := _optional(form, name):
            body[name] = value
    if levels_up := _text(form, "escalate_levels"):
        if not levels_up.isdigit() or not 1 <= int(levels_up) <= 5:
            built.errors["escalate_levels"] = "a whole number from 1 to 5"
        else:
            body["escalate_levels"] = int(levels_up)
    built.body = body
    return built


def field_messages(errors: Iterable[Mapping[str, str]], fields: Iterable[str], detail: str = "") -> dict[str, str]:
    """A problem's `errors` → a message per form field: `email` (the API names a body's fields bare) or
    `body.email` → `email`, `channel_ids.0` → `channel_ids`; what names no field of the form (`body`,
    `header.Idempotency-Key`, `query.…`…) goes to `_form`, with the name it gave."""
    known = set(fields)
    found: dict[str, str] = {}
    for error in errors:
        named = str(error.get("field", ""))
        parts = named.removeprefix("body.").split(".")
        key = parts[0] if parts[0] in known else FORM_WIDE
        message = str(error.get("message", "")) or detail
        if key == FORM_WIDE and named:
            message = f"{named}: {message}"
        found[key] = f"{found[key]}; {message}" if key in found else message
    if not found and detail:
        found[FORM_WIDE] = detail
    return found


def idempotency_key(form: Mapping[str, str]) -> str:
    """The form's own key (made when the form was drawn: a second submission is the same request)."""
    try:
        return str(uuid.UUID(form.get("idem", "")))
    except ValueError:
        return str(uuid.uuid4())


def done_message(t: Translator, done: str | None) -> str:
    return t(f"notify_done_{done}") if done in DONE else ""


# ---- plumbing ------------------------------------------------------------------------------------------------


def _may_manage(request: Request, me: SessionRow) -> None:
    if not me.may(Scope.alerts_manage):
        raise PageError(403, Translator(lang_of(request))("forbidden"))


async def _form_of(request: Request, me: SessionRow) -> dict[str, str]:
    _may_manage(request, me)
    form = await read_form(request)
    if form is None or not same_token(form.get("csrf"), me.csrf_token):
        raise PageError(403, Translator(lang_of(request))("csrf"))
    return form


async def _call(request: Request, me: SessionRow, method: str, path: str, body: Any = None, idem: str = "") -> Any:
    gateway = gateway_of(request)
    try:
        if method == "POST":
            return await gateway.post(path, me.api_key, body, idem or None)
        if method == "PATCH":
            return await gateway.patch(path, me.api_key, body)
        return await gateway.delete(path, me.api_key)
    except GatewayError as err:
        if err.status == 401:
            raise SignInRequired from None
        raise


async def _created(
    request: Request, me: SessionRow, path: str, built: Built, form: Mapping[str, str], fields: Iterable[str]
) -> bool:
    """POSTs a form's body when the console found nothing wrong with it; True once created. The API's refusal
    (400, 409, 422) lands in `built.errors`, next to the fields it names; anything else is the page's error."""
    if built.errors:
        return False
    try:
        await _call(request, me, "POST", path, built.body, idempotency_key(form))
    except GatewayError as err:
        if err.status not in (400, 409, 422):
            raise PageError(err.status, err.detail) from None
        built.errors = field_messages(err.errors, fields, err.detail)
        return False
    return True


def _back(tab: str, done: str) -> Response:
    return RedirectResponse(f"/console/notifications/{tab}?{urlencode({'done': done})}", status_code=303)


def _context(request: Request, me: SessionRow, tab: str, done: str | None) -> dict[str, Any]:
    return {
        **user_context(me),
        "tab": tab,
        "tabs": TABS,
        "done": done_message(Translator(lang_of(request)), done),
        "idem": str(uuid.uuid4()),
        "errors": {},
        "values": {},
    }


async def _listed(request: Request, me: SessionRow, path: str) -> list[dict[str, Any]]:
    page = await upstream(request, me, path, [("limit", str(LISTED))])
    return list(page["items"])


# ---- contacts --------------------------------------------------------------------------------------------------


async def contacts_data(request: Request, me: SessionRow, cursor: str | None) -> dict[str, Any]:
    _may_manage(request, me)
    params = [("limit", str(LISTED))]
    if cursor:
        params.append(("cursor", cursor[:MAX_CURSOR]))
    page = await upstream(request, me, "/v1/contacts", params)
    more = page.get("next_cursor")
    return {
        "contacts": page["items"],
        "next_link": f"/console/notifications/contacts?{urlencode({'cursor': more})}" if more else None,
    }


@router.get("")
@router.get("/")
async def notifications_home(request: Request, me: SignedIn) -> Response:
    _may_manage(request, me)
    return RedirectResponse("/console/notifications/contacts", status_code=303)


@router.get("/contacts")
async def contacts_page(
    request: Request,
    me: SignedIn,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR)] = None,
    done: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    data = await contacts_data(request, me, cursor)
    return render(request, "notify_contacts.html", {**_context(request, me, "contacts", done), **data})


@router.get("/contacts.json")
async def contacts_json(
    request: Request, me: SignedIn, cursor: Annotated[str | None, Query(max_length=MAX_CURSOR)] = None
) -> Response:
    return JSONResponse(await contacts_data(request, me, cursor))


@router.post("/contacts")
async def create_contact(request: Request, me: SignedIn) -> Response:
    form = await _form_of(request, me)
    built = contact_body(form)
    if await _created(request, me, "/v1/contacts", built, form, CONTACT_FIELDS):
        return _back("contacts", "created")
    data = await contacts_data(request, me, None)
    context = {**_context(request, me, "contacts", None), **data, "errors": built.errors, "values": form}
    return render(request, "notify_contacts.html", context, 422)


@router.post("/contacts/{contact_id}/delete")
async def delete_contact(request: Request, me: SignedIn, contact_id: uuid.UUID) -> Response:
    await _form_of(request, me)
    try:
        await _call(request, me, "DELETE", f"/v1/contacts/{contact_id}")
    except GatewayError as err:
        raise PageError(err.status, err.detail) from None  # 409: a rule still names it
    return _back("contacts", "deleted")


# ---- channels --------------------------------------------------------------------------------------------------


async def channels_data(request: Request, me: SessionRow) -> dict[str, Any]:
    _may_manage(request, me)
    return {"channels": await _listed(request, me, "/v1/channels"), "kinds": CHANNEL_KINDS}


@router.get("/channels")
async def channels_page(
    request: Request, me: SignedIn, done: Annotated[str | None, Query(max_length=40)] = None
) -> Response:
    data = await channels_data(request, me)
    return render(request, "notify_channels.html", {**_context(request, me, "channels", done), **data})


@router.get("/channels.json")
async def channels_json(request: Request, me: SignedIn) -> Response:
    return JSONResponse(await channels_data(request, me))


@router.post("/channels")
async def create_channel(request: Request, me: SignedIn) -> Response:
    form = await _form_of(request, me)
    built = channel_body(form)
    if await _created(request, me, "/v1/channels", built, form, CHANNEL_FIELDS):
        return _back("channels", "created")
    data = await channels_data(request, me)
    shown = {k: v for k, v in form.items() if k not in ("url", "secret")}  # write-only: never drawn back
    context = {**_context(request, me, "channels", None), **data, "errors": built.errors, "values": shown}
    return render(request, "notify_channels.html", context, 422)


async def _switch(request: Request, me: SessionRow, path: str, tab: str) -> Response:
    form = await _form_of(request, me)
    enabled = form.get("enabled")
    if enabled not in ("true", "false"):
        raise PageError(422, "body.enabled: true or false")
    try:
        await _call(request, me, "PATCH", path, {"enabled": enabled == "true"})
    except GatewayError as err:
        raise PageError(err.status, err.detail) from None
    return _back(tab, "enabled" if enabled == "true" else "disabled")


@router.post("/channels/{channel_id}/enabled")
async def switch_channel(request: Request, me: SignedIn, channel_id: uuid.UUID) -> Response:
    return await _switch(request, me, f"/v1/channels/{channel_id}", "channels")


# ---- rules -----------------------------------------------------------------------------------------------------


async def rules_data(request: Request, me: SessionRow) -> dict[str, Any]:
    _may_manage(request, me)
    rules, channels, contacts = await asyncio.gather(
        _listed(request, me, "/v1/notification-rules"),
        _listed(request, me, "/v1/channels"),
        _listed(request, me, "/v1/contacts"),
    )
    return {
        "rules": rules,
        "channels": channels,
        "contacts": contacts,
        "channel_names": {c["id"]: c["name"] for c in channels},
        "contact_names": {c["id"]: c["name"] for c in contacts},
        "levels": RULE_LEVELS,
    }


@router.get("/rules")
async def rules_page(
    request: Request, me: SignedIn, done: Annotated[str | None, Query(max_length=40)] = None
) -> Response:
    data = await rules_data(request, me)
    return render(request, "notify_rules.html", {**_context(request, me, "rules", done), **data})


@router.get("/rules.json")
async def rules_json(request: Request, me: SignedIn) -> Response:
    data = await rules_data(request, me)
    return JSONResponse({"rules": data["rules"], "levels": data["levels"]})


@router.post("/rules")
async def create_rule(request: Request, me: SignedIn) -> Response:
    form = await _form_of(request, me)
    built = rule_body(form)
    if await _created(request, me, "/v1/notification-rules", built, form, RULE_FIELDS):
        return _back("rules", "created")
    data = await rules_data(request, me)
    context = {**_context(request, me, "rules", None), **data, "errors": built.errors, "values": form}
    return render(request, "notify_rules.html", context, 422)


@router.post("/rules/{rule_id}/enabled")
async def switch_rule(request: Request, me: SignedIn, rule_id: uuid.UUID) -> Response:
    return await _switch(request, me, f"/v1/notification-rules/{rule_id}", "rules")


# ---- the delivery log ------------------------------------------------------------------------------------------


def log_query(status: str | None, channel: str | None, cursor: str | None) -> list[tuple[str, str]]:
    """The page's filters → the query of `GET /v1/notifications`; a value out of its list is a 422 naming it."""
    params = [("limit", str(LOG_PAGE))]
    if status:
        if status not in MESSAGE_STATUSES:
            raise PageError(422, f"query.status: one of {', '.join(MESSAGE_STATUSES)}")
        params.append(("status", status))
    if channel:
        try:
            params.append(("channel_id", str(uuid.UUID(channel))))
        except ValueError:
            raise PageError(422, "query.channel: a channel id") from None
    if cursor:
        params.append(("cursor", cursor[:MAX_CURSOR]))
    return params


async def log_data(
    request: Request, me: SessionRow, status: str | None, channel: str | None, cursor: str | None
) -> dict[str, Any]:
    _may_manage(request, me)
    params = log_query(status, channel, cursor)
    page = await upstream(request, me, "/v1/notifications", params)
    more = page.get("next_cursor")
    kept = {k: v for k, v in (("status", status), ("channel", channel)) if v}
    return {
        "messages": page["items"],
        "status": status or "",
        "channel": channel or "",
        "statuses": MESSAGE_STATUSES,
        "channels": await _listed(request, me, "/v1/channels"),
        "next_link": f"/console/notifications/log?{urlencode({**kept, 'cursor': more})}" if more else None,
        "first_link": f"/console/notifications/log?{urlencode(kept)}" if cursor else None,
    }


@router.get("/log")
async def log_page(
    request: Request,
    me: SignedIn,
    status: Annotated[str | None, Query(max_length=20)] = None,
    channel: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR)] = None,
) -> Response:
    data = await log_data(request, me, status, channel, cursor)
    return render(request, "notify_log.html", {**_context(request, me, "log", None), **data})


@router.get("/log.json")
async def log_json(
    request: Request,
    me: SignedIn,
    status: Annotated[str | None, Query(max_length=20)] = None,
    channel: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR)] = None,
) -> Response:
    data = await log_data(request, me, status, channel, cursor)
    return JSONResponse({k: v for k, v in data.items() if k != "channels"})


# ---- report subscriptions --------------------------------------------------------------------------------------


async def reports_data(request: Request, me: SessionRow) -> dict[str, Any]:
    _may_manage(request, me)
    channels = await _listed(request, me, "/v1/channels")
    subscriptions = await _listed(request, me, "/v1/report-subscriptions")
    return {
        "subscriptions": subscriptions,
        "channel_names": {c["id"]: c["name"] for c in channels},
        "send_keys": {s["id"]: str(uuid.uuid4()) for s in subscriptions},  # one request per button drawn
    }


@router.get("/reports")
async def reports_page(
    request: Request, me: SignedIn, done: Annotated[str | None, Query(max_length=40)] = None
) -> Response:
    data = await reports_data(request, me)
    return render(request, "notify_reports.html", {**_context(request, me, "reports", done), **data})


@router.get("/reports.json")
async def reports_json(request: Request, me: SignedIn) -> Response:
    return JSONResponse({"subscriptions": (await reports_data(request, me))["subscriptions"]})


@router.post("/reports/{subscription_id}/send")
async def send_report(request: Request, me: SignedIn, subscription_id: uuid.UUID) -> Response:
    form = await _form_of(request, me)
    try:
        await _call(
            request, me, "POST", f"/v1/report-subscriptions/{subscription_id}/send", None, idempotency_key(form)
        )
    except GatewayError as err:
        raise PageError(err.status, err.detail) from None
    return _back("reports", "send_queued")
