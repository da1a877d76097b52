"""Public shapes of contacts, channels, routing rules and the notification log."""

import uuid
from datetime import time
from typing import Annotated, Literal

from pledge_common.durations import Duration
from pledge_common.instants import Instant
from pledge_common.pagination import Page
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from evaluation_svc.alerts.schemas import AlertLevel

# a wall-clock time of a time zone named beside it: `HH:MM`, no offset (JSON Schema's `time` format needs one)
LocalTime = Annotated[
    time,
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "examples": ["09:00"]}),
]

Language = Literal["zh", "en"]
ChannelKind = Literal["email", "wecom", "dingtalk", "feishu", "slack", "teams", "webhook"]
MessageStatus = Literal["queued", "retrying", "sent", "failed", "skipped"]
ReportKind = Literal["status", "achievement", "rankings", "review"]
ReportFormat = Literal["xlsx", "pdf"]
MessageReason = Literal["alert", "escalation", "digest", "report", "failure"]


class ContactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department: str = Field(min_length=1, max_length=200, description="the department key (commitment-svc)")
    position: str | None = Field(
        default=None, max_length=200, description="the position; null: the department's own desk (its head)"
    )
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(
        default=None, max_length=320, pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$", examples=["li.wei@example.cn"]
    )
    chat_handle: str | None = Field(
        default=None, max_length=200, description="the user id a chat message mentions (WeCom, DingTalk, Feishu…)"
    )
    language: Language = Field(default="zh", description="the language of the messages this person receives")


class ContactUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department: str | None = Field(default=None, min_length=1, max_length=200)
    position: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
    chat_handle: str | None = Field(default=None, max_length=200)
    language: Language | None = None


class ContactPublic(BaseModel):
    id: uuid.UUID
    department: str
    position: str | None
    name: str
    email: str | None
    chat_handle: str | None
    language: Language
    created_at: Instant
    updated_at: Instant


ContactPage = Page[ContactPublic]


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ChannelKind = Field(
        description="`email` (SMTP set up by the operator; sends to each routed contact's address), or a chat "
        "incoming webhook (`wecom`, `dingtalk`, `feishu`, `slack`, `teams`), or a signed `webhook`"
    )
    name: str = Field(min_length=1, max_length=200)
    url: str | None = Field(
        default=None, max_length=2000, description="the incoming webhook URL (not for `email`); checked as webhooks are"
    )
    secret: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="write-only: DingTalk's 加签 secret (`SEC…`), Feishu's signature secret, or the `webhook` kind's "
        "Standard Webhooks secret (`whsec_…`, required for it). Never answered.",
    )
    language: Language = Field(default="zh", description="the language of chat messages on this channel")
    enabled: bool = True


class ChannelUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    url: str | None = Field(default=None, max_length=2000)
    secret: str | None = Field(default=None, min_length=1, max_length=500, description="write-only; replaces it")
    language: Language | None = None
    enabled: bool | None = None


class ChannelPublic(BaseModel):
    id: uuid.UUID
    kind: ChannelKind
    name: str
    url: str | None = Field(
        description="only the origin of the incoming webhook URL (`https://oapi.dingtalk.com/…`): the URL carries the "
        "group's credential (a key, an access token), so it is write-only like the secret"
    )
    has_secret: bool = Field(description="a secret is set (it is never answered)")
    language: Language
    enabled: bool
    created_at: Instant
    updated_at: Instant


ChannelPage = Page[ChannelPublic]


class RuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    departments: list[str] = Field(default_factory=list, max_length=100, description="empty: any department")
    positions: list[str] = Field(default_factory=list, max_length=100, description="empty: any position")
    processes: list[str] = Field(default_factory=list, max_length=100, description="empty: any process")
    nodes: list[str] = Field(default_factory=list, max_length=100, description="empty: any node")
    segments: list[str] = Field(default_factory=list, max_length=100, description="empty: any segment")
    levels: list[AlertLevel] = Field(default_factory=list, description="empty: every level")
    channel_ids: list[uuid.UUID] = Field(min_length=1, max_length=20, description="where the messages go")
    contact_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=100, description="contacts told besides the responsible ones"
    )
    responsible: bool = Field(
        default=True, description="tell the contacts of the alert's department and position (and the department's)"
    )
    quiet_calendar: str | None = Field(
        default=None,
        max_length=200,
        description="a calendar key: a prewarning raised outside its working time waits for it (quiet hours); "
        "limits crossed go at once",
    )
    escalate_after: Duration | None = Field(
        default=None, description="unacknowledged this long after it was raised, the alert escalates (e.g. PT30M)"
    )
    escalate_to_department: str | None = Field(
        default=None, max_length=200, description="escalate to this department (default: up the department tree)"
    )
    escalate_to_position: str | None = Field(default=None, max_length=200, description="escalate to this position")
    escalate_levels: int = Field(default=1, ge=1, le=5, description="how many levels up the tree it may climb")
    digest_every: Duration | None = Field(
        default=None,
        description="gather the alerts of a department into one message per window of this length (e.g. PT15M; "
        "at least PT1M) instead of one message per alert",
    )
    enabled: bool = True


class RuleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    enabled: bool | None = None


class RulePublic(BaseModel):
    id: uuid.UUID
    name: str
    departments: list[str]
    positions: list[str]
    processes: list[str]
    nodes: list[str]
    segments: list[str]
    levels: list[str]
    channel_ids: list[uuid.UUID]
    contact_ids: list[uuid.UUID]
    responsible: bool
    quiet_calendar: str | None
    escalate_after: Duration | None
    escalate_to_department: str | None
    escalate_to_position: str | None
    escalate_levels: int
    digest_every: Duration | None
    enabled: bool
    created_at: Instant
    updated_at: Instant


RulePage = Page[RulePublic]


class NotificationPublic(BaseModel):
    id: uuid.UUID
    alert_id: uuid.UUID | None
    rule_id: uuid.UUID | None
    channel_id: uuid.UUID | None
    channel_kind: ChannelKind
    recipient: str = Field(description="an email address, or the channel's name")
    language: Language
    reason: MessageReason
    escalation_step: int = Field(description="0: the alert itself; 1, 2…: its escalations")
    subject: str
    status: MessageStatus = Field(
        description="`queued` → `sent`; `retrying` after a failed attempt; `failed` after the last attempt; "
        "`skipped`: its alert was resolved before it went"
    )
    attempts: int
    not_before: Instant = Field(description="quiet hours: not sent before this instant")
    next_attempt_at: Instant | None
    sent_at: Instant | None
    response_status: int | None = Field(description="the provider's HTTP status, or the SMTP reply code")
    response_excerpt: str | None = Field(description="the start of the provider's answer")
    error: str | None
    created_at: Instant


NotificationPage = Page[NotificationPublic]


class ScheduleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    department: str = Field(min_length=1, max_length=200, description="whose report, sent to its contacts")
    report: ReportKind = Field(
        default="status",
        description="`status`: the seven-state status table; `achievement`: the achievement rates; `rankings`: the "
        "department's positions ranked by achievement; `review`: the review of `agreement` for its last billing "
        "period (the last month's for the others)",
    )
    agreement: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="the agreement reviewed (its key or id): required for `review`, refused for the others",
    )
    format: ReportFormat | None = Field(
        default=None, description="the attached file: `pdf` (a review only, its default) or `xlsx` (the others')"
    )
    day_of_month: int = Field(default=1, ge=1, le=28)
    at_time: time = Field(default=time(9, 0), description="local time of the department's time zone")
    timezone: str = Field(default="Asia/Shanghai", max_length=64, description="an IANA time zone")
    channel_ids: list[uuid.UUID] = Field(min_length=1, max_length=20)
    enabled: bool = True


class SchedulePublic(BaseModel):
    id: uuid.UUID
    name: str
    department: str
    report: ReportKind
    agreement: str | None
    format: ReportFormat
    day_of_month: int
    at_time: LocalTime
    timezone: str
    channel_ids: list[uuid.UUID]
    enabled: bool
    next_run_at: Instant = Field(description="when the next report goes (the last month's)")
    last_run_at: Instant | None
    created_at: Instant
    updated_at: Instant


SchedulePage = Page[SchedulePublic]
