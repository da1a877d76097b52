"""The console's pure rules: passwords, roles, languages, sign-in rationing, months, the timeline's geometry."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pledge_common.scopes import Scope
from pledge_console import charts
from pledge_console.accounts.limiter import SignInLimiter
from pledge_console.accounts.rules import Role, can, hash_password, password_matches, password_problem, scopes_of
from pledge_console.i18n import STATE_LABELS, STATES, pick_language
from pledge_console.web.pages import PageError, month_window
from pledge_console.web.security import safe_next


class TestPasswords:
    def test_a_password_matches_its_own_hash_only(self) -> None:
        stored = hash_password("correct horse battery")
        assert stored.startswith("scrypt$")
        assert password_matches("correct horse battery", stored)
        assert not password_matches("correct horse batterY", stored)

    def test_two_hashes_of_one_password_differ_by_their_salt(self) -> None:
        assert hash_password("same password here") != hash_password("same password here")

    @pytest.mark.parametrize("stored", ["", "plain", "bcrypt$1$2$3$4$5", "scrypt$x$8$1$AAAA$AAAA"])
    def test_a_malformed_hash_never_matches(self, stored: str) -> None:
        assert not password_matches("anything at all", stored)

    def test_short_passwords_are_refused(self) -> None:
        assert password_problem("short") is not None
        assert password_problem("twelve chars") is None


class TestRoles:
    def test_viewer_reads_but_does_not_manage_alerts(self) -> None:
        assert can(Role.viewer, Scope.reports_read)
        assert not can(Role.viewer, Scope.alerts_manage)
        assert "alerts:manage" not in scopes_of(Role.viewer)

    def test_manager_manages_alerts_without_admin(self) -> None:
        assert can(Role.manager, Scope.alerts_manage)
        assert "admin" not in scopes_of(Role.manager)

    def test_admin_session_keys_carry_admin_only(self) -> None:
        assert scopes_of(Role.admin) == ["admin"]
        assert can(Role.admin, Scope.alerts_manage)


class TestLanguage:
    def test_the_cookie_wins_over_accept_language(self) -> None:
        assert pick_language("en", "zh-CN,zh;q=0.9") == "en"

    def test_accept_language_by_quality(self) -> None:
        assert pick_language(None, "fr;q=1, en;q=0.8, zh;q=0.5") == "en"
        assert pick_language(None, "en;q=0.2, zh-CN") == "zh"

    def test_chinese_when_nothing_we_speak_is_asked(self) -> None:
        assert pick_language("xx", "fr, de") == "zh"

    def test_the_seven_states_carry_the_source_documents_labels(self) -> None:
        assert [STATE_LABELS["zh"][s] for s in STATES] == [
            "正常完成",
            "可接受完成",
            "警告完成",
            "进行中·正常",
            "进行中·可接受",
            "进行中·警告",
            "已取消",
        ]
        assert STATE_LABELS["en"]["completed_normal"] == "completed normal"


class TestSignInLimiter:
    def test_failures_lock_one_account_from_one_address_only(self) -> None:
        limiter = SignInLimiter(burst=3, rate=0.01)
        for _ in range(3):
            assert limiter.retry_after("alice", "10.0.0.1", now=0.0) == 0
            limiter.failed("alice", "10.0.0.1", now=0.0)
        assert limiter.retry_after("alice", "10.0.0.1", now=0.0) > 0
        assert limiter.retry_after("alice", "10.0.0.2", now=0.0) == 0  # the holder elsewhere is not locked out
        assert limiter.retry_after("bob", "10.0.0.1", now=0.0) == 0

    def test_the_allowance_comes_back_with_time(self) -> None:
        limiter = SignInLimiter(burst=1, rate=0.5)
        limiter.failed("alice", "a", now=0.0)
        assert limiter.retry_after("alice", "a", now=0.0) == 2
        assert limiter.retry_after("alice", "a", now=2.0) == 0


class TestMonths:
    def test_a_month_is_its_local_days(self) -> None:
        tz = ZoneInfo("Asia/Shanghai")
        start, end = month_window("2026-12", tz)
        assert start == datetime(2026, 12, 1, tzinfo=tz)
        assert end == datetime(2027, 1, 1, tzinfo=tz)

    @pytest.mark.parametrize("month", ["2026-13", "december", "2026"])
    def test_a_malformed_month_is_a_422(self, month: str) -> None:
        with pytest.raises(PageError) as raised:
            month_window(month, ZoneInfo("UTC"))
        assert raised.value.status == 422


class TestNext:
    @pytest.mark.parametrize(
        "target", ["https://evil.example/", "//evil.example/console/", "/v1/alerts", "/console\\x"]
    )
    def test_only_console_paths_are_followed(self, target: str) -> None:
        assert safe_next(target) == "/console/status"

    def test_a_console_path_is_kept(self) -> None:
        assert safe_next("/console/alerts?state=open") == "/console/alerts?state=open"


class TestTimeline:
    def test_lanes_pauses_and_due_markers_fall_on_one_axis(self) -> None:
        runs = [
            {
                "node_key": "dispatch",
                "state": "completed_normal",
                "started_at": "2026-12-01T00:00:00Z",
                "completed_at": "2026-12-01T10:00:00Z",
                "pauses": [{"start": "2026-12-01T02:00:00Z", "end": "2026-12-01T04:00:00Z", "reason": "x"}],
                "commitment_due_at": "2026-12-01T08:00:00Z",
                "tolerance_due_at": "2026-12-01T10:00:00Z",
            },
            {"node_key": "repair", "state": "in_progress_normal", "started_at": "2026-12-01T05:00:00Z"},
        ]
        now = datetime(2026, 12, 1, 10, tzinfo=UTC)
        chart = charts.timeline(runs, now, lambda r: r["node_key"], lambda m: m.isoformat())
        assert chart is not None
        first, second = chart.lanes
        width = chart.plot_right - chart.plot_left
        assert first.run.x == chart.plot_left
        assert first.run.width == pytest.approx(width, abs=0.2)
        assert first.pauses[0].x == pytest.approx(chart.plot_left + width * 0.2, abs=0.2)
        assert first.pauses[0].width == pytest.approx(width * 0.2, abs=0.2)
        assert [m.kind for m in first.markers] == ["commitment", "tolerance"]
        assert first.markers[0].x == pytest.approx(chart.plot_left + width * 0.8, abs=0.2)
        assert second.open_ended
        assert second.run.x == pytest.approx(chart.plot_left + width * 0.5, abs=0.2)

    def test_no_started_run_draws_nothing(self) -> None:
        assert charts.timeline([{"node_key": "x", "started_at": None}], datetime.now(UTC), str, str) is None
