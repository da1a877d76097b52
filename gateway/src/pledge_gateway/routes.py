"""The route table: every public path, the service behind it, its scopes, timeout and body limit.

One declared table drives routing, authorisation, per-route limits and the merged OpenAPI. A path that
matches no entry is a 404; `/internal/...` never matches.
"""

import re
from dataclasses import dataclass, field
from enum import StrEnum

# the vocabulary is shared with the services, which check the same scopes again on their own routes
from pledge_common.scopes import ALL_SCOPES as ALL_SCOPES
from pledge_common.scopes import READ_METHODS as READ_METHODS
from pledge_common.scopes import Scope as Scope

from pledge_gateway.config import Settings

GATEWAY = "gateway"
SERVICES = ("commitment", "tracking", "evaluation", "feedback")


class Timeout(StrEnum):
    default = "default"
    report = "report"
    bulk = "bulk"


class BodyLimit(StrEnum):
    default = "default"
    bulk = "bulk"


@dataclass(frozen=True)
class PublicRoute:
    """One entry: `path` is a template (`{id}` = one segment); `prefix` also covers everything below it."""

    path: str
    target: str  # a service name, or "gateway" for routes the gateway answers itself
    read_scope: Scope  # GET, HEAD, OPTIONS
    write_scope: Scope  # every other method
    prefix: bool = True
    timeout: Timeout = Timeout.default
    body_limit: BodyLimit = BodyLimit.default
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        body = re.sub(r"\{[^/}]+\}", "[^/]+", re.escape(self.path).replace(r"\{", "{").replace(r"\}", "}"))
        tail = "(?:/.*)?" if self.prefix else "/?"
        object.__setattr__(self, "pattern", re.compile(f"^{body}{tail}$"))

    def scope_for(self, method: str) -> Scope:
        return self.read_scope if method.upper() in READ_METHODS else self.write_scope


S = Scope
ROUTE_TABLE: tuple[PublicRoute, ...] = (
    # gateway's own
    PublicRoute("/v1/api-keys", GATEWAY, S.admin, S.admin),
    PublicRoute("/v1/tickets/{id}/overview", GATEWAY, S.tickets_read, S.tickets_read, prefix=False),
    # who the caller is: what the console reads (reports:read) to sign a user token's holder in
    PublicRoute("/v1/me", GATEWAY, S.reports_read, S.reports_read, prefix=False),
    # commitment-svc
    PublicRoute("/v1/departments", "commitment", S.definitions_read, S.definitions_write),
    PublicRoute("/v1/segments", "commitment", S.definitions_read, S.definitions_write),
    PublicRoute("/v1/calendars", "commitment", S.definitions_read, S.definitions_write),
    PublicRoute("/v1/processes", "commitment", S.definitions_read, S.definitions_write),
    PublicRoute("/v1/services", "commitment", S.definitions_read, S.definitions_write),
    PublicRoute("/v1/commitments", "commitment", S.definitions_read, S.definitions_write),
    PublicRoute("/v1/agreements", "commitment", S.definitions_read, S.definitions_write),
    PublicRoute("/v1/deadlines/preview", "commitment", S.definitions_read, S.definitions_read),
    # tracking-svc
    PublicRoute(
        "/v1/events/bulk",
        "tracking",
        S.events_write,
        S.events_write,
        timeout=Timeout.bulk,
        body_limit=BodyLimit.bulk,
    ),
    PublicRoute("/v1/events", "tracking", S.tickets_read, S.events_write),
    PublicRoute("/v1/tickets", "tracking", S.tickets_read, S.events_write),
    # facts of services (issue 20): written like events, outages read like tickets
    PublicRoute(
        "/v1/service-facts/bulk",
        "tracking",
        S.events_write,
        S.events_write,
        timeout=Timeout.bulk,
        body_limit=BodyLimit.bulk,
    ),
    PublicRoute("/v1/service-facts", "tracking", S.tickets_read, S.events_write),
    PublicRoute("/v1/outages", "tracking", S.tickets_read, S.events_write),
    # Alertmanager's label mappings are definitions; its webhook has a scope of its own (before: a prefix)
    PublicRoute("/v1/integrations/alertmanager/mappings", "tracking", S.definitions_read, S.definitions_write),
    PublicRoute("/v1/integrations/alertmanager", "tracking", S.ingest_monitoring, S.ingest_monitoring, prefix=False),
    # tracking-svc's copy of commitment's processes (read-only; commitment-svc owns /v1/processes)
    PublicRoute("/v1/known-processes", "tracking", S.definitions_read, S.definitions_write),
    # evaluation-svc (a settlement is drafted and approved by those who manage alerts: before `/v1/reports`)
    PublicRoute(
        "/v1/reports/agreements/{id}/settlements", "evaluation", S.reports_read, S.alerts_manage, timeout=Timeout.report
    ),
    # the kinds of commitment (docs/kinds.md): read like every report
    PublicRoute("/v1/reports/availability", "evaluation", S.reports_read, S.reports_read, timeout=Timeout.report),
    PublicRoute("/v1/reports/obligations", "evaluation", S.reports_read, S.reports_read, timeout=Timeout.report),
    PublicRoute("/v1/reports", "evaluation", S.reports_read, S.reports_read, timeout=Timeout.report),
    PublicRoute("/v1/recommendations", "evaluation", S.reports_read, S.reports_read, timeout=Timeout.report),
    PublicRoute("/v1/what-if", "evaluation", S.reports_read, S.reports_read, timeout=Timeout.report),
    PublicRoute("/v1/alerts", "evaluation", S.reports_read, S.alerts_manage),
    PublicRoute("/v1/webhooks", "evaluation", S.alerts_manage, S.alerts_manage),
    PublicRoute("/v1/contacts", "evaluation", S.alerts_manage, S.alerts_manage),
    PublicRoute("/v1/channels", "evaluation", S.alerts_manage, S.alerts_manage),
    PublicRoute("/v1/notification-rules", "evaluation", S.alerts_manage, S.alerts_manage),
    PublicRoute("/v1/notifications", "evaluation", S.alerts_manage, S.alerts_manage),
    PublicRoute("/v1/report-subscriptions", "evaluation", S.alerts_manage, S.alerts_manage, timeout=Timeout.report),
    # KPIs (docs/kpis.md): the catalogue and scorecards are read like reports; targets are definitions
    PublicRoute("/v1/kpis", "evaluation", S.reports_read, S.definitions_write),
    PublicRoute("/v1/kpi-targets", "evaluation", S.reports_read, S.definitions_write),
    PublicRoute("/v1/scorecards", "evaluation", S.reports_read, S.reports_read, timeout=Timeout.report),
    # feedback-svc
    PublicRoute("/v1/feedback", "feedback", S.feedback_read, S.feedback_write),
    PublicRoute("/v1/surveys", "feedback", S.feedback_read, S.feedback_write),
    PublicRoute("/v1/complaints", "feedback", S.complaints_read, S.complaints_manage),
    PublicRoute("/v1/corrective-actions", "feedback", S.complaints_read, S.complaints_manage),
    PublicRoute("/v1/practices", "feedback", S.complaints_read, S.complaints_manage),
    PublicRoute("/v1/risk-points", "feedback", S.complaints_read, S.complaints_manage),
    PublicRoute("/v1/customer-events", "feedback", S.feedback_read, S.feedback_write),
    PublicRoute("/v1/customers", "feedback", S.feedback_read, S.feedback_write),
    PublicRoute("/v1/reply-reviews", "feedback", S.feedback_read, S.feedback_write),
)


def match_route(path: str, table: tuple[PublicRoute, ...] = ROUTE_TABLE) -> PublicRoute | None:
    """The first entry whose pattern matches `path`; `/internal/...` and anything undeclared match nothing."""
    if not path.startswith("/v1/"):
        return None
    for route in table:
        if route.pattern.match(path):
            return route
    return None


def route_timeout(route: PublicRoute, settings: Settings) -> float:
    if route.timeout is Timeout.bulk:
        return settings.bulk_timeout_seconds
    if route.timeout is Timeout.report:
        return settings.report_timeout_seconds
    return settings.timeout_seconds


def route_body_limit(route: PublicRoute, settings: Settings) -> int:
    return settings.bulk_max_body_bytes if route.body_limit is BodyLimit.bulk else settings.max_body_bytes
