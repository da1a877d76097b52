"""Pure rules of notifications: which rules route an alert, when a message may go (quiet hours), where an
unacknowledged alert escalates to, and what a message says (zh / en)."""

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from pledge_deadlines import Calendar, due_at

from evaluation_svc.settlement.rules import Billing, BillingPeriod, period_containing

Language = Literal["zh", "en"]
LEVELS: tuple[str, ...] = ("prewarning", "acceptable", "warning")

LEVEL_LABELS: dict[str, dict[str, str]] = {
    "prewarning": {"zh": "预警", "en": "Pre-warning"},
    "acceptable": {"zh": "已超承诺时限 · 可接受", "en": "Commitment limit crossed (acceptable)"},
    "warning": {"zh": "已超忍耐时限 · 警告", "en": "Tolerance limit crossed (warning)"},
}
# the seven states of a node run (DESIGN.md), as the source documents name them
STATE_LABELS: dict[str, dict[str, str]] = {
    "completed_normal": {"zh": "正常完成", "en": "completed · normal"},
    "completed_acceptable": {"zh": "可接受完成", "en": "completed · acceptable"},
    "completed_warning": {"zh": "警告完成", "en": "completed · warning"},
    "in_progress_normal": {"zh": "进行中 · 正常", "en": "in progress · normal"},
    "in_progress_acceptable": {"zh": "进行中 · 可接受", "en": "in progress · acceptable"},
    "in_progress_warning": {"zh": "进行中 · 警告", "en": "in progress · warning"},
    "cancelled": {"zh": "已取消", "en": "cancelled"},
}


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What routing looks at in an alert."""

    level: str
    department: str | None
    position: str | None
    process: str
    node: str | None
    segment: str


@dataclass(frozen=True, slots=True)
class Route:
    """A routing rule: each non-empty filter must contain the alert's value (empty: any)."""

    departments: frozenset[str] = frozenset()
    positions: frozenset[str] = frozenset()
    processes: frozenset[str] = frozenset()
    nodes: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()
    levels: frozenset[str] = frozenset()


def _admits(values: frozenset[str], value: str | None) -> bool:
    return not values or (value is not None and value in values)


def route_matches(route: Route, alert: AlertFacts) -> bool:
    """Worked example: a rule `departments={ops}, levels={warning}` routes a warning of ops, not its prewarning,
    and not a warning of sales; a rule with no filters routes every alert."""
    return (
        _admits(route.departments, alert.department)
        and _admits(route.positions, alert.position)
        and _admits(route.processes, alert.process)
        and _admits(route.nodes, alert.node)
        and _admits(route.segments, alert.segment)
        and _admits(route.levels, alert.level)
    )


@dataclass(frozen=True, slots=True)
class ContactView:
    id: str
    department: str
    position: str | None
    email: str | None
    chat_handle: str | None
    language: Language


def responsible_contacts(
    contacts: Sequence[ContactView], department: str | None, position: str | None
) -> list[ContactView]:
    """The contacts of a department and position: those of the department with that position, and those of the
    department with no position (the department's own desk, its head). An alert with no position reaches the
    department's contacts whatever their position."""
    if department is None:
        return []
    return [
        c
        for c in contacts
        if c.department == department and (position is None or c.position is None or c.position == position)
    ]


def send_not_before(level: str, at: datetime, calendar: Calendar | None) -> datetime:
    """Quiet hours: a prewarning raised outside the working time of the rule's calendar waits for the next
    working instant; an alert past a limit (acceptable, warning) goes at once. With no calendar, at once.

    Worked example (calendar Mon-Fri 09:00-18:00 Asia/Shanghai): a prewarning raised Tue 02:00 goes Tue 09:00;
    one raised Sat 10:00 goes Mon 09:00; one raised Tue 10:00 goes at once; a warning raised Tue 02:00 goes
    at once."""
    if calendar is None or level != "prewarning":
        return at
    resumes = due_at(calendar, at, timedelta(0))  # the moment work resumes (at itself when working)
    return at if resumes is None else max(at, resumes)


@dataclass(frozen=True, slots=True)
class Escalation:
    """One step up: the contacts of `department` (with `position`, when named) are told."""

    department: str
    position: str | None


def escalation_target(
    current_department: str | None,
    step: int,
    *,
    to_department: str | None,
    to_position: str | None,
    parents: Mapping[str, str | None],
) -> Escalation | None:
    """Where the alert goes at escalation `step` (1: the first escalation). A rule naming a department goes there
    (with the position, if named) on step 1; a rule naming only a position goes to that position of the alert's
    department on step 1; a rule naming neither climbs the department tree: the parent on step 1, the grand-parent
    on step 2… None when there is no further level.

    Worked example (ops → network → company): from ops, step 1 is network, step 2 company, step 3 None."""
    if to_department is not None or to_position is not None:
        if step != 1:
            return None
        department = to_department or current_department
        return None if department is None else Escalation(department, to_position)
    department = current_department
    seen: set[str] = set()
    for _ in range(step):
        if department is None or department in seen:
            return None
        seen.add(department)
        department = parents.get(department)
    return None if department is None else Escalation(department, None)


def next_escalation_at(raised_at: datetime, after: timedelta, step: int) -> datetime:
    """Escalation step `step` (1, 2, …) falls due `after` times step after the alert was raised, unless acknowledged.

    Worked example: raised 10:00, after PT30M: step 1 at 10:30, step 2 at 11:00."""
    return raised_at + after * step


def digest_window_start(at: datetime, every: timedelta, epoch: datetime) -> datetime:
    """The start of the digest window holding `at`: windows of `every` counted from `epoch`.

    Worked example: every PT15M from 00:00, 10:07 falls in the window 10:00-10:15 (sent at 10:15)."""
    windows = (at - epoch) // every
    return epoch + every * windows


def one_line(value: str, limit: int = 200) -> str:
    """A subject: one line (values from outside carry no line break into an email header), at most `limit` long."""
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Content:
    """A rendered message: a subject, plain text, Markdown (chat) and HTML (email)."""

    subject: str
    text: str
    markdown: str
    html: str
    mentions: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "text": self.text,
            "markdown": self.markdown,
            "html": self.html,
            "mentions": list(self.mentions),
        }


_FIELDS: dict[str, dict[str, str]] = {
    "ticket": {"zh": "工单", "en": "Ticket"},
    "process": {"zh": "服务流程", "en": "Process"},
    "node": {"zh": "节点", "en": "Node"},
    "segment": {"zh": "客户群", "en": "Segment"},
    "department": {"zh": "责任部门", "en": "Department"},
    "position": {"zh": "岗位", "en": "Position"},
    "due_at": {"zh": "到期时刻", "en": "Due at"},
    "raised_at": {"zh": "发现时刻", "en": "Raised at"},
    "console": {"zh": "在控制台查看并确认", "en": "Open and acknowledge in the console"},
}


def render_alert(
    alert: Mapping[str, Any],
    language: Language,
    *,
    escalation_step: int = 0,
    console_url: str | None = None,
    mentions: Sequence[str] = (),
) -> Content:
    """The message about one alert (its public JSON shape, with the ticket's `external_id` when known) in
    `language`; an escalation says so first."""
    level = LEVEL_LABELS.get(str(alert["level"]), {"zh": str(alert["level"]), "en": str(alert["level"])})[language]
    where = str(alert.get("node") or alert.get("process") or "")
    if escalation_step:
        prefix = f"【升级 {escalation_step}】" if language == "zh" else f"[Escalation {escalation_step}] "
        note = "此预警在规定时间内无人确认, 已升级." if language == "zh" else "Nobody acknowledged this alert in time."
    else:
        prefix, note = "", ""
    ticket = alert.get("external_id") or alert.get("ticket_id")
    subject = one_line(f"{prefix}{level}: {ticket} · {where}")
    rows = [
        (_FIELDS["ticket"][language], ticket),
        (_FIELDS["process"][language], alert.get("process")),
        (_FIELDS["node"][language], alert.get("node")),
        (_FIELDS["segment"][language], alert.get("segment")),
        (_FIELDS["department"][language], alert.get("department")),
        (_FIELDS["position"][language], alert.get("position")),
        (_FIELDS["due_at"][language], alert.get("due_at")),
        (_FIELDS["raised_at"][language], alert.get("raised_at")),
    ]
    rows = [(k, v) for k, v in rows if v is not None]
    link = f"{console_url.rstrip('/')}/alerts/{alert['id']}" if console_url else None
    text_lines = [subject, *([note] if note else []), "", *(f"{k}: {v}" for k, v in rows)]
    md_lines = [f"### {subject}", *([f"> {note}"] if note else []), *(f"- **{k}**: {v}" for k, v in rows)]
    if link:
        text_lines += ["", f"{_FIELDS['console'][language]}: {link}"]
        md_lines.append(f"[{_FIELDS['console'][language]}]({link})")
    body_rows = "".join(
        f"<tr><th align='left'>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    html_body = (
        f"<html><body><h3>{html.escape(subject)}</h3>"
        + (f"<p>{html.escape(note)}</p>" if note else "")
        + f"<table>{body_rows}</table>"
        + (f"<p><a href='{html.escape(link)}'>{html.escape(_FIELDS['console'][language])}</a></p>" if link else "")
        + "</body></html>"
    )
    return Content(subject, "\n".join(text_lines), "\n".join(md_lines), html_body, tuple(mentions))


def next_monthly_run(after: datetime, day: int, at: time, timezone: str) -> datetime:
    """The first instant after `after` that is day `day` of a month at `at` in `timezone` (in UTC).

    Worked example (the 1st at 09:00, Asia/Shanghai): after 2026-03-01 00:59 UTC (08:59 local) comes
    2026-03-01 01:00 UTC; after 2026-03-01 01:00 UTC comes 2026-04-01 01:00 UTC."""
    tz = ZoneInfo(timezone)
    local = after.astimezone(tz)
    year, month = local.year, local.month
    for _ in range(3):
        candidate = datetime.combine(date(year, month, day), at, tzinfo=tz)
        if candidate > after:
            return candidate.astimezone(UTC)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise AssertionError("unreachable: a month ahead is always after")


def previous_billing_period(billing: Billing, run_at: datetime) -> BillingPeriod:
    """The last billing period of an agreement that has ended by `run_at`: the one before the period `run_at`
    falls in.

    Worked example: a monthly agreement billed in Asia/Shanghai, run 2026-04-01 09:00 local, covers 2026-03
    (2026-02-28 16:00 UTC to 2026-03-31 16:00 UTC); a quarterly one run 2026-04-01 covers 2026-Q1."""
    current = period_containing(billing, run_at)
    return period_containing(billing, current.start - timedelta(microseconds=1))


def previous_month(run_at: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The period a report run at `run_at` covers: the whole month before the run's local month, in UTC.

    Worked example: run 2026-04-01 09:00 Asia/Shanghai covers 2026-03-01 00:00 to 2026-04-01 00:00 local
    (2026-02-28 16:00 UTC to 2026-03-31 16:00 UTC)."""
    tz = ZoneInfo(timezone)
    local = run_at.astimezone(tz)
    end = datetime(local.year, local.month, 1, tzinfo=tz)
    start = (
        datetime(local.year - 1, 12, 1, tzinfo=tz)
        if local.month == 1
        else datetime(local.year, local.month - 1, 1, tzinfo=tz)
    )
    return start.astimezone(UTC), end.astimezone(UTC)


_REPORT_WORDS: dict[str, dict[str, str]] = {
    "status": {"zh": "服务承诺执行状态表", "en": "Service commitment status table"},
    "achievement": {"zh": "服务承诺达成率", "en": "Service commitment achievement"},
    "rankings": {"zh": "岗位达成率排名", "en": "Positions ranked by achievement"},
    "review": {"zh": "服务协议评审", "en": "Service agreement review"},
    "attached": {"zh": "附件为本部门上一期的报表.", "en": "The report for the last period is attached."},
    "console": {"zh": "在控制台查看", "en": "Open in the console"},
}


def report_link(report: str, department: str, agreement: str | None) -> str:
    """The console page of a scheduled report (path and query)."""
    if report == "review":
        return f"/reports/agreements/{quote(agreement or '', safe='')}"
    by = "&by=position" if report == "rankings" else ""
    return f"/reports/{report}?department={quote(department, safe='')}{by}"


def render_report(
    report: str,
    department: str,
    start: datetime,
    end: datetime,
    language: Language,
    console_url: str | None,
    agreement: str | None = None,
) -> Content:
    """The message carrying a scheduled report (the file is attached to it): a department's, or for a review
    the agreement's."""
    title = _REPORT_WORDS[report][language]
    period = f"{start.date().isoformat()} - {end.date().isoformat()}"
    subject = one_line(f"{title}: {agreement if report == 'review' else department} ({period})")
    link = f"{console_url.rstrip('/')}{report_link(report, department, agreement)}" if console_url else None
    lines = [subject, "", _REPORT_WORDS["attached"][language]]
    if link:
        lines.append(f"{_REPORT_WORDS['console'][language]}: {link}")
    md = f"### {subject}\n{_REPORT_WORDS['attached'][language]}" + (
        f"\n[{_REPORT_WORDS['console'][language]}]({link})" if link else ""
    )
    page = (
        f"<html><body><h3>{html.escape(subject)}</h3><p>{html.escape(_REPORT_WORDS['attached'][language])}</p>"
        + (
            f"<p><a href='{html.escape(link)}'>{html.escape(_REPORT_WORDS['console'][language])}</a></p>"
            if link
            else ""
        )
        + "</body></html>"
    )
    return Content(subject, "\n".join(lines), md, page)


def render_failure(failed: Mapping[str, Any], language: Language) -> Content:
    """The message telling the administrators that a message failed after its last attempt."""
    if language == "zh":
        subject = one_line(f"通知发送失败: {failed['channel_kind']} → {failed['recipient']}")
        lines = [subject, f"原消息: {failed['subject']}", f"尝试次数: {failed['attempts']}", f"原因: {failed['error']}"]
    else:
        subject = one_line(f"Notification failed: {failed['channel_kind']} to {failed['recipient']}")
        lines = [subject, f"Message: {failed['subject']}", f"Attempts: {failed['attempts']}", f"Why: {failed['error']}"]
    text_body = "\n".join(str(line) for line in lines)
    page = "<html><body>" + "".join(f"<p>{html.escape(str(line))}</p>" for line in lines) + "</body></html>"
    return Content(subject, text_body, "\n\n".join(str(line) for line in lines), page)


DIGEST_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def digest_window_end(at: datetime, every: timedelta) -> datetime:
    """When the digest holding an alert planned at `at` goes: the end of its window (windows from 2000-01-01 UTC).

    Worked example: every PT15M, an alert at 10:07 goes in the digest sent at 10:15, with those of 10:00-10:15."""
    return digest_window_start(at, every, DIGEST_EPOCH) + every


def render_digest(
    alerts: Sequence[Mapping[str, Any]], department: str | None, language: Language, console_url: str | None
) -> Content:
    """One message listing the alerts of a department gathered in one window, most severe first."""
    order = {level: i for i, level in enumerate(reversed(LEVELS))}
    ranked = sorted(alerts, key=lambda a: (order.get(str(a["level"]), 9), str(a.get("raised_at"))))
    who = department or "-"
    subject = f"{who}: {len(alerts)} 条预警汇总" if language == "zh" else f"{who}: digest of {len(alerts)} alerts"
    lines = []
    for a in ranked:
        level = LEVEL_LABELS.get(str(a["level"]), {"zh": str(a["level"]), "en": str(a["level"])})[language]
        ticket = a.get("external_id") or a.get("ticket_id")
        lines.append(f"{level} · {ticket} · {a.get('node') or a.get('process')} · {a.get('due_at')}")
    link = f"{console_url.rstrip('/')}/alerts?department={who}" if console_url else None
    tail = [f"{_FIELDS['console'][language]}: {link}"] if link else []
    text_body = "\n".join([subject, "", *lines, *(["", *tail] if tail else [])])
    markdown = "\n".join([f"### {subject}", *(f"- {line}" for line in lines), *tail])
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    anchor = f"<p><a href='{html.escape(link)}'>{html.escape(_FIELDS['console'][language])}</a></p>" if link else ""
    page = f"<html><body><h3>{html.escape(subject)}</h3><ul>{items}</ul>{anchor}</body></html>"
    return Content(subject, text_body, markdown, page)
