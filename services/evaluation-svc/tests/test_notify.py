"""Notifications: contacts, channels and rules through the API; messages to chat providers faked at their HTTP
edge (each checks the request as its documentation describes it, signatures included) and to a real local SMTP
server; escalation when nobody acknowledges; the delivery log."""

import asyncio
import base64
import hashlib
import hmac
import io
import json
import logging
import socket
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import openpyxl
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from evalfactories import agreement, at, calendar_w, commitment, node_run, process
from evaluation_svc.alerts import service as alerts
from evaluation_svc.alerts.service import scan_once
from evaluation_svc.config import Settings
from evaluation_svc.notify import service
from evaluation_svc.notify.schemas import ChannelCreate, ContactCreate, RuleCreate, ScheduleCreate
from evaluation_svc.notify.service import Notifier
from evaluation_svc.readmodel.service import Projection
from pledge_common.identity import SYSTEM
from pypdf import PdfReader
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

DINGTALK_SECRET = "SEC0123456789abcdef"
FEISHU_SECRET = "feishu-secret"


@dataclass
class Provider:
    """Fake chat providers: each route checks the request as the provider documents it and answers as it does."""

    base: str = ""
    received: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)


def _ok_json(payload: dict[str, Any]) -> web.Response:
    return web.json_response(payload)


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    state = Provider()

    async def wecom(request: web.Request) -> web.Response:
        body = await request.json()
        state.received.setdefault("wecom", []).append(body)
        ok = (
            request.query.get("key") == "k1"
            and body.get("msgtype") == "markdown"
            and isinstance(body.get("markdown", {}).get("content"), str)
            and len(body["markdown"]["content"].encode()) <= 4096
        )
        if not ok:
            state.refused.append("wecom")
            return _ok_json({"errcode": 40008, "errmsg": "invalid message type"})
        return _ok_json({"errcode": 0, "errmsg": "ok"})

    async def dingtalk(request: web.Request) -> web.Response:
        # 加签: timestamp in ms within an hour; sign = urlencode(base64(HmacSHA256(secret, timestamp+"\n"+secret)))
        body = await request.json()
        state.received.setdefault("dingtalk", []).append(body)
        timestamp, sign = request.query.get("timestamp", ""), request.query.get("sign", "")
        expected = base64.b64encode(
            hmac.new(DINGTALK_SECRET.encode(), f"{timestamp}\n{DINGTALK_SECRET}".encode(), hashlib.sha256).digest()
        ).decode()
        fresh = timestamp.isdigit() and abs(int(timestamp) - time.time() * 1000) < 3_600_000
        if request.query.get("access_token") != "t1" or not fresh or not hmac.compare_digest(sign, expected):
            state.refused.append("dingtalk sign")
            return _ok_json({"errcode": 310000, "errmsg": "sign not match"})
        markdown = body.get("markdown", {})
        if body.get("msgtype") != "markdown" or not markdown.get("title") or not markdown.get("text"):
            state.refused.append("dingtalk body")
            return _ok_json({"errcode": 40035, "errmsg": "缺少参数 json"})
        for user in body.get("at", {}).get("atUserIds", []):
            if f"@{user}" not in markdown["text"]:
                state.refused.append("dingtalk at")
        return _ok_json({"errcode": 0, "errmsg": "ok"})

    async def feishu(request: web.Request) -> web.Response:
        # timestamp (s) + "\n" + secret is the HMAC-SHA256 key over an empty message; base64; within an hour
        body = await request.json()
        state.received.setdefault("feishu", []).append(body)
        timestamp = str(body.get("timestamp", ""))
        key = f"{timestamp}\n{FEISHU_SECRET}".encode()
        expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        if not timestamp.isdigit() or abs(int(timestamp) - time.time()) > 3600 or body.get("sign") != expected:
            state.refused.append("feishu sign")
            return _ok_json(
                {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
            )
        if body.get("msg_type") != "text" or not isinstance(body.get("content", {}).get("text"), str):
            state.refused.append("feishu body")
            return _ok_json({"code": 19002, "msg": "params error"})
        return _ok_json({"code": 0, "msg": "success", "data": {}})

    async def slack(request: web.Request) -> web.Response:
        body = await request.json()
        state.received.setdefault("slack", []).append(body)
        return (
            web.Response(text="ok") if isinstance(body.get("text"), str) else web.Response(status=400, text="no_text")
        )

    async def teams(request: web.Request) -> web.Response:
        body = await request.json()
        state.received.setdefault("teams", []).append(body)
        attachment = (body.get("attachments") or [{}])[0]
        ok = (
            body.get("type") == "message"
            and attachment.get("contentType") == "application/vnd.microsoft.card.adaptive"
            and attachment.get("content", {}).get("type") == "AdaptiveCard"
        )
        return web.Response(status=202 if ok else 400)

    async def down(request: web.Request) -> web.Response:
        state.received.setdefault("down", []).append(await request.json())
        return web.Response(status=503, text="upstream unavailable " + "x" * 2000)

    app = web.Application()
    for path, handler in (("/cgi-bin/webhook/send", wecom), ("/robot/send", dingtalk),
                          ("/open-apis/bot/v2/hook/h1", feishu), ("/services/T/B/X", slack),
                          ("/teams", teams), ("/down", down)):  # fmt: skip
        app.router.add_post(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.base = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        await runner.cleanup()


class Sink:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    sink = Sink()
    with socket.socket() as probe:  # a free port (aiosmtpd checks readiness by connecting to the port it was given)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def notifier_settings(settings: Settings, smtp_port: int | None = None) -> Settings:
    return settings.model_copy(
        update={
            "notify_backoff_seconds": 0.001,
            "notify_backoff_max_seconds": 0.002,
            "notify_max_attempts": 2,
            "smtp_host": "127.0.0.1" if smtp_port else None,
            "smtp_port": smtp_port or 25,
            "smtp_security": "none",
            "smtp_from": "pledge@example.cn",
            "console_url": "https://console.example.cn",
        }
    )


async def raise_prewarning(maker: async_sessionmaker[AsyncSession], department: str = "field") -> None:
    async with maker() as session, session.begin():
        projection = Projection()
        await projection.handle_commitment(session, [calendar_w(), process(), commitment()])
        await projection.handle_tracking(
            session, [node_run("n1", started=at("2026-03-03 10:00"), department=department)]
        )
        await scan_once(session, at("2026-03-03 16:00"), 100)  # the prewarning (15:48)


async def end_run(maker: async_sessionmaker[AsyncSession]) -> None:
    async with maker() as session, session.begin():
        run = node_run("n1", started=at("2026-03-03 10:00"), completed=at("2026-03-03 16:30"))
        await Projection().handle_tracking(session, [run])


async def run_rounds(notifier: Notifier, rounds: int = 5) -> None:
    for _ in range(rounds):
        await notifier.tick()
        await asyncio.sleep(0.01)


async def log_rows(maker: async_sessionmaker[AsyncSession]) -> list[dict[str, Any]]:
    async with maker() as session:
        rows = await session.execute(text("SELECT * FROM notify_messages ORDER BY created_at, id"))
        return [dict(r) for r in rows.mappings()]


class TestApi:
    async def test_contacts_are_paged_and_filtered(self, client: httpx.AsyncClient) -> None:
        for i in range(3):
            created = await client.post(
                "/v1/contacts",
                json={"department": "field", "position": "engineer" if i else None, "name": f"P{i}",
                      "email": f"p{i}@example.cn", "language": "en" if i == 2 else "zh"},
            )  # fmt: skip
            assert created.status_code == 201, created.text
        first = await client.get("/v1/contacts", params={"limit": 2})
        assert len(first.json()["items"]) == 2
        assert first.json()["next_cursor"]
        second = await client.get("/v1/contacts", params={"limit": 2, "cursor": first.json()["next_cursor"]})
        assert [c["name"] for c in second.json()["items"]] == ["P2"]
        engineers = await client.get("/v1/contacts", params={"position": "engineer"})
        assert {c["name"] for c in engineers.json()["items"]} == {"P1", "P2"}

    async def test_a_contact_needs_a_way_to_reach_it(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/contacts", json={"department": "field", "name": "Nobody"})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body.email"
        response = await client.post("/v1/contacts", json={"department": "field", "name": "X", "email": "not-an-email"})
        assert response.status_code == 422

    async def test_a_secret_is_never_answered(self, client: httpx.AsyncClient, provider: Provider) -> None:
        created = await client.post(
            "/v1/channels",
            json={"kind": "dingtalk", "name": "ops group", "url": f"{provider.base}/robot/send?access_token=t1",
                  "secret": DINGTALK_SECRET},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        assert "secret" not in created.json()
        assert created.json()["has_secret"] is True
        listed = await client.get("/v1/channels")
        assert DINGTALK_SECRET not in listed.text
        read = await client.get(f"/v1/channels/{created.json()['id']}")
        assert DINGTALK_SECRET not in read.text

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"kind": "wecom", "name": "x", "url": "http://10.0.0.5/cgi-bin/webhook/send?key=k"}, "body.url"),
            ({"kind": "slack", "name": "x", "url": "http://169.254.169.254/latest"}, "body.url"),
            ({"kind": "slack", "name": "x"}, "body.url"),
            ({"kind": "email", "name": "x", "url": "https://example.cn/"}, "body.url"),
            ({"kind": "webhook", "name": "x", "url": "http://127.0.0.1:9/h"}, "body.secret"),
            ({"kind": "webhook", "name": "x", "url": "http://127.0.0.1:9/h", "secret": "plain"}, "body.secret"),
        ],
    )
    async def test_channels_refuse_private_targets_and_bad_secrets(
        self, client: httpx.AsyncClient, body: dict[str, Any], field: str
    ) -> None:
        response = await client.post("/v1/channels", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field

    async def test_rules_name_existing_channels_and_creation_is_idempotent(self, client: httpx.AsyncClient) -> None:
        missing = await client.post("/v1/notification-rules", json={"name": "r", "channel_ids": [str(uuid.uuid4())]})
        assert missing.status_code == 422
        assert missing.json()["errors"][0]["field"] == "body.channel_ids"
        channel = (await client.post("/v1/channels", json={"kind": "email", "name": "mail"})).json()
        body = {
            "name": "ops warnings",
            "levels": ["warning"],
            "channel_ids": [channel["id"]],
            "escalate_after": "PT30M",
        }
        headers = {"Idempotency-Key": "rule-1"}
        first = await client.post("/v1/notification-rules", json=body, headers=headers)
        again = await client.post("/v1/notification-rules", json=body, headers=headers)
        assert first.status_code == again.status_code == 201
        assert first.json()["id"] == again.json()["id"]
        assert first.json()["escalate_after"] == "PT30M"
        listed = await client.get("/v1/notification-rules")
        assert [r["id"] for r in listed.json()["items"]] == [first.json()["id"]]
        used = await client.delete(f"/v1/channels/{channel['id']}")
        assert used.status_code == 409

    async def test_report_subscriptions(self, client: httpx.AsyncClient) -> None:
        channel = (await client.post("/v1/channels", json={"kind": "email", "name": "mail"})).json()
        bad = await client.post(
            "/v1/report-subscriptions",
            json={"name": "m", "department": "field", "timezone": "Mars/Olympus", "channel_ids": [channel["id"]]},
        )
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "body.timezone"
        late = await client.post(
            "/v1/report-subscriptions",
            json={"name": "m", "department": "field", "day_of_month": 31, "channel_ids": [channel["id"]]},
        )
        assert late.status_code == 422
        created = await client.post(
            "/v1/report-subscriptions", json={"name": "m", "department": "field", "channel_ids": [channel["id"]]}
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert (body["day_of_month"], body["at_time"], body["timezone"]) == (1, "09:00", "Asia/Shanghai")
        assert body["next_run_at"].endswith("T01:00:00Z")  # 09:00 in Shanghai
        listed = await client.get("/v1/report-subscriptions", params={"department": "field"})
        assert [x["id"] for x in listed.json()["items"]] == [body["id"]]
        sent = await client.post(f"/v1/report-subscriptions/{body['id']}/send")
        assert sent.status_code == 202
        assert datetime.fromisoformat(sent.json()["next_run_at"]) <= datetime.now(UTC)
        assert (await client.post(f"/v1/report-subscriptions/{uuid.uuid4()}/send")).status_code == 404
        assert (await client.delete(f"/v1/report-subscriptions/{body['id']}")).status_code == 204
        assert (await client.get(f"/v1/report-subscriptions/{body['id']}")).status_code == 404

    async def test_a_review_subscription_names_an_existing_agreement(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await Projection().handle_commitment(session, [agreement()])
        channel = (await client.post("/v1/channels", json={"kind": "email", "name": "mail"})).json()
        base = {"name": "m", "department": "field", "channel_ids": [channel["id"]]}
        refused = [
            ({"report": "review"}, "body.agreement"),  # a review names its agreement
            ({"report": "review", "agreement": "no-such-sla"}, "body.agreement"),
            ({"report": "status", "agreement": "sla-1"}, "body.agreement"),  # not applied: refused
            ({"report": "rankings", "format": "pdf"}, "body.format"),
        ]
        for extra, field_name in refused:
            response = await client.post("/v1/report-subscriptions", json=base | extra)
            assert response.status_code == 422, extra
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["errors"][0]["field"] == field_name, extra
        review = await client.post("/v1/report-subscriptions", json=base | {"report": "review", "agreement": "sla-1"})
        assert review.status_code == 201, review.text
        assert (review.json()["format"], review.json()["agreement"]) == ("pdf", "sla-1")
        ranked = await client.post("/v1/report-subscriptions", json=base | {"report": "rankings"})
        assert (ranked.json()["format"], ranked.json()["agreement"]) == ("xlsx", None)

    async def test_a_rule_names_a_known_calendar(self, client: httpx.AsyncClient) -> None:
        channel = (await client.post("/v1/channels", json={"kind": "email", "name": "mail"})).json()
        body = {"name": "r", "channel_ids": [channel["id"]], "quiet_calendar": "no-such-calendar"}
        response = await client.post("/v1/notification-rules", json=body)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body.quiet_calendar"

    async def test_the_log_refuses_an_unknown_status(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/notifications", params={"status": "lost"})
        assert response.status_code == 422


async def setup_routing(
    maker: async_sessionmaker[AsyncSession], settings: Settings, channels: list[dict[str, Any]], **rule: Any
) -> list[str]:
    async with maker() as session, session.begin():
        ids = [str((await service.create_channel(session, settings, ChannelCreate(**c))).id) for c in channels]
        await service.create_contact(
            session, ContactCreate(department="field", name="王主任", email="head@example.cn", chat_handle="wangzr")
        )
        await service.create_contact(
            session,
            ContactCreate(department="field", position="engineer", name="Li", email="li@example.cn", language="en"),
        )
        await service.create_rule(session, RuleCreate(name="field", channel_ids=ids, **rule))  # type: ignore[arg-type]
    return ids


class TestDelivery:
    async def test_chat_providers_receive_their_documented_formats(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings, provider: Provider
    ) -> None:
        s = notifier_settings(settings)
        await setup_routing(
            committed,
            s,
            [
                {"kind": "wecom", "name": "wecom", "url": f"{provider.base}/cgi-bin/webhook/send?key=k1"},
                {"kind": "dingtalk", "name": "ding", "url": f"{provider.base}/robot/send?access_token=t1",
                 "secret": DINGTALK_SECRET},
                {"kind": "feishu", "name": "feishu", "url": f"{provider.base}/open-apis/bot/v2/hook/h1",
                 "secret": FEISHU_SECRET, "language": "en"},
                {"kind": "slack", "name": "slack", "url": f"{provider.base}/services/T/B/X"},
                {"kind": "teams", "name": "teams", "url": f"{provider.base}/teams"},
            ],
        )  # fmt: skip
        await raise_prewarning(committed)
        notifier = Notifier(committed, s)
        try:
            await run_rounds(notifier)
        finally:
            await notifier.aclose()
        assert provider.refused == []
        assert {k: len(v) for k, v in provider.received.items()} == {
            "wecom": 1, "dingtalk": 1, "feishu": 1, "slack": 1, "teams": 1
        }  # fmt: skip
        wecom = provider.received["wecom"][0]["markdown"]["content"]
        assert wecom.startswith("### 预警")
        assert "<@wangzr>" in wecom
        assert provider.received["dingtalk"][0]["at"]["atUserIds"] == ["wangzr"]
        assert provider.received["feishu"][0]["content"]["text"].startswith("Pre-warning")
        rows = await log_rows(committed)
        assert {r["status"] for r in rows} == {"sent"}
        assert all(r["attempts"] == 1 for r in rows)
        assert {r["response_status"] for r in rows} == {200, 202}
        ding = next(r for r in rows if r["channel_kind"] == "dingtalk")
        assert json.loads(ding["response_excerpt"]) == {"errcode": 0, "errmsg": "ok"}

    async def test_a_wrong_signature_is_a_failure_with_the_providers_answer(
        self,
        committed: async_sessionmaker[AsyncSession],
        settings: Settings,
        provider: Provider,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        s = notifier_settings(settings)
        url = f"{provider.base}/robot/send?access_token=t1"
        await setup_routing(committed, s, [{"kind": "dingtalk", "name": "d", "url": url, "secret": "SECwrong"}])
        await raise_prewarning(committed)
        notifier = Notifier(committed, s)
        try:
            await run_rounds(notifier)
        finally:
            await notifier.aclose()
        [row] = await log_rows(committed)
        assert row["status"] == "failed"
        assert row["attempts"] == 2
        assert row["error"].startswith("provider code 310000")
        assert "sign not match" in row["response_excerpt"]

    async def test_a_failing_provider_is_retried_then_failed_with_an_excerpt(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings, provider: Provider
    ) -> None:
        s = notifier_settings(settings)
        await setup_routing(committed, s, [{"kind": "slack", "name": "down", "url": f"{provider.base}/down"}])
        await raise_prewarning(committed)
        notifier = Notifier(committed, s)
        try:
            await notifier.tick()
            [row] = await log_rows(committed)
            assert row["status"] == "retrying"
            assert row["error"] == "HTTP 503"
            await run_rounds(notifier)
        finally:
            await notifier.aclose()
        [row] = await log_rows(committed)
        assert row["status"] == "failed"
        assert row["attempts"] == 2
        assert len(row["response_excerpt"]) == 500
        assert len(provider.received["down"]) == 2

    async def test_a_message_failed_for_good_is_told_to_the_admins(
        self,
        committed: async_sessionmaker[AsyncSession],
        settings: Settings,
        provider: Provider,
        smtp: tuple[Sink, int],
    ) -> None:
        sink, port = smtp
        s = notifier_settings(settings, port).model_copy(update={"notify_admin_emails": ["admin@example.cn"]})
        await setup_routing(committed, s, [{"kind": "slack", "name": "ops-slack", "url": f"{provider.base}/down"}])
        await raise_prewarning(committed)
        notifier = Notifier(committed, s)
        try:
            await run_rounds(notifier)
        finally:
            await notifier.aclose()
        [told] = [m for m in sink.messages if m["To"] == "admin@example.cn"]
        assert told["Subject"] == "通知发送失败: slack → ops-slack"
        body = told.get_body(preferencelist=("plain",))
        assert body is not None
        assert "HTTP 503" in body.get_content()
        rows = {r["reason"]: r["status"] for r in await log_rows(committed)}
        assert rows == {"alert": "failed", "failure": "sent"}

    async def test_email_in_each_contacts_language_through_smtp(
        self,
        committed: async_sessionmaker[AsyncSession],
        settings: Settings,
        smtp: tuple[Sink, int],
    ) -> None:
        sink, port = smtp
        s = notifier_settings(settings, port)
        await setup_routing(committed, s, [{"kind": "email", "name": "mail"}])
        await raise_prewarning(committed)
        notifier = Notifier(committed, s)
        try:
            await run_rounds(notifier)
        finally:
            await notifier.aclose()
        by_to = {m["To"]: m for m in sink.messages}
        assert set(by_to) == {"head@example.cn", "li@example.cn"}
        head = by_to["head@example.cn"]
        assert head["Subject"].startswith("预警")
        assert head["From"] == "pledge@example.cn"
        text_part = head.get_body(preferencelist=("plain",))
        html_part = head.get_body(preferencelist=("html",))
        assert text_part is not None
        assert "工单: " in text_part.get_content()
        assert html_part is not None
        assert "https://console.example.cn/alerts/" in html_part.get_content()
        assert by_to["li@example.cn"]["Subject"].startswith("Pre-warning")
        rows = await log_rows(committed)
        assert {(r["recipient"], r["status"], r["response_status"]) for r in rows} == {
            ("head@example.cn", "sent", 250), ("li@example.cn", "sent", 250)
        }  # fmt: skip

    async def test_without_smtp_an_email_fails_and_says_why(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings
    ) -> None:
        s = notifier_settings(settings)
        await setup_routing(committed, s, [{"kind": "email", "name": "mail"}], positions=["engineer"])
        await raise_prewarning(committed)
        notifier = Notifier(committed, s)
        try:
            await run_rounds(notifier)
        finally:
            await notifier.aclose()
        rows = await log_rows(committed)
        assert rows
        assert all(r["status"] == "failed" and "SMTP is not configured" in r["error"] for r in rows)

    async def test_two_replicas_plan_and_send_each_message_once(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings, smtp: tuple[Sink, int]
    ) -> None:
        sink, port = smtp
        s = notifier_settings(settings, port)
        await setup_routing(committed, s, [{"kind": "email", "name": "mail"}])
        await raise_prewarning(committed)
        replicas = [Notifier(committed, s), Notifier(committed, s)]
        try:
            for _ in range(4):
                await asyncio.gather(*(r.tick() for r in replicas))
        finally:
            for r in replicas:
                await r.aclose()
        assert sorted(m["To"] for m in sink.messages) == ["head@example.cn", "li@example.cn"]
        assert len(await log_rows(committed)) == 2

    async def test_a_prewarning_in_quiet_hours_waits_for_working_hours(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings, provider: Provider
    ) -> None:
        s = notifier_settings(settings)
        url = f"{provider.base}/services/T/B/X"
        await raise_prewarning(committed)  # the calendar cn-office arrives with it
        await setup_routing(committed, s, [{"kind": "slack", "name": "s", "url": url}], quiet_calendar="cn-office")
        # planned on Wednesday 2027-03-03 at 02:00 in Shanghai: the office opens at 09:00 (01:00 UTC)
        async with committed() as session, session.begin():
            assert await service.plan_once(session, s, datetime(2027, 3, 2, 18, 0, tzinfo=UTC)) == 1
        notifier = Notifier(committed, s)
        try:
            await run_rounds(notifier, 2)
        finally:
            await notifier.aclose()
        [row] = await log_rows(committed)
        assert row["not_before"] == datetime(2027, 3, 3, 1, 0, tzinfo=UTC)
        assert row["status"] == "queued"
        assert row["attempts"] == 0
        assert provider.received == {}


class TestIsolation:
    async def test_a_report_that_cannot_be_built_does_not_hold_up_the_alerts(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings, provider: Provider
    ) -> None:
        s = notifier_settings(settings)
        url = f"{provider.base}/services/T/B/X"
        [channel_id] = await setup_routing(committed, s, [{"kind": "slack", "name": "s", "url": url}])
        async with committed() as session, session.begin():  # a broken row (the API refuses such a zone)
            await session.execute(
                text(
                    "INSERT INTO notify_schedules (id, name, department, report, format, day_of_month, at_time, "
                    "timezone, channel_ids, next_run_at) VALUES (gen_random_uuid(), 'b', 'field', 'status', 'xlsx', "
                    "1, '09:00', 'Nowhere/Bogus', ARRAY[CAST(:c AS uuid)], now() - interval '1 minute')"
                ),
                {"c": channel_id},
            )
        await raise_prewarning(committed)
        notifier = Notifier(committed, s)
        try:
            await run_rounds(notifier, 2)
        finally:
            await notifier.aclose()
        assert len(provider.received["slack"]) == 1  # the alert went all the same
        [row] = await log_rows(committed)
        assert row["reason"] == "alert"
        assert row["status"] == "sent"


class TestChannelDisabled:
    async def test_messages_of_a_disabled_channel_are_skipped(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings, provider: Provider
    ) -> None:
        s = notifier_settings(settings)
        url = f"{provider.base}/services/T/B/X"
        [channel_id] = await setup_routing(committed, s, [{"kind": "slack", "name": "s", "url": url}])
        await raise_prewarning(committed)
        async with committed() as session, session.begin():
            await service.plan_once(session, s, datetime.now(UTC))
            await session.execute(text("UPDATE notify_channels SET enabled = false WHERE id = :i"), {"i": channel_id})
        notifier = Notifier(committed, s)
        try:
            await run_rounds(notifier, 2)
        finally:
            await notifier.aclose()
        [row] = await log_rows(committed)
        assert row["status"] == "skipped"
        assert row["error"] == "the channel was disabled before the message went"
        assert provider.received == {}


class TestEscalation:
    async def test_an_unacknowledged_alert_climbs_the_department_tree_and_acknowledging_stops_it(
        self,
        committed: async_sessionmaker[AsyncSession],
        settings: Settings,
        smtp: tuple[Sink, int],
    ) -> None:
        sink, port = smtp
        s = notifier_settings(settings, port)
        async with committed() as session, session.begin():
            await session.execute(text("DELETE FROM ref_departments"))
            await session.execute(
                text("INSERT INTO ref_departments (key, name, parent_key) VALUES "
                     "('field', 'Field', 'region'), ('region', 'Region', 'hq'), ('hq', 'HQ', NULL)")
            )  # fmt: skip
            await service.create_contact(
                session, ContactCreate(department="region", name="区域经理", email="region@example.cn")
            )
            await service.create_contact(session, ContactCreate(department="hq", name="总部", email="hq@example.cn"))
        await setup_routing(committed, s, [{"kind": "email", "name": "mail"}], positions=["engineer"],
                            escalate_after="PT1S", escalate_levels=3)  # fmt: skip
        await raise_prewarning(committed)
        notifier = Notifier(committed, s)
        try:
            await notifier.tick()  # the prewarning itself
            async with committed() as session:
                raised = await session.scalar(text("SELECT raised_at FROM alerts"))
            await asyncio.sleep(max(0.0, (raised + timedelta(seconds=1.05) - datetime.now(UTC)).total_seconds()))
            await notifier.tick()  # step 1: the region (step 2 falls due one second later)
            async with committed() as session:
                alert_id = await session.scalar(text("SELECT id FROM alerts"))
            async with committed() as session, session.begin():
                await alerts.acknowledge(session, SYSTEM, alert_id, "on it")
            await asyncio.sleep(1.0)
            await run_rounds(notifier)  # step 2 (hq) is not sent: acknowledged
        finally:
            await notifier.aclose()
        assert sorted(m["To"] for m in sink.messages) == ["head@example.cn", "li@example.cn", "region@example.cn"]
        region = next(m for m in sink.messages if m["To"] == "region@example.cn")
        assert region["Subject"].startswith("【升级 1】")
        async with committed() as session:
            [e] = (await session.execute(text("SELECT * FROM notify_escalations"))).mappings().all()
        assert e["step"] == 1
        assert e["department"] == "region"
        assert e["closed_reason"] == "acknowledged"
        assert e["history"][0]["department"] == "region"
        async with committed() as session:
            log = await service.list_notifications(
                session, status=(), reason=["escalation"], alert_id=alert_id, channel_id=None, cursor=None, limit=10
            )
        assert [(n.recipient, n.escalation_step) for n in log.items] == [("region@example.cn", 1)]

    async def test_resolution_closes_the_escalation_and_skips_queued_messages(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings
    ) -> None:
        s = notifier_settings(settings)  # no SMTP: nothing could be sent anyway
        await setup_routing(committed, s, [{"kind": "email", "name": "mail"}], escalate_after="PT0.1S")
        await raise_prewarning(committed)
        async with committed() as session, session.begin():
            await service.plan_once(session, s, at("2026-03-03 16:00"))
        async with committed() as session, session.begin():
            await Projection().handle_tracking(
                session, [node_run("n1", started=at("2026-03-03 10:00"), completed=at("2026-03-03 16:30"))]
            )
        await asyncio.sleep(0.15)
        notifier = Notifier(committed, s)
        try:
            await run_rounds(notifier, 2)
        finally:
            await notifier.aclose()
        rows = await log_rows(committed)
        assert rows
        assert {r["status"] for r in rows} == {"skipped"}
        async with committed() as session:
            reason = await session.scalar(text("SELECT closed_reason FROM notify_escalations"))
        assert reason == "resolved"


class TestScheduledReports:
    async def test_the_monthly_status_table_arrives_as_xlsx_by_email(
        self,
        committed: async_sessionmaker[AsyncSession],
        settings: Settings,
        smtp: tuple[Sink, int],
        client: httpx.AsyncClient,
    ) -> None:
        sink, port = smtp
        s = notifier_settings(settings, port)
        await setup_routing(committed, s, [{"kind": "email", "name": "mail"}])
        await raise_prewarning(committed)  # a run of March at the field department
        async with committed() as session, session.begin():
            channel_id = await session.scalar(text("SELECT id FROM notify_channels"))
            created = await service.create_schedule(
                session,
                ScheduleCreate(name="monthly", department="field", channel_ids=[channel_id]),
                datetime(2026, 3, 20, tzinfo=UTC),
            )
        assert created.next_run_at == datetime(2026, 4, 1, 1, 0, tzinfo=UTC)  # the 1st, 09:00 in Shanghai
        notifier = Notifier(committed, s)
        try:
            await run_rounds(notifier, 3)
        finally:
            await notifier.aclose()
        head = [m for m in sink.messages if m["To"] == "head@example.cn" and "状态表" in m["Subject"]]
        assert len(head) == 1
        assert head[0]["Subject"] == "服务承诺执行状态表: field (2026-02-28 - 2026-03-31)"
        [attachment] = list(head[0].iter_attachments())
        assert attachment.get_filename() == "status-field-2026-03.xlsx"
        data = attachment.get_content()
        assert data[:2] == b"PK"  # a zip: the XLSX container
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            strings = book.read("xl/sharedStrings.xml").decode() if "xl/sharedStrings.xml" in book.namelist() else ""
            sheet = book.read("xl/worksheets/sheet1.xml").decode()
        assert "fault-repair" in strings + sheet  # the department's process, one of its rows
        async with committed() as session:
            row = (await session.execute(text("SELECT next_run_at, last_run_at FROM notify_schedules"))).one()
        assert row.next_run_at > datetime.now(UTC)
        assert row.last_run_at is not None
        rows = [r for r in await log_rows(committed) if r["reason"] == "report"]
        assert {(r["recipient"], r["status"]) for r in rows} == {("head@example.cn", "sent"), ("li@example.cn", "sent")}


class TestDigests:
    async def test_the_alerts_of_a_window_go_as_one_message_per_recipient(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings, smtp: tuple[Sink, int]
    ) -> None:
        sink, port = smtp
        s = notifier_settings(settings, port)
        await setup_routing(committed, s, [{"kind": "email", "name": "mail"}], digest_every="PT1M")
        async with committed() as session, session.begin():
            projection = Projection()
            await projection.handle_commitment(session, [calendar_w(), process(), commitment()])
            runs = [node_run(f"d{i}", started=at("2026-03-03 10:00"), department="field") for i in range(5)]
            await projection.handle_tracking(session, runs)
            await scan_once(session, at("2026-03-03 16:00"), 100)  # five prewarnings at once
        planned_at = datetime(2026, 3, 3, 8, 0, 30, tzinfo=UTC)
        async with committed() as session, session.begin():
            assert await service.plan_once(session, s, planned_at) == 5
            assert await service.digest_once(session, s, planned_at) == 0  # the window is still open
            held = await session.scalar(text("SELECT count(*) FROM notify_digest_items"))
            window_end = await session.scalar(text("SELECT DISTINCT window_end FROM notify_digest_items"))
        assert held == 5
        assert window_end == datetime(2026, 3, 3, 8, 1, tzinfo=UTC)  # the digest goes when its minute ends
        notifier = Notifier(committed, s)
        try:
            await run_rounds(notifier, 3)  # that minute is long past: the digest goes now
        finally:
            await notifier.aclose()
        head = [m for m in sink.messages if m["To"] == "head@example.cn"]
        assert len(head) == 1
        assert head[0]["Subject"] == "field: 5 条预警汇总"
        body = head[0].get_body(preferencelist=("plain",))
        assert body is not None
        assert body.get_content().count("预警 · ") == 5
        assert len([m for m in sink.messages if m["To"] == "li@example.cn"]) == 1
        rows = await log_rows(committed)
        assert {(r["reason"], r["status"]) for r in rows} == {("digest", "sent")}
        assert len(rows) == 2

    async def test_a_digest_leaves_out_resolved_alerts(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings
    ) -> None:
        s = notifier_settings(settings)
        await setup_routing(committed, s, [{"kind": "email", "name": "mail"}], digest_every="PT1M")
        await raise_prewarning(committed)
        async with committed() as session, session.begin():
            await service.plan_once(session, s, datetime(2026, 3, 3, 8, 0, 30, tzinfo=UTC))
        await end_run(committed)
        async with committed() as session, session.begin():
            assert await service.digest_once(session, s, datetime.now(UTC)) == 1
        assert await log_rows(committed) == []

    async def test_the_achievement_report_too(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings, smtp: tuple[Sink, int]
    ) -> None:
        sink, port = smtp
        s = notifier_settings(settings, port)
        await setup_routing(committed, s, [{"kind": "email", "name": "mail"}], levels=["warning"])
        await raise_prewarning(committed)
        async with committed() as session, session.begin():
            channel_id = await session.scalar(text("SELECT id FROM notify_channels"))
            body = ScheduleCreate(name="m", department="field", report="achievement", channel_ids=[channel_id])
            created = await service.create_schedule(session, body, datetime(2026, 3, 20, tzinfo=UTC))
            await service.send_schedule_now(session, created.id, datetime(2026, 4, 1, 1, 0, tzinfo=UTC))
        notifier = Notifier(committed, s)
        try:
            await run_rounds(notifier, 2)
        finally:
            await notifier.aclose()
        [head] = [m for m in sink.messages if m["To"] == "head@example.cn"]
        assert head["Subject"] == "服务承诺达成率: field (2026-02-28 - 2026-03-31)"
        [attachment] = list(head.iter_attachments())
        assert attachment.get_filename() == "achievement-field-2026-03.xlsx"
        assert attachment.get_content()[:2] == b"PK"


class TestReviewsAndRankings:
    async def test_an_agreements_review_arrives_as_pdf_for_its_last_billing_period(
        self,
        committed: async_sessionmaker[AsyncSession],
        settings: Settings,
        smtp: tuple[Sink, int],
        client: httpx.AsyncClient,
    ) -> None:
        sink, port = smtp
        s = notifier_settings(settings, port)
        await setup_routing(committed, s, [{"kind": "email", "name": "mail"}], levels=["warning"])
        await raise_prewarning(committed)  # a run of March at the field department
        async with committed() as session, session.begin():
            billing = {"period": "month", "timezone": "Asia/Shanghai", "currency": "CNY"}
            await Projection().handle_commitment(session, [agreement(billing=billing)])
            channel_id = await session.scalar(text("SELECT id FROM notify_channels"))
            body = ScheduleCreate(
                name="review", department="field", report="review", agreement="sla-1", channel_ids=[channel_id]
            )
            created = await service.create_schedule(session, body, datetime(2026, 3, 20, tzinfo=UTC))
            # run on 1 April 09:00 in Shanghai: the last billing period is March (Shanghai's)
            await service.send_schedule_now(session, created.id, datetime(2026, 4, 1, 1, 0, tzinfo=UTC))
        notifier = Notifier(committed, s)
        try:
            await run_rounds(notifier, 2)
        finally:
            await notifier.aclose()
        [head] = [m for m in sink.messages if m["To"] == "head@example.cn"]
        assert head["Subject"] == "服务协议评审: sla-1 (2026-02-28 - 2026-03-31)"
        [attachment] = list(head.iter_attachments())
        assert attachment.get_filename() == "review-sla-1-2026-03.pdf"
        assert attachment.get_content_type() == "application/pdf"
        reader = PdfReader(io.BytesIO(attachment.get_content()))
        pdf = "\n".join(page.extract_text() for page in reader.pages)
        assert "Agreement sla-1" in pdf  # its title
        assert "Period: 2026-02-28 16:00 UTC to 2026-03-31 16:00 UTC" in pdf
        assert "repair-residential" in pdf  # the commitment it covers, judged over March
        # the document the API answers for that period, built by the same code (only the issuing instant differs)
        period = {"from": "2026-02-28T16:00:00Z", "to": "2026-03-31T16:00:00Z"}
        answered = await client.get(
            "/v1/reports/agreements/sla-1", params=period, headers={"Accept": "application/pdf"}
        )
        assert answered.status_code == 200, answered.text
        api = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(answered.content)).pages)

        def issued_left_out(text_: str) -> list[str]:
            return [line for line in text_.splitlines() if not line.startswith("Issued ")]

        assert issued_left_out(pdf) == issued_left_out(api)
        assert len([m for m in sink.messages if m["To"] == "li@example.cn"]) == 1  # the department's contacts

    async def test_the_rankings_of_the_departments_positions_arrive_as_xlsx(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings, smtp: tuple[Sink, int]
    ) -> None:
        sink, port = smtp
        s = notifier_settings(settings, port)
        await setup_routing(committed, s, [{"kind": "email", "name": "mail"}], levels=["warning"])
        await raise_prewarning(committed)
        async with committed() as session, session.begin():
            channel_id = await session.scalar(text("SELECT id FROM notify_channels"))
            body = ScheduleCreate(name="ranks", department="field", report="rankings", channel_ids=[channel_id])
            created = await service.create_schedule(session, body, datetime(2026, 3, 20, tzinfo=UTC))
            await service.send_schedule_now(session, created.id, datetime(2026, 4, 1, 1, 0, tzinfo=UTC))
        notifier = Notifier(committed, s)
        try:
            await run_rounds(notifier, 2)
        finally:
            await notifier.aclose()
        [head] = [m for m in sink.messages if m["To"] == "head@example.cn"]
        assert head["Subject"] == "岗位达成率排名: field (2026-02-28 - 2026-03-31)"
        [attachment] = list(head.iter_attachments())
        assert attachment.get_filename() == "rankings-field-2026-03.xlsx"
        book = openpyxl.load_workbook(io.BytesIO(attachment.get_content()), read_only=True)
        header, *rows = book.worksheets[0].iter_rows(values_only=True)
        ranked = [dict(zip(header, row, strict=True)) for row in rows]
        # one run of March: under the minimum sample, listed apart
        assert [(r["part"], r["key"], r["runs"]) for r in ranked] == [("insufficient", "engineer", 1)]

    async def test_a_review_whose_agreement_is_gone_is_skipped_until_next_month(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings
    ) -> None:
        s = notifier_settings(settings)
        await setup_routing(committed, s, [{"kind": "email", "name": "mail"}])
        async with committed() as session, session.begin():
            await Projection().handle_commitment(session, [agreement()])
            channel_id = await session.scalar(text("SELECT id FROM notify_channels"))
            body = ScheduleCreate(
                name="review", department="field", report="review", agreement="sla-1", channel_ids=[channel_id]
            )
            created = await service.create_schedule(session, body, datetime(2026, 3, 20, tzinfo=UTC))
            await service.send_schedule_now(session, created.id, datetime(2026, 4, 1, 1, 0, tzinfo=UTC))
            await session.execute(text("DELETE FROM ref_agreements"))
        async with committed() as session, session.begin():
            assert await service.report_once(session, s, datetime.now(UTC)) == 1
            row = (await session.execute(text("SELECT next_run_at, last_run_at FROM notify_schedules"))).one()
        assert row.next_run_at > datetime.now(UTC)
        assert await log_rows(committed) == []
