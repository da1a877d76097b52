"""Contacts, channels and routing rules (create, read, update, delete); the notifier loop: plan new alerts into
messages, escalate unacknowledged ones, send what is due; the message log."""

import asyncio
import base64
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiosmtplib
import httpx
from pledge_common.domain_metrics import NOTIFICATIONS, on_commit
from pledge_common.exports import PDF, XLSX, columns_of, xlsx_file
from pledge_common.pagination import decode_cursor, encode_cursor
from pledge_common.partitions import retention_horizon
from pledge_common.problems import Conflict, NotFound, invalid
from pledge_deadlines import Calendar
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from evaluation_svc.alerts.schemas import AlertPublic
from evaluation_svc.config import Settings
from evaluation_svc.exports.pdf import review_pdf
from evaluation_svc.exports.repository import governing_versions
from evaluation_svc.exports.respond import basename
from evaluation_svc.exports.rows import achievement_rows, rankings_rows, review_rows, status_rows
from evaluation_svc.insights import service as insights
from evaluation_svc.notify.email import Attachment, SmtpConfig, build_email, send_email
from evaluation_svc.notify.providers import chat_request, provider_error
from evaluation_svc.notify.repository import NotifyRepository
from evaluation_svc.notify.rules import (
    AlertFacts,
    ContactView,
    Language,
    Route,
    digest_window_end,
    escalation_target,
    next_escalation_at,
    next_monthly_run,
    previous_billing_period,
    previous_month,
    render_alert,
    render_digest,
    render_failure,
    render_report,
    responsible_contacts,
    route_matches,
    send_not_before,
)
from evaluation_svc.notify.schemas import (
    ChannelCreate,
    ChannelPage,
    ChannelPublic,
    ChannelUpdate,
    ContactCreate,
    ContactPage,
    ContactPublic,
    ContactUpdate,
    NotificationPage,
    NotificationPublic,
    RuleCreate,
    RulePage,
    RulePublic,
    RuleUpdate,
    ScheduleCreate,
    SchedulePage,
    SchedulePublic,
)
from evaluation_svc.reports.query import ReportQuery, build_query
from evaluation_svc.reports.repository import ReportFilter, ReportRepository
from evaluation_svc.reports.service import achievement_report, status_report
from evaluation_svc.rules.payloads import calendar_from_payload
from evaluation_svc.settlement.rules import Billing
from evaluation_svc.settlement.satisfaction import FeedbackClient
from evaluation_svc.settlement.service import Settling, agreement_named
from evaluation_svc.webhooks.service import retry_delay
from evaluation_svc.webhooks.targets import (
    Network,
    TargetRefused,
    delivery_client,
    parse_networks,
    post_checked,
    target_refused,
)

log = logging.getLogger("evaluation.notify")
EXCERPT = 500  # characters of a provider's answer kept in the log
RANKINGS_N, RANKINGS_MIN_SAMPLE = 5, 30  # a subscription's rankings: the route's defaults
# set while the notifier sends: chat webhook URLs carry their credential (a key, an access token, a hook id)
_SENDING: ContextVar[bool] = ContextVar("notify_sending", default=False)


def origin(url: str) -> str:
    """What may be shown of a chat webhook URL: its scheme and host (the rest is the group's credential)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"


class _HideChatUrls(logging.Filter):
    """httpx logs each request's URL at INFO; while the notifier sends, only the URL's origin is logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _SENDING.get() and isinstance(record.args, tuple) and len(record.args) >= 2:
            args = list(record.args)
            args[1] = origin(str(args[1]))
            record.args = tuple(args)
        return True


logging.getLogger("httpx").addFilter(_HideChatUrls())


def _networks(settings: Settings) -> list[Network]:
    return parse_networks(settings.webhook_allowed_networks, settings.webhook_allow_private)


def _page_after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    return decode_cursor(cursor, datetime.fromisoformat, uuid.UUID, field="query.cursor")


def _next(rows: list[dict[str, Any]], limit: int, desc: bool = False) -> str | None:
    return encode_cursor(rows[limit - 1]["created_at"], rows[limit - 1]["id"]) if len(rows) > limit else None


async def _found(repo: NotifyRepository, kind: str, item_id: uuid.UUID, *, for_update: bool = False) -> dict[str, Any]:
    row = await repo.get(kind, item_id, for_update=for_update)
    if row is None:
        raise NotFound(f"no {kind[:-1]} {item_id}")
    return row


# contacts -----------------------------------------------------------------------------------------


async def create_contact(session: AsyncSession, body: ContactCreate) -> ContactPublic:
    if body.email is None and body.chat_handle is None:
        raise invalid("body.email", "a contact needs an email address or a chat handle")
    row = await NotifyRepository(session).insert("contacts", {"id": uuid.uuid4(), **body.model_dump()})
    return ContactPublic(**row)


async def list_contacts(
    session: AsyncSession, department: str | None, position: str | None, cursor: str | None, limit: int
) -> ContactPage:
    rows = await NotifyRepository(session).page(
        "contacts", {"department": department, "position": position}, _page_after(cursor), limit + 1
    )
    return ContactPage(items=[ContactPublic(**r) for r in rows[:limit]], next_cursor=_next(rows, limit))


async def get_contact(session: AsyncSession, contact_id: uuid.UUID) -> ContactPublic:
    return ContactPublic(**await _found(NotifyRepository(session), "contacts", contact_id))


async def update_contact(session: AsyncSession, contact_id: uuid.UUID, body: ContactUpdate) -> ContactPublic:
    repo = NotifyRepository(session)
    row = await _found(repo, "contacts", contact_id, for_update=True)
    changes = body.model_dump(exclude_unset=True)
    for key in ("department", "name", "language"):
        if key in changes and changes[key] is None:
            raise invalid(f"body.{key}", "must not be null")
    merged = {**row, **changes}
    if merged["email"] is None and merged["chat_handle"] is None:
        raise invalid("body.email", "a contact needs an email address or a chat handle")
    if not changes:
        return ContactPublic(**row)
    return ContactPublic(**await repo.update("contacts", contact_id, changes))


async def delete_contact(session: AsyncSession, contact_id: uuid.UUID) -> None:
    repo = NotifyRepository(session)
    await _found(repo, "contacts", contact_id, for_update=True)
    if used := await repo.rules_using("contact_ids", contact_id):
        raise Conflict(f"contact {contact_id} is named by {used} routing rule(s); change or delete them first")
    await repo.delete("contacts", contact_id)


# channels -----------------------------------------------------------------------------------------


def _channel_public(row: Mapping[str, Any]) -> ChannelPublic:
    """A channel as answered: never its secret, and of its URL (a credential too) only the origin."""
    values = {k: v for k, v in row.items() if k not in ("secret", "url")}
    url = None if row["url"] is None else origin(row["url"])
    return ChannelPublic(**values, url=url, has_secret=row["secret"] is not None)


def _check_secret(kind: str, secret: str | None, field: str) -> None:
    if kind == "webhook":
        if secret is None:
            raise invalid(field, "a `webhook` channel needs its Standard Webhooks secret (`whsec_…`)")
        try:
            Webhook(secret)
        except Exception:
            raise invalid(field, "must be a Standard Webhooks secret: `whsec_` and base64") from None
    elif kind in ("wecom", "slack", "teams", "email") and secret is not None:
        raise invalid(field, f"a `{kind}` channel is not signed: its URL is its credential")


async def create_channel(session: AsyncSession, settings: Settings, body: ChannelCreate) -> ChannelPublic:
    if body.kind == "email":
        if body.url is not None:
            raise invalid("body.url", "an email channel has no URL: it sends to the routed contacts' addresses")
    else:
        if body.url is None:
            raise invalid("body.url", f"a `{body.kind}` channel needs its incoming webhook URL")
        if refused := await target_refused(body.url, _networks(settings)):
            raise invalid("body.url", refused)
    _check_secret(body.kind, body.secret, "body.secret")
    row = await NotifyRepository(session).insert("channels", {"id": uuid.uuid4(), **body.model_dump()})
    return _channel_public(row)


async def list_channels(session: AsyncSession, kind: str | None, cursor: str | None, limit: int) -> ChannelPage:
    rows = await NotifyRepository(session).page("channels", {"kind": kind}, _page_after(cursor), limit + 1)
    return ChannelPage(items=[_channel_public(r) for r in rows[:limit]], next_cursor=_next(rows, limit))


async def get_channel(session: AsyncSession, channel_id: uuid.UUID) -> ChannelPublic:
    return _channel_public(await _found(NotifyRepository(session), "channels", channel_id))


async def update_channel(
    session: AsyncSession, settings: Settings, channel_id: uuid.UUID, body: ChannelUpdate
) -> ChannelPublic:
    repo = NotifyRepository(session)
    row = await _found(repo, "channels", channel_id, for_update=True)
    changes = body.model_dump(exclude_unset=True)
    for key in ("name", "language", "enabled", "url", "secret"):
        if key in changes and changes[key] is None and not (key == "secret" and row["kind"] in ("dingtalk", "feishu")):
            raise invalid(f"body.{key}", "must not be null")
    if "url" in changes:
        if row["kind"] == "email":
            raise invalid("body.url", "an email channel has no URL")
        if refused := await target_refused(changes["url"], _networks(settings)):
            raise invalid("body.url", refused)
    if "secret" in changes:
        _check_secret(row["kind"], changes["secret"], "body.secret")
    if not changes:
        return _channel_public(row)
    return _channel_public(await repo.update("channels", channel_id, changes))


async def delete_channel(session: AsyncSession, channel_id: uuid.UUID) -> None:
    repo = NotifyRepository(session)
    await _found(repo, "channels", channel_id, for_update=True)
    if used := await repo.rules_using("channel_ids", channel_id):
        raise Conflict(f"channel {channel_id} is used by {used} routing rule(s); change or delete them first")
    await repo.delete("channels", channel_id)


# rules --------------------------------------------------------------------------------------------


async def create_rule(session: AsyncSession, body: RuleCreate) -> RulePublic:
    repo = NotifyRepository(session)
    for field, kind, ids in (
        ("channel_ids", "channels", body.channel_ids),
        ("contact_ids", "contacts", body.contact_ids),
    ):
        missing = set(ids) - await repo.existing_ids(kind, ids)
        if missing:
            raise invalid(f"body.{field}", f"no such {kind[:-1]}: {', '.join(sorted(map(str, missing)))}")
    if body.escalate_after is not None and body.escalate_after <= timedelta(0):
        raise invalid("body.escalate_after", "must be positive")
    if body.digest_every is not None and body.digest_every < timedelta(minutes=1):
        raise invalid("body.digest_every", "must be at least PT1M")
    if body.escalate_after is None and (body.escalate_to_department or body.escalate_to_position):
        raise invalid("body.escalate_after", "an escalation target needs `escalate_after`")
    if body.quiet_calendar is not None and not await repo.calendars([body.quiet_calendar]):
        raise invalid("body.quiet_calendar", f"no calendar {body.quiet_calendar!r} (calendars of commitment-svc)")
    if not body.responsible and not body.contact_ids:
        raise invalid("body.contact_ids", "a rule that does not tell the responsible contacts must name contacts")
    values = body.model_dump()
    values["channel_ids"] = list(dict.fromkeys(body.channel_ids))
    values["contact_ids"] = list(dict.fromkeys(body.contact_ids))
    return RulePublic(**await repo.insert("rules", {"id": uuid.uuid4(), **values}))


async def list_rules(session: AsyncSession, cursor: str | None, limit: int) -> RulePage:
    rows = await NotifyRepository(session).page("rules", {}, _page_after(cursor), limit + 1)
    return RulePage(items=[RulePublic(**r) for r in rows[:limit]], next_cursor=_next(rows, limit))


async def get_rule(session: AsyncSession, rule_id: uuid.UUID) -> RulePublic:
    return RulePublic(**await _found(NotifyRepository(session), "rules", rule_id))


async def update_rule(session: AsyncSession, rule_id: uuid.UUID, body: RuleUpdate) -> RulePublic:
    repo = NotifyRepository(session)
    row = await _found(repo, "rules", rule_id, for_update=True)
    changes = body.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None:
            raise invalid(f"body.{key}", "must not be null")
    if not changes:
        return RulePublic(**row)
    return RulePublic(**await repo.update("rules", rule_id, changes))


async def delete_rule(session: AsyncSession, rule_id: uuid.UUID) -> None:
    repo = NotifyRepository(session)
    await _found(repo, "rules", rule_id, for_update=True)
    await repo.delete("rules", rule_id)


# report schedules ---------------------------------------------------------------------------------


async def create_schedule(session: AsyncSession, body: ScheduleCreate, now: datetime) -> SchedulePublic:
    repo = NotifyRepository(session)
    try:
        ZoneInfo(body.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid("body.timezone", f"unknown time zone {body.timezone!r} (an IANA name: Asia/Shanghai)") from None
    missing = set(body.channel_ids) - await repo.existing_ids("channels", body.channel_ids)
    if missing:
        raise invalid("body.channel_ids", f"no such channel: {', '.join(sorted(map(str, missing)))}")
    if body.report == "review":
        if body.agreement is None:
            raise invalid("body.agreement", "a review names the agreement it reviews (its key or id)")
        if await ReportRepository(session).agreement(body.agreement) is None:
            raise invalid("body.agreement", f"no agreement {body.agreement}")
    elif body.agreement is not None:
        raise invalid("body.agreement", f"only a review names an agreement; the {body.report} report is a department's")
    fmt = body.format or ("pdf" if body.report == "review" else "xlsx")
    if fmt == "pdf" and body.report != "review":
        raise invalid("body.format", f"the {body.report} report is sent as xlsx; pdf is for an agreement's review")
    values = body.model_dump() | {"format": fmt, "channel_ids": list(dict.fromkeys(body.channel_ids))}
    values["next_run_at"] = next_monthly_run(now, body.day_of_month, body.at_time, body.timezone)
    return SchedulePublic(**await repo.insert("schedules", {"id": uuid.uuid4(), **values}))


async def list_schedules(session: AsyncSession, department: str | None, cursor: str | None, limit: int) -> SchedulePage:
    rows = await NotifyRepository(session).page("schedules", {"department": department}, _page_after(cursor), limit + 1)
    return SchedulePage(items=[SchedulePublic(**r) for r in rows[:limit]], next_cursor=_next(rows, limit))


async def get_schedule(session: AsyncSession, schedule_id: uuid.UUID) -> SchedulePublic:
    return SchedulePublic(**await _found(NotifyRepository(session), "schedules", schedule_id))


async def send_schedule_now(session: AsyncSession, schedule_id: uuid.UUID, now: datetime) -> SchedulePublic:
    """Make a subscription due now: the notifier sends the last month's report at its next round, then the
    subscription goes on monthly from now."""
    repo = NotifyRepository(session)
    row = await _found(repo, "schedules", schedule_id, for_update=True)
    if not row["enabled"]:
        raise Conflict(f"report subscription {schedule_id} is disabled")
    return SchedulePublic(**await repo.update("schedules", schedule_id, {"next_run_at": now}))


async def delete_schedule(session: AsyncSession, schedule_id: uuid.UUID) -> None:
    repo = NotifyRepository(session)
    await _found(repo, "schedules", schedule_id, for_update=True)
    await repo.delete("schedules", schedule_id)


@dataclass(frozen=True, slots=True)
class ReportFile:
    """A scheduled report built: the file attached, and the period it covers."""

    data: bytes
    filename: str
    media_type: str
    start: datetime
    end: datetime


async def _file_bytes(rows: list[Any], sheet: str) -> bytes:
    path = await xlsx_file(columns_of(rows), rows, sheet=sheet)
    try:
        return await asyncio.to_thread(Path(path).read_bytes)
    finally:
        os.unlink(path)


def _department_query(settings: Settings, department: str, start: datetime, end: datetime, timezone: str,
                      now: datetime, scope: str = "all") -> ReportQuery:  # fmt: skip
    return build_query(
        now=now, as_of=None, start=start, end=end, bucket=None, timezone=timezone, group_by=None,
        default_group=("process", "node"), flt=ReportFilter(department=[department], scope=scope), agreement=None,
        max_days=settings.report_max_days, rollup_timezone=settings.rollup_timezone,
        retained_from=retention_horizon(now, settings.retention_months),
    )  # fmt: skip


async def report_xlsx(session: AsyncSession, settings: Settings, report: str, department: str, start: datetime,
                      end: datetime, timezone: str, now: datetime) -> bytes:  # fmt: skip
    """A department's report over a period, as the XLSX export of `/v1/reports/status`, `/achievement` or
    `/rankings` (its positions, node runs: the route's default population) writes it."""
    if report == "rankings":
        q = _department_query(settings, department, start, end, timezone, now, scope="node")
        ranked = await insights.rankings(session, q, "position", RANKINGS_N, RANKINGS_MIN_SAMPLE)
        return await _file_bytes(rankings_rows(ranked), report)
    q = _department_query(settings, department, start, end, timezone, now)
    if report == "achievement":
        rows = achievement_rows(await achievement_report(session, q))
    else:
        rows = status_rows(await status_report(session, q))
    return await _file_bytes(rows, report)


async def review_file(session: AsyncSession, settings: Settings, agreement_ref: str, run_at: datetime, fmt: str,
                      now: datetime, feedback: FeedbackClient | None) -> ReportFile:  # fmt: skip
    """The review of an agreement for its last billing period ended by `run_at`, as `/v1/reports/agreements/{id}`
    answers it in PDF (`Accept: application/pdf`) or XLSX. NotFound when the agreement is gone."""
    billing = Billing.of_agreement(await agreement_named(session, agreement_ref))
    period = previous_billing_period(billing, run_at)
    q = build_query(
        now=now, as_of=None, start=period.start, end=period.end, bucket=None, timezone=billing.timezone,
        group_by=None, default_group=(), flt=ReportFilter(), agreement=None, max_days=settings.report_max_days,
        require_period=True, rollup_timezone=settings.rollup_timezone,
        retained_from=retention_horizon(now, settings.retention_months),
    )  # fmt: skip
    ctx = Settling(now=now, max_runs=settings.replay_max_runs, feedback=feedback)
    review = await insights.agreement_review(session, agreement_ref, q.windows[0], ReportFilter(), ctx)
    key = str(review.agreement.get("key") or agreement_ref)
    name = f"review-{basename(key)}-{period.label}.{fmt}"
    if fmt == "pdf":
        keys = [c.commitment_key for c in review.commitments]
        versions = await governing_versions(session, keys, review.from_, review.to)
        data = await asyncio.to_thread(review_pdf, review, versions, settings.organisation_name, now)
        return ReportFile(data, name, PDF, period.start, period.end)
    return ReportFile(await _file_bytes(review_rows(review), "review"), name, XLSX, period.start, period.end)


async def report_file(session: AsyncSession, settings: Settings, schedule: Mapping[str, Any], now: datetime,
                      feedback: FeedbackClient | None) -> ReportFile:  # fmt: skip
    """The file a subscription sends at its run: a department's report for the last month, or an agreement's
    review for its last billing period."""
    if schedule["report"] == "review":
        return await review_file(session, settings, schedule["agreement"], schedule["next_run_at"],
                                 schedule["format"], now, feedback)  # fmt: skip
    start, end = previous_month(schedule["next_run_at"], schedule["timezone"])
    data = await report_xlsx(session, settings, schedule["report"], schedule["department"], start, end,
                             schedule["timezone"], now)  # fmt: skip
    month = start.astimezone(ZoneInfo(schedule["timezone"]))
    name = f"{schedule['report']}-{schedule['department']}-{month:%Y-%m}.xlsx"
    return ReportFile(data, name, XLSX, start, end)


def _report_content(settings: Settings, schedule: Mapping[str, Any], built: ReportFile, language: Language
                    ) -> dict[str, Any]:  # fmt: skip
    return render_report(schedule["report"], schedule["department"], built.start, built.end, language,
                         settings.console_url, schedule["agreement"]).as_json()  # fmt: skip


async def report_once(session: AsyncSession, settings: Settings, now: datetime, limit: int = 5,
                      feedback: FeedbackClient | None = None) -> int:  # fmt: skip
    """Run the due report schedules: the report to the department's contacts (email, with the file attached) and
    to chat channels (a line with the console link); the next run is set a month on. A review whose agreement
    is gone is logged and skipped until the next month."""
    repo = NotifyRepository(session)
    due = await repo.claim_schedules(limit)
    if not due:
        return 0
    _, channels, contact_rows = await repo.all_enabled()
    channel_map = {ch["id"]: ch for ch in channels}
    contacts = [_contact(c) for c in contact_rows]
    messages: list[dict[str, Any]] = []
    updates = []
    for schedule in due:
        after = max(now, schedule["next_run_at"])
        following = next_monthly_run(after, schedule["day_of_month"], schedule["at_time"], schedule["timezone"])
        updates.append((schedule["id"], following))
        try:
            built = await report_file(session, settings, schedule, now, feedback)
        except NotFound as gone:
            log.warning("report subscription %s skipped: %s", schedule["id"], gone)
            continue
        attachment = {"filename": built.filename, "media_type": built.media_type,
                      "data": base64.b64encode(built.data).decode()}  # fmt: skip
        recipients = [c for c in contacts if c.department == schedule["department"]]

        for channel_id in schedule["channel_ids"]:
            channel = channel_map.get(channel_id)
            if channel is None:
                continue
            base = {"alert_id": None, "rule_id": None, "channel_id": str(channel_id), "channel_kind": channel["kind"],
                    "reason": "report", "escalation_step": 0, "not_before": now.isoformat()}  # fmt: skip
            if channel["kind"] == "email":
                for contact in recipients:
                    if contact.email:
                        content = _report_content(settings, schedule, built, contact.language)
                        content["attachments"] = [attachment]
                        messages.append(base | {"id": str(uuid.uuid4()), "contact_id": contact.id,
                                                "recipient": contact.email, "language": contact.language,
                                                "content": content})  # fmt: skip
            else:
                content = _report_content(settings, schedule, built, channel["language"])
                messages.append(base | {"id": str(uuid.uuid4()), "contact_id": None, "recipient": channel["name"],
                                        "language": channel["language"], "content": content})  # fmt: skip
    await repo.queue(messages)
    for schedule_id, following in updates:
        await repo.update("schedules", schedule_id, {"next_run_at": following, "last_run_at": now})
    return len(due)


# the log ------------------------------------------------------------------------------------------


async def list_notifications(
    session: AsyncSession,
    *,
    status: Sequence[str],
    reason: Sequence[str],
    alert_id: uuid.UUID | None,
    channel_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> NotificationPage:
    filters: dict[str, Any] = {
        "status": list(status),
        "reason": list(reason),
        "alert_id": alert_id,
        "channel_id": channel_id,
    }
    rows = await NotifyRepository(session).messages(filters, _page_after(cursor), limit + 1)
    return NotificationPage(items=[NotificationPublic(**r) for r in rows[:limit]], next_cursor=_next(rows, limit))


# planning -----------------------------------------------------------------------------------------


def _route(rule: Mapping[str, Any]) -> Route:
    return Route(
        departments=frozenset(rule["departments"]),
        positions=frozenset(rule["positions"]),
        processes=frozenset(rule["processes"]),
        nodes=frozenset(rule["nodes"]),
        segments=frozenset(rule["segments"]),
        levels=frozenset(rule["levels"]),
    )


def _contact(row: Mapping[str, Any]) -> ContactView:
    return ContactView(
        str(row["id"]), row["department"], row["position"], row["email"], row["chat_handle"], row["language"]
    )


def build_messages(
    alert: Mapping[str, Any],
    rule_id: str,
    channels: Sequence[Mapping[str, Any]],
    recipients: Sequence[ContactView],
    *,
    not_before: datetime,
    step: int,
    console_url: str | None,
) -> list[dict[str, Any]]:
    """The messages of one alert (or one escalation step) routed by one rule: one email per recipient with an
    address on each email channel, in the recipient's language; one post per chat channel, in the channel's
    language, mentioning the recipients' chat handles."""
    out: list[dict[str, Any]] = []
    reason = "escalation" if step else "alert"
    handles = [c.chat_handle for c in recipients if c.chat_handle]
    for channel in channels:
        base = {
            "alert_id": str(alert["id"]),
            "rule_id": rule_id,
            "channel_id": str(channel["id"]),
            "channel_kind": channel["kind"],
            "reason": reason,
            "escalation_step": step,
            "not_before": not_before.isoformat(),
        }
        if channel["kind"] == "email":
            for contact in recipients:
                if contact.email:
                    content = render_alert(alert, contact.language, escalation_step=step, console_url=console_url)
                    out.append(
                        base
                        | {
                            "id": str(uuid.uuid4()),
                            "contact_id": contact.id,
                            "recipient": contact.email,
                            "language": contact.language,
                            "content": content.as_json(),
                        }
                    )
            continue
        language: Language = channel["language"]
        content = render_alert(alert, language, escalation_step=step, console_url=console_url, mentions=handles)
        body = content.as_json()
        if channel["kind"] == "webhook":
            body["payload"] = {
                "type": "alert.escalated" if step else "alert.raised",
                "escalation_step": step,
                "alert": dict(alert),
            }
        out.append(
            base
            | {
                "id": str(uuid.uuid4()),
                "contact_id": None,
                "recipient": channel["name"],
                "language": language,
                "content": body,
            }
        )
    return out


def _dedupe(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One message per (alert, step, channel, recipient) whatever the number of rules routing it."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for m in messages:
        key = (m["alert_id"], m["escalation_step"], m["channel_id"], m["recipient"])
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out


def _calendars(stored: Mapping[str, Mapping[str, Any]]) -> dict[str, Calendar]:
    out = {}
    for key, row in stored.items():
        try:
            out[key] = calendar_from_payload(row)
        except (ValueError, KeyError):
            log.warning("calendar %s cannot be read; its quiet hours are not applied", key)
    return out


async def plan_once(session: AsyncSession, settings: Settings, now: datetime, limit: int = 200) -> int:
    """Take up the alerts raised since the last round (each alert by one replica), queue their messages and start
    their escalations. Returns how many alerts were taken."""
    repo = NotifyRepository(session)
    alerts = await repo.take_new_alerts(settings.alert_late_after.total_seconds(), limit)
    if not alerts:
        await repo.forget_marks(settings.alert_late_after.total_seconds())
        return 0
    rules, channels, contact_rows = await repo.all_enabled()
    if not rules:
        return len(alerts)
    channel_map = {ch["id"]: ch for ch in channels}
    contacts = [_contact(c) for c in contact_rows]
    by_id = {c.id: c for c in contacts}
    calendars = _calendars(await repo.calendars(sorted({r["quiet_calendar"] for r in rules if r["quiet_calendar"]})))
    messages: list[dict[str, Any]] = []
    escalations: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    for row in alerts:
        alert = AlertPublic(**row).event_payload() | {"external_id": row["external_id"]}
        facts = AlertFacts(row["level"], row["department"], row["position"], row["process_key"], row["node_key"],
                           row["segment"])  # fmt: skip
        for rule in rules:
            if not route_matches(_route(rule), facts):
                continue
            recipients = responsible_contacts(contacts, facts.department, facts.position) if rule["responsible"] else []
            recipients += [
                by_id[str(i)] for i in rule["contact_ids"] if str(i) in by_id and by_id[str(i)] not in recipients
            ]
            not_before = send_not_before(facts.level, now, calendars.get(rule["quiet_calendar"] or ""))
            rule_channels = [channel_map[i] for i in rule["channel_ids"] if i in channel_map]
            if rule["digest_every"] is not None:
                window_end = max(digest_window_end(now, rule["digest_every"]), not_before)
                held.append({"rule_id": str(rule["id"]), "department": facts.department,
                             "window_end": window_end.isoformat(), "alert": alert})  # fmt: skip
            else:
                messages += build_messages(
                    alert, str(rule["id"]), rule_channels, recipients, not_before=not_before, step=0,
                    console_url=settings.console_url,
                )  # fmt: skip
            if rule["escalate_after"] is not None:
                due = next_escalation_at(row["raised_at"], rule["escalate_after"], 1)
                escalations.append({"alert_id": str(row["id"]), "rule_id": str(rule["id"]),
                                    "department": facts.department, "position": facts.position,
                                    "due_at": due.isoformat()})  # fmt: skip
    await repo.queue(_dedupe(messages))
    await repo.hold_for_digest(held)
    await repo.start_escalations(escalations)
    return len(alerts)


async def digest_once(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Send the digests whose window has closed: per rule, department and window one message per recipient (email)
    or channel (chat) listing the window's alerts that are not resolved. Returns how many alerts were taken."""
    repo = NotifyRepository(session)
    items = await repo.take_closed_digests(now)
    if not items:
        return 0
    states = await repo.alert_states([str(i["alert"]["id"]) for i in items])
    rules, channels, contact_rows = await repo.all_enabled()
    rule_map = {str(r["id"]): r for r in rules}
    channel_map = {ch["id"]: ch for ch in channels}
    contacts = [_contact(c) for c in contact_rows]
    by_id = {c.id: c for c in contacts}
    groups: dict[tuple[str, str | None, datetime], list[dict[str, Any]]] = {}
    for item in items:
        if states.get(str(item["alert"]["id"])) != "resolved":
            groups.setdefault((str(item["rule_id"]), item["department"], item["window_end"]), []).append(item["alert"])
    messages: list[dict[str, Any]] = []
    for (rule_id, department, _), alerts in groups.items():
        rule = rule_map.get(rule_id)
        if rule is None:
            continue
        recipients: list[ContactView] = []
        if rule["responsible"]:
            for a in alerts:
                recipients += [
                    c for c in responsible_contacts(contacts, department, a.get("position")) if c not in recipients
                ]
        recipients += [
            by_id[str(i)] for i in rule["contact_ids"] if str(i) in by_id and by_id[str(i)] not in recipients
        ]
        for channel in (channel_map[i] for i in rule["channel_ids"] if i in channel_map):
            base = {"alert_id": None, "rule_id": rule_id, "channel_id": str(channel["id"]),
                    "channel_kind": channel["kind"], "reason": "digest", "escalation_step": 0,
                    "not_before": now.isoformat()}  # fmt: skip
            if channel["kind"] == "email":
                for contact in recipients:
                    if contact.email:
                        content = render_digest(alerts, department, contact.language, settings.console_url)
                        messages.append(base | {"id": str(uuid.uuid4()), "contact_id": contact.id,
                                                "recipient": contact.email, "language": contact.language,
                                                "content": content.as_json()})  # fmt: skip
            else:
                content = render_digest(alerts, department, channel["language"], settings.console_url)
                body = content.as_json() | {"mentions": [c.chat_handle for c in recipients if c.chat_handle]}
                if channel["kind"] == "webhook":
                    body["payload"] = {"type": "alert.digest", "department": department, "alerts": alerts}
                messages.append(base | {"id": str(uuid.uuid4()), "contact_id": None, "recipient": channel["name"],
                                        "language": channel["language"], "content": body})  # fmt: skip
    await repo.queue(messages)
    return len(items)


async def escalate_once(session: AsyncSession, settings: Settings, now: datetime, limit: int = 100) -> int:
    """Escalate the due escalations of alerts still open; close those of alerts acknowledged or resolved.
    Returns how many escalations were handled."""
    repo = NotifyRepository(session)
    due = await repo.claim_escalations(limit)
    if not due:
        return 0
    rules, channels, contact_rows = await repo.all_enabled()
    rule_map = {str(r["id"]): r for r in rules}
    channel_map = {ch["id"]: ch for ch in channels}
    contacts = [_contact(c) for c in contact_rows]
    parents = await repo.department_parents()
    calendars = _calendars(await repo.calendars(sorted({r["quiet_calendar"] for r in rules if r["quiet_calendar"]})))
    messages: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for e in due:
        base = {"alert_id": str(e["alert_id"]), "rule_id": str(e["rule_id"]), "step": e["step"],
                "department": e["department"], "position": e["position"], "due_at": None, "entry": None}  # fmt: skip
        state = e["alert_state"]
        rule = rule_map.get(str(e["rule_id"]))
        if state != "open" or rule is None or rule["escalate_after"] is None:
            reason = state if state != "open" else "rule removed or disabled"
            updates.append(base | {"closed_at": now.isoformat(), "closed_reason": reason})
            continue
        step = e["step"] + 1
        target = escalation_target(
            e["alert_department"], step, to_department=rule["escalate_to_department"],
            to_position=rule["escalate_to_position"], parents=parents,
        )  # fmt: skip
        if target is None:
            updates.append(base | {"closed_at": now.isoformat(), "closed_reason": "no further level"})
            continue
        alert = AlertPublic(**{k.removeprefix("alert_"): v for k, v in e.items() if k.startswith("alert_")})
        payload = alert.event_payload() | {"external_id": e["alert_external_id"]}
        recipients = responsible_contacts(contacts, target.department, target.position)
        not_before = send_not_before(alert.level, now, calendars.get(rule["quiet_calendar"] or ""))
        rule_channels = [channel_map[i] for i in rule["channel_ids"] if i in channel_map]
        sent = build_messages(
            payload, str(rule["id"]), rule_channels, recipients, not_before=not_before, step=step,
            console_url=settings.console_url,
        )  # fmt: skip
        messages += sent
        further = step < rule["escalate_levels"] and escalation_target(
            e["alert_department"], step + 1, to_department=rule["escalate_to_department"],
            to_position=rule["escalate_to_position"], parents=parents,
        ) is not None  # fmt: skip
        entry = [{"step": step, "at": now.isoformat(), "department": target.department,
                  "position": target.position, "messages": len(sent)}]  # fmt: skip
        updates.append(
            base
            | {
                "step": step,
                "department": target.department,
                "position": target.position,
                "due_at": next_escalation_at(alert.raised_at, rule["escalate_after"], step + 1).isoformat()
                if further
                else None,
                "closed_at": None if further else now.isoformat(),
                "closed_reason": None if further else "escalated to the last level",
                "entry": entry,
            }
        )
    await repo.queue(_dedupe(messages))
    await repo.advance_escalations(updates)
    return len(due)


def failure_messages(
    failed: Sequence[Mapping[str, Any]], admins: Sequence[str], language: Language
) -> list[dict[str, Any]]:
    """An email to each administrator per message that failed for good (not for the failure emails themselves)."""
    now = datetime.now(UTC).isoformat()
    out = []
    for message in failed:
        if message["reason"] == "failure":
            continue
        content = render_failure(message, language).as_json()
        for address in admins:
            alert_id = None if message["alert_id"] is None else str(message["alert_id"])
            out.append({"id": str(uuid.uuid4()), "alert_id": alert_id, "rule_id": None, "channel_id": None,
                        "channel_kind": "email", "contact_id": None, "recipient": address, "language": language,
                        "reason": "failure", "escalation_step": 0, "content": content, "not_before": now})  # fmt: skip
    return out


# sending ------------------------------------------------------------------------------------------


def smtp_config(settings: Settings) -> SmtpConfig | None:
    if settings.smtp_host is None:
        return None
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        sender=settings.smtp_from,
        timeout=settings.notify_timeout_seconds,
        ca_file=settings.smtp_ca_file,
    )


def count_notifications(claimed: Sequence[Mapping[str, Any]], outcomes: Sequence[Mapping[str, Any]]) -> None:
    """Count each attempt by channel kind: delivered, failed (to be retried or for good) or skipped."""
    for message, outcome in zip(claimed, outcomes, strict=True):
        result = "skipped" if outcome["skipped"] else "delivered" if outcome["ok"] else "failed"
        NOTIFICATIONS.labels(message["channel_kind"], result).inc()


class Notifier:
    """Background loop: plan new alerts, escalate, send due messages. Several replicas share the work: alerts are
    taken once (a mark row), escalations and messages are leased with SKIP LOCKED; a sender that dies mid-flight
    leaves leases that expire and are retried."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        feedback: FeedbackClient | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.feedback = feedback  # a review's satisfaction figures, as the API's review has them
        self.allowed = _networks(settings)
        self.smtp = smtp_config(settings)
        self.client = delivery_client(settings.notify_timeout_seconds)  # never the service client
        self.batch_size = 50

    async def aclose(self) -> None:
        await self.client.aclose()

    async def _deliver(self, message: Mapping[str, Any]) -> tuple[int | None, str | None, str | None]:
        """(status, answer excerpt, error) of one attempt."""
        content = message["content"]
        if message["channel_kind"] == "email":
            if self.smtp is None:
                return None, None, "SMTP is not configured (EVALUATION_SMTP_HOST)"
            try:
                files = [
                    Attachment(a["filename"], a["media_type"], base64.b64decode(a["data"]))
                    for a in content.get("attachments") or ()
                ]
                email = build_email(self.smtp.sender, message["recipient"], content, files)
                answer = await send_email(self.smtp, email)
            except aiosmtplib.SMTPResponseException as err:
                return err.code, err.message[:EXCERPT], f"SMTP {err.code}"
            except (aiosmtplib.SMTPException, OSError) as err:
                return None, None, f"{type(err).__name__}: {err}"[:EXCERPT]
            return 250, answer[:EXCERPT], None
        if message["url"] is None:
            return None, None, "the channel was removed"
        request = chat_request(
            message["channel_kind"], message["url"], message["secret"], content,
            now_ms=int(time.time() * 1000), message_id=str(message["id"]), payload=content.get("payload"),
        )  # fmt: skip
        try:
            response = await post_checked(self.client, request.url, self.allowed, request.body, request.headers)
        except TargetRefused as refused:
            return None, None, str(refused)
        except httpx.HTTPError as err:
            return None, None, f"{type(err).__name__}: {err}"[:EXCERPT]
        return (
            response.status_code,
            response.text[:EXCERPT],
            provider_error(message["channel_kind"], response.status_code, response.content),
        )

    async def _send(self, message: Mapping[str, Any]) -> dict[str, Any]:
        resolved = message["reason"] in ("alert", "escalation") and message["alert_state"] == "resolved"
        disabled = message["channel_enabled"] is False
        skipped = resolved or disabled
        status: int | None = None
        excerpt: str | None = None
        error: str | None = None
        if resolved:
            error = "the alert was resolved before the message went"
        elif disabled:
            error = "the channel was disabled before the message went"
        else:
            try:
                status, excerpt, error = await self._deliver(message)
            except Exception as err:  # one bad message must not stop the others of its batch
                log.exception("notification %s could not be sent", message["id"])
                error = f"{type(err).__name__}: {err}"[:EXCERPT]
        now = datetime.now(UTC)
        s = self.settings
        delay = retry_delay(message["attempts"], s.notify_backoff_seconds, s.notify_backoff_max_seconds)
        return {
            "id": str(message["id"]),
            "ok": error is None,
            "skipped": skipped,
            "at": now.isoformat(),
            "retry_at": (now + timedelta(seconds=delay)).isoformat(),
            "status_code": status,
            "excerpt": excerpt,
            "error": error,
        }

    async def send_once(self) -> int:
        s = self.settings
        async with self.sessionmaker() as session, session.begin():
            claimed = await NotifyRepository(session).claim_messages(self.batch_size, s.notify_timeout_seconds * 3 + 5)
        if not claimed:
            return 0
        token = _SENDING.set(True)  # the tasks gathered below copy this context
        try:
            outcomes = await asyncio.gather(*(self._send(m) for m in claimed))
        finally:
            _SENDING.reset(token)
        for outcome in outcomes:
            if outcome["error"] and not outcome["skipped"]:
                log.warning("notification %s failed: %s", outcome["id"], outcome["error"])
        async with self.sessionmaker() as session, session.begin():
            repo = NotifyRepository(session)
            on_commit(session, partial(count_notifications, claimed, outcomes))
            failed = await repo.record(outcomes, s.notify_max_attempts)
            await repo.queue(failure_messages(failed, s.notify_admin_emails, s.notify_admin_language))
        return len(claimed)

    async def _phase(self, name: str, step: Callable[[AsyncSession, Settings, datetime], Awaitable[int]],
                     now: datetime) -> int:  # fmt: skip
        """One phase in its own transaction: a phase that fails (a report that cannot be built) is logged and
        retried at the next round, and does not hold up the others (sending above all)."""
        try:
            async with self.sessionmaker() as session, session.begin():
                return await step(session, self.settings, now)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("notification %s failed", name)
            return 0

    async def tick(self) -> int:
        now = datetime.now(UTC)
        busy = await self._phase("planning", plan_once, now)
        busy += await self._phase("escalation", escalate_once, now)
        busy += await self._phase("report", partial(report_once, feedback=self.feedback), now)
        busy += await self._phase("digest", digest_once, now)
        return busy + await self.send_once()

    async def round(self) -> bool:
        """One notification round (a worker step: nothing half-done of a failed one was committed, the next
        takes it up again); True while work is still waiting."""
        return await self.tick() >= self.batch_size
