"""Pure rules of notifications, per worked example: routing, quiet hours, escalation targets and timing, digest
windows, message rendering in both languages."""

from datetime import UTC, datetime, time, timedelta

from evaluation_svc.notify.providers import chat_request, dingtalk_sign, feishu_sign, provider_error
from evaluation_svc.notify.rules import (
    AlertFacts,
    ContactView,
    Route,
    digest_window_end,
    digest_window_start,
    escalation_target,
    next_escalation_at,
    next_monthly_run,
    previous_billing_period,
    previous_month,
    render_alert,
    render_digest,
    report_link,
    responsible_contacts,
    route_matches,
    send_not_before,
)
from evaluation_svc.settlement.rules import Billing
from pledge_deadlines import Calendar, Window

SHANGHAI_OFFICE = Calendar("Asia/Shanghai", {d: [Window(time(9), time(18))] for d in range(5)})  # Mon-Fri 09:00-18:00


def cst(text: str) -> datetime:
    """A Shanghai wall-clock time as a UTC instant (UTC+8, no DST)."""
    return (datetime.fromisoformat(text) - timedelta(hours=8)).replace(tzinfo=UTC)


def facts(level: str = "prewarning", department: str | None = "ops", **over: str | None) -> AlertFacts:
    values: dict[str, str | None] = {"position": "engineer", "process": "repair", "node": "dispatch", "segment": "vip"}
    values.update(over)
    return AlertFacts(
        level, department, values["position"], str(values["process"]), values["node"], str(values["segment"])
    )


class TestRouting:
    def test_an_empty_rule_routes_everything(self) -> None:
        assert route_matches(Route(), facts())
        assert route_matches(Route(), facts(department=None, node=None))

    def test_each_filter_must_admit_the_alert(self) -> None:
        rule = Route(departments=frozenset({"ops"}), levels=frozenset({"warning"}))
        assert route_matches(rule, facts("warning"))
        assert not route_matches(rule, facts("prewarning"))
        assert not route_matches(rule, facts("warning", department="sales"))
        assert not route_matches(Route(departments=frozenset({"ops"})), facts(department=None))

    def test_position_process_node_and_segment_filters(self) -> None:
        assert route_matches(Route(positions=frozenset({"engineer"})), facts())
        assert not route_matches(Route(positions=frozenset({"manager"})), facts())
        assert not route_matches(Route(processes=frozenset({"install"})), facts())
        assert route_matches(Route(nodes=frozenset({"dispatch", "visit"})), facts())
        assert not route_matches(Route(nodes=frozenset({"visit"})), facts(node=None))
        assert not route_matches(Route(segments=frozenset({"residential"})), facts())

    def test_responsible_contacts_are_the_position_and_the_departments_desk(self) -> None:
        head = ContactView("1", "ops", None, "head@x.cn", None, "zh")
        engineer = ContactView("2", "ops", "engineer", "eng@x.cn", None, "en")
        manager = ContactView("3", "ops", "manager", "mgr@x.cn", None, "zh")
        other = ContactView("4", "sales", None, "s@x.cn", None, "zh")
        everyone = [head, engineer, manager, other]
        assert responsible_contacts(everyone, "ops", "engineer") == [head, engineer]
        assert responsible_contacts(everyone, "ops", None) == [head, engineer, manager]
        assert responsible_contacts(everyone, None, "engineer") == []


class TestQuietHours:
    def test_a_prewarning_at_two_in_the_morning_waits_for_nine(self) -> None:
        assert send_not_before("prewarning", cst("2026-03-03 02:00"), SHANGHAI_OFFICE) == cst("2026-03-03 09:00")

    def test_a_prewarning_on_saturday_waits_for_monday(self) -> None:
        assert send_not_before("prewarning", cst("2026-03-07 10:00"), SHANGHAI_OFFICE) == cst("2026-03-09 09:00")

    def test_a_prewarning_in_working_hours_goes_at_once(self) -> None:
        assert send_not_before("prewarning", cst("2026-03-03 10:00"), SHANGHAI_OFFICE) == cst("2026-03-03 10:00")

    def test_a_crossed_limit_never_waits(self) -> None:
        for level in ("acceptable", "warning"):
            assert send_not_before(level, cst("2026-03-03 02:00"), SHANGHAI_OFFICE) == cst("2026-03-03 02:00")

    def test_no_calendar_no_quiet_hours(self) -> None:
        assert send_not_before("prewarning", cst("2026-03-03 02:00"), None) == cst("2026-03-03 02:00")


class TestEscalation:
    TREE = {"ops": "network", "network": "company", "company": None}

    def test_up_the_department_tree(self) -> None:
        up = [escalation_target("ops", s, to_department=None, to_position=None, parents=self.TREE) for s in (1, 2, 3)]
        assert [(e.department, e.position) if e else None for e in up] == [("network", None), ("company", None), None]

    def test_a_department_without_a_parent_has_no_further_level(self) -> None:
        assert escalation_target("company", 1, to_department=None, to_position=None, parents=self.TREE) is None
        assert escalation_target(None, 1, to_department=None, to_position=None, parents=self.TREE) is None

    def test_a_cycle_in_the_tree_ends(self) -> None:
        loop = {"a": "b", "b": "a"}
        assert escalation_target("a", 3, to_department=None, to_position=None, parents=loop) is None

    def test_a_named_position_of_the_alerts_department_then_nothing_further(self) -> None:
        target = escalation_target("ops", 1, to_department=None, to_position="manager", parents=self.TREE)
        assert target is not None
        assert (target.department, target.position) == ("ops", "manager")
        assert escalation_target("ops", 2, to_department=None, to_position="manager", parents=self.TREE) is None

    def test_a_named_department(self) -> None:
        target = escalation_target("ops", 1, to_department="noc", to_position=None, parents=self.TREE)
        assert target is not None
        assert target.department == "noc"

    def test_timing(self) -> None:
        raised = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
        assert next_escalation_at(raised, timedelta(minutes=30), 1) == datetime(2026, 3, 3, 10, 30, tzinfo=UTC)
        assert next_escalation_at(raised, timedelta(minutes=30), 2) == datetime(2026, 3, 3, 11, 0, tzinfo=UTC)


def test_digest_windows() -> None:
    epoch = datetime(2026, 3, 3, tzinfo=UTC)
    at = datetime(2026, 3, 3, 10, 7, tzinfo=UTC)
    assert digest_window_start(at, timedelta(minutes=15), epoch) == datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
    assert digest_window_end(at, timedelta(minutes=15)) == datetime(2026, 3, 3, 10, 15, tzinfo=UTC)
    on_the_edge = datetime(2026, 3, 3, 10, 15, tzinfo=UTC)  # the next window's first instant
    assert digest_window_end(on_the_edge, timedelta(minutes=15)) == datetime(2026, 3, 3, 10, 30, tzinfo=UTC)


def test_a_digest_lists_the_most_severe_first() -> None:
    alerts = [
        {"level": "prewarning", "ticket_id": "T-1", "process": "repair", "due_at": "2026-03-03T09:00:00Z"},
        {"level": "warning", "ticket_id": "T-2", "process": "repair", "due_at": "2026-03-03T09:01:00Z"},
    ]
    content = render_digest(alerts, "ops", "en", None)
    assert content.subject == "ops: digest of 2 alerts"
    lines = content.text.splitlines()
    assert lines[2].startswith("Tolerance limit crossed (warning) · T-2")
    assert lines[3].startswith("Pre-warning · T-1")


ALERT = {
    "id": "0b6d3f4e-8a39-4d6e-9a51-1c1b1b1b1b1b",
    "level": "warning",
    "ticket_id": "T-1",
    "process": "repair",
    "node": "dispatch",
    "segment": "vip",
    "department": "ops",
    "position": "engineer",
    "due_at": "2026-03-03T09:00:00Z",
    "raised_at": "2026-03-03T09:00:01Z",
}


class TestRendering:
    def test_chinese_and_english(self) -> None:
        zh = render_alert(ALERT, "zh", console_url="https://console.example.cn/")
        assert zh.subject.startswith("已超忍耐时限 · 警告")
        assert "工单: T-1" in zh.text
        assert "https://console.example.cn/alerts/" + ALERT["id"] in zh.text
        en = render_alert(ALERT, "en")
        assert en.subject.startswith("Tolerance limit crossed (warning)")
        assert "Ticket: T-1" in en.text

    def test_the_tickets_own_reference_is_shown_when_known(self) -> None:
        content = render_alert({**ALERT, "external_id": "FR-2026-0042"}, "zh")
        assert "FR-2026-0042" in content.subject
        assert "工单: FR-2026-0042" in content.text

    def test_a_subject_is_one_line_whatever_the_ticket_says(self) -> None:
        content = render_alert({**ALERT, "external_id": "T-9\r\nBcc: victim@example.cn"}, "en")
        assert "\n" not in content.subject
        assert "\r" not in content.subject
        assert len(render_alert({**ALERT, "external_id": "x" * 1000}, "en").subject) == 200

    def test_an_escalation_says_so_and_html_is_escaped(self) -> None:
        content = render_alert({**ALERT, "ticket_id": "<script>"}, "zh", escalation_step=2)
        assert content.subject.startswith("【升级 2】")
        assert "<script>" not in content.html
        assert "&lt;script&gt;" in content.html


class TestProviderFormats:
    def test_dingtalk_sign_is_the_documented_hmac(self) -> None:
        # HMAC-SHA256 keyed with the secret over "timestamp\nsecret", base64 (computed independently)
        import base64
        import hashlib
        import hmac

        expected = base64.b64encode(hmac.new(b"SECabc", b"1700000000000\nSECabc", hashlib.sha256).digest()).decode()
        assert dingtalk_sign("SECabc", 1700000000000) == expected

    def test_feishu_sign_keys_with_timestamp_and_secret_over_nothing(self) -> None:
        import base64
        import hashlib
        import hmac

        expected = base64.b64encode(hmac.new(b"1700000000\nabc", b"", hashlib.sha256).digest()).decode()
        assert feishu_sign("abc", 1700000000) == expected

    def test_wecom_markdown_is_cut_to_its_byte_limit(self) -> None:
        import json

        content = {"subject": "s", "text": "t", "markdown": "预" * 3000, "mentions": ["zhangsan"]}
        body = json.loads(chat_request("wecom", "https://x/", None, content, now_ms=0, message_id="m").body)
        assert body["msgtype"] == "markdown"
        assert len(body["markdown"]["content"].encode()) <= 4096

    def test_provider_refusals_in_a_200(self) -> None:
        assert provider_error("dingtalk", 200, b'{"errcode":0,"errmsg":"ok"}') is None
        assert provider_error("dingtalk", 200, b'{"errcode":310000,"errmsg":"sign not match"}') is not None
        assert provider_error("feishu", 200, b'{"code":19021,"msg":"sign match fail"}') is not None
        assert provider_error("slack", 200, b"ok") is None
        assert provider_error("teams", 500, b"") == "HTTP 500"


class TestSchedules:
    def test_monthly_on_the_first_at_nine_in_shanghai(self) -> None:
        nine = time(9)
        before = datetime(2026, 3, 1, 0, 59, tzinfo=UTC)  # 08:59 in Shanghai
        assert next_monthly_run(before, 1, nine, "Asia/Shanghai") == datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
        on_time = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
        assert next_monthly_run(on_time, 1, nine, "Asia/Shanghai") == datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
        december = datetime(2026, 12, 15, tzinfo=UTC)
        assert next_monthly_run(december, 1, nine, "Asia/Shanghai") == datetime(2027, 1, 1, 1, 0, tzinfo=UTC)

    def test_the_report_covers_the_month_before_in_local_time(self) -> None:
        start, end = previous_month(datetime(2026, 4, 1, 1, 0, tzinfo=UTC), "Asia/Shanghai")
        assert (start, end) == (datetime(2026, 2, 28, 16, 0, tzinfo=UTC), datetime(2026, 3, 31, 16, 0, tzinfo=UTC))
        start, end = previous_month(datetime(2027, 1, 1, 1, 0, tzinfo=UTC), "Asia/Shanghai")
        assert start == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
        assert end == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)

    def test_a_review_covers_the_agreements_last_billing_period(self) -> None:
        monthly = Billing(period="month", timezone="Asia/Shanghai")
        march = previous_billing_period(monthly, datetime(2026, 4, 1, 1, 0, tzinfo=UTC))  # 1 April 09:00 local
        assert (march.label, march.start, march.end) == (
            "2026-03",
            datetime(2026, 2, 28, 16, 0, tzinfo=UTC),
            datetime(2026, 3, 31, 16, 0, tzinfo=UTC),
        )
        # 31 March 23:00 UTC is already 1 April in Shanghai: March is over there
        assert previous_billing_period(monthly, datetime(2026, 3, 31, 23, 0, tzinfo=UTC)).label == "2026-03"
        quarterly = Billing(period="quarter", timezone="UTC")
        assert previous_billing_period(quarterly, datetime(2026, 5, 1, tzinfo=UTC)).label == "2026-Q1"
        assert previous_billing_period(quarterly, datetime(2026, 1, 1, tzinfo=UTC)).label == "2025-Q4"

    def test_a_review_and_the_rankings_link_their_console_pages(self) -> None:
        assert report_link("review", "field", "sla/1") == "/reports/agreements/sla%2F1"
        assert report_link("rankings", "o&m", None) == "/reports/rankings?department=o%26m&by=position"
        assert report_link("status", "field", None) == "/reports/status?department=field"
