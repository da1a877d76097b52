"""Webhooks: subscriptions, signed deliveries to a real local receiver, retries, disabling, the log; resolved
and late alerts are delivered to nobody."""

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web
from evalfactories import at, calendar_w, commitment, node_run, process
from evaluation_svc.alerts import service as alerts
from evaluation_svc.alerts.service import scan_once
from evaluation_svc.config import Settings
from evaluation_svc.readmodel.service import Projection
from evaluation_svc.webhooks import service
from evaluation_svc.webhooks.repository import WebhookRepository
from evaluation_svc.webhooks.schemas import WebhookCreate, WebhookUpdate
from evaluation_svc.webhooks.service import WebhookSender, retry_delay
from evaluation_svc.webhooks.signing import new_secret
from evaluation_svc.webhooks.targets import refused_reason
from pledge_common.identity import SYSTEM
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)  # answers to give, in order; then 200
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver(url="")

    async def hook(request: web.Request) -> web.Response:
        state.received.append((dict(request.headers), await request.read()))
        return web.Response(status=state.statuses.pop(0) if state.statuses else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield state
    finally:
        await runner.cleanup()


def fast_settings(settings: Settings, **over: Any) -> Settings:
    return settings.model_copy(update={"webhook_backoff_seconds": 0.001, "webhook_backoff_max_seconds": 0.002, **over})


async def raise_alerts(maker: async_sessionmaker[AsyncSession], department: str = "field") -> None:
    async with maker() as session, session.begin():
        projection = Projection()
        await projection.handle_commitment(session, [calendar_w(), process(), commitment()])
        await projection.handle_tracking(
            session, [node_run("h1", started=at("2026-03-03 10:00"), department=department)]
        )
        # prewarning (15:48) and acceptable (17:00), each detected within the hour (EVALUATION_ALERT_LATE_AFTER)
        await scan_once(session, at("2026-03-03 16:00"), 100)
        await scan_once(session, at("2026-03-03 17:30"), 100)


async def end_run(maker: async_sessionmaker[AsyncSession], **end: Any) -> None:
    async with maker() as session, session.begin():
        await Projection().handle_tracking(session, [node_run("h1", started=at("2026-03-03 10:00"), **end)])


async def subscribe(maker: async_sessionmaker[AsyncSession], settings: Settings, **body: Any) -> Any:
    async with maker() as session, session.begin():
        return await service.create(session, settings, SYSTEM, WebhookCreate(**body))


async def drain(sender: WebhookSender, rounds: int = 20) -> None:
    for _ in range(rounds):
        await sender.tick()
        await asyncio.sleep(0.01)


class TestSubscriptions:
    @pytest.mark.parametrize(
        "url",
        [
            "http://10.1.2.3/hook",
            "http://192.168.0.10/x",
            "http://169.254.169.254/latest",
            "ftp://127.0.0.1/x",
            "http://[::ffff:10.0.0.1]/x",
            "http://user:pw@127.0.0.1/x",
            "not a url",
        ],
    )
    async def test_private_or_malformed_targets_are_refused(self, client: httpx.AsyncClient, url: str) -> None:
        response = await client.post("/v1/webhooks", json={"url": url})
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "url"

    def test_loopback_is_refused_unless_allowlisted(self) -> None:
        import ipaddress

        assert refused_reason(ipaddress.ip_address("127.0.0.1"), []) is not None
        assert refused_reason(ipaddress.ip_address("127.0.0.1"), [ipaddress.ip_network("127.0.0.0/8")]) is None
        assert refused_reason(ipaddress.ip_address("93.184.216.34"), []) is None

    async def test_create_read_update_delete(self, client: httpx.AsyncClient, receiver: Receiver) -> None:
        created = await client.post(
            "/v1/webhooks", json={"url": receiver.url, "department": "field", "levels": ["warning"]}
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["secret"].startswith("whsec_")
        assert len(base64.b64decode(body["secret"].removeprefix("whsec_"), validate=True)) == 32
        got = (await client.get(f"/v1/webhooks/{body['id']}")).json()
        assert "secret" not in got
        patched = await client.patch(f"/v1/webhooks/{body['id']}", json={"levels": [], "enabled": False})
        assert (patched.json()["levels"], patched.json()["enabled"]) == ([], False)
        assert (await client.patch(f"/v1/webhooks/{body['id']}", json={"colour": "red"})).status_code == 422
        assert (await client.delete(f"/v1/webhooks/{body['id']}")).status_code == 204
        assert (await client.get(f"/v1/webhooks/{body['id']}")).status_code == 404

    async def test_unknown_fields_and_events_are_refused(self, client: httpx.AsyncClient, receiver: Receiver) -> None:
        response = await client.post("/v1/webhooks", json={"url": receiver.url, "events": ["alert.exploded"]})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"].startswith("events")


class TestDeliveries:
    def test_backoff_doubles_with_jitter_and_is_capped(self) -> None:
        import random

        rng = random.Random(1)
        delays = [retry_delay(n, 2, 60, rng) for n in range(1, 8)]
        assert [lo <= d <= 2 * lo for lo, d in zip((1, 2, 4), delays, strict=False)] == [True] * 3
        assert all(30 <= d <= 60 for d in delays[5:])

    async def test_alerts_are_delivered_signed_to_matching_subscriptions(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings, receiver: Receiver
    ) -> None:
        matching = await subscribe(committed, settings, url=receiver.url, department="field")
        await subscribe(committed, settings, url=receiver.url + "?other", department="billing")
        await raise_alerts(committed)
        sender = WebhookSender(committed, fast_settings(settings))
        try:
            await drain(sender, 3)
        finally:
            await sender.aclose()
        assert len(receiver.received) == 2
        for headers, body in receiver.received:
            assert Webhook(matching.secret).verify(body, headers)["alert"]["department"] == "field"
            assert headers["X-Pledge-Event"] == "alert.raised"
        levels = sorted(json.loads(b)["alert"]["level"] for _, b in receiver.received)
        assert levels == ["acceptable", "prewarning"]

    async def test_a_tampered_delivery_or_an_old_timestamp_fails_verification(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings, receiver: Receiver
    ) -> None:
        sub = await subscribe(committed, settings, url=receiver.url, levels=["acceptable"])
        await raise_alerts(committed)
        sender = WebhookSender(committed, fast_settings(settings))
        try:
            await drain(sender, 3)
        finally:
            await sender.aclose()
        [(headers, body)] = receiver.received
        webhook = Webhook(sub.secret)
        webhook.verify(body, headers)
        tampered = body.replace(b'"acceptable"', b'"prewarning"')
        assert tampered != body
        stale = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 600)}
        other_id = {**headers, "webhook-id": "00000000-0000-0000-0000-000000000000"}
        for bad_body, bad_headers in ((tampered, headers), (body, stale), (body, other_id)):
            with pytest.raises(WebhookVerificationError):
                webhook.verify(bad_body, bad_headers)
        with pytest.raises(WebhookVerificationError):  # another subscription's secret
            Webhook(new_secret()).verify(body, headers)

    async def test_failures_are_retried_then_logged(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings, receiver: Receiver
    ) -> None:
        sub = await subscribe(committed, settings, url=receiver.url, levels=["acceptable"])
        receiver.statuses = [500, 503]
        await raise_alerts(committed)
        sender = WebhookSender(committed, fast_settings(settings))
        try:
            await drain(sender)
        finally:
            await sender.aclose()
        assert len(receiver.received) == 3
        async with committed() as session:
            log = await service.deliveries(session, SYSTEM, sub.id, None, 10)
            current = await service.get(session, SYSTEM, sub.id)
        [delivery] = log.items
        # every retry is the same message: one webhook-id (the delivery's), each attempt signed afresh
        assert {h["webhook-id"] for h, _ in receiver.received} == {str(delivery.id)}
        for headers, body in receiver.received:
            Webhook(sub.secret).verify(body, headers)
        assert (delivery.status, delivery.attempts) == ("delivered", 3)
        assert [(a.attempt, a.status_code) for a in delivery.log] == [(1, 500), (2, 503), (3, 200)]
        assert current.consecutive_failures == 0

    async def test_consecutive_failures_disable_the_subscription_until_reenabled(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings, receiver: Receiver
    ) -> None:
        sub = await subscribe(committed, settings, url=receiver.url, levels=["prewarning"])
        receiver.statuses = [500] * 3
        await raise_alerts(committed)
        sender = WebhookSender(committed, fast_settings(settings, webhook_disable_after_failures=3))
        try:
            await drain(sender)
            async with committed() as session:
                disabled = await service.get(session, SYSTEM, sub.id)
            assert (disabled.enabled, disabled.consecutive_failures) == (False, 3)
            assert "3 consecutive" in (disabled.disabled_reason or "")
            received_while_disabled = len(receiver.received)
            await drain(sender, 3)
            assert len(receiver.received) == received_while_disabled
            async with committed() as session, session.begin():
                await service.update(session, settings, SYSTEM, sub.id, WebhookUpdate(enabled=True))
            await drain(sender)
        finally:
            await sender.aclose()
        async with committed() as session:
            log = await service.deliveries(session, SYSTEM, sub.id, None, 10)
        assert [(d.status, d.attempts) for d in log.items] == [("delivered", 4)]

    async def test_deliveries_give_up_after_the_maximum_attempts(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings, receiver: Receiver
    ) -> None:
        sub = await subscribe(committed, settings, url=receiver.url, levels=["prewarning"])
        receiver.statuses = [500] * 10
        await raise_alerts(committed)
        sender = WebhookSender(committed, fast_settings(settings, webhook_max_attempts=2))
        try:
            await drain(sender)
        finally:
            await sender.aclose()
        async with committed() as session:
            [delivery] = (await service.deliveries(session, SYSTEM, sub.id, None, 10)).items
        assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 2, None)


class TestWhatIsDelivered:
    async def test_a_resolved_alert_is_never_delivered(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings, receiver: Receiver
    ) -> None:
        """Its first attempts fail; the run completes meanwhile: the retries never go out."""
        sub = await subscribe(committed, settings, url=receiver.url)
        receiver.statuses = [503, 503]
        await raise_alerts(committed)
        sender = WebhookSender(committed, fast_settings(settings, webhook_backoff_seconds=30))
        try:
            await sender.tick()
            assert len(receiver.received) == 2
            await end_run(committed, completed=at("2026-03-03 17:45"))
            async with committed() as session, session.begin():  # the retries fall due
                await session.execute(text("UPDATE webhook_deliveries SET next_attempt_at = now()"))
            await drain(sender, 3)
        finally:
            await sender.aclose()
        assert len(receiver.received) == 2
        async with committed() as session:
            log = await service.deliveries(session, SYSTEM, sub.id, None, 10)
        assert [(d.status, d.attempts, d.next_attempt_at) for d in log.items] == [("skipped", 1, None)] * 2

    async def test_an_alert_resolved_before_its_first_attempt_is_never_sent(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings, receiver: Receiver
    ) -> None:
        await subscribe(committed, settings, url=receiver.url)
        await raise_alerts(committed)
        await end_run(committed, cancelled=at("2026-03-03 17:45"))
        sender = WebhookSender(committed, fast_settings(settings))
        try:
            await drain(sender, 3)
        finally:
            await sender.aclose()
        assert receiver.received == []

    async def test_a_delivery_skipped_during_its_attempt_is_not_retried(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings, receiver: Receiver
    ) -> None:
        sub = await subscribe(committed, settings, url=receiver.url, levels=["acceptable"])
        await raise_alerts(committed)
        async with committed() as session, session.begin():
            [claimed] = await WebhookRepository(session).claim(10, 60)
        await end_run(committed, completed=at("2026-03-03 17:45"))  # while the attempt is under way
        outcome = {"id": str(claimed["id"]), "subscription_id": str(sub.id), "attempt": 1, "ok": False,
                   "at": "2026-12-03T10:00:00Z", "retry_at": "2026-12-03T10:00:01Z", "status_code": 500,
                   "error": "HTTP 500", "duration_ms": 1.0}  # fmt: skip
        async with committed() as session, session.begin():
            await WebhookRepository(session).record([outcome], 8, 20)
        async with committed() as session:
            [delivery] = (await service.deliveries(session, SYSTEM, sub.id, None, 10)).items
        assert (delivery.status, delivery.last_status_code) == ("skipped", 500)

    async def test_late_alerts_are_recorded_but_not_delivered(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings, receiver: Receiver
    ) -> None:
        """Old work orders loaded now: the prewarning passed 1 h 42 min before the scan, the commitment 30 min."""
        await subscribe(committed, settings, url=receiver.url)
        async with committed() as session, session.begin():
            projection = Projection()
            await projection.handle_commitment(session, [calendar_w(), process(), commitment()])
            await projection.handle_tracking(session, [node_run("h1", started=at("2026-03-03 10:00"))])
            await scan_once(session, at("2026-03-03 17:30"), 100, late_after=timedelta(hours=1))
        async with committed() as session, session.begin():
            [late_id] = (await session.execute(text("SELECT id FROM alerts WHERE late"))).scalars()
            await alerts.acknowledge(session, SYSTEM, late_id, None)  # its acknowledgement is not delivered either
        sender = WebhookSender(committed, fast_settings(settings))
        try:
            await drain(sender, 3)
        finally:
            await sender.aclose()
        assert [json.loads(b)["alert"]["level"] for _, b in receiver.received] == ["acceptable"]


class TestTheDocumentedReceiver:
    async def test_the_receiver_of_docs_webhooks_md_verifies_deliveries_and_refuses_forgeries(
        self, committed: async_sessionmaker[AsyncSession], settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The complete receiver in docs/webhooks.md, run as written (on a free port), takes a real delivery
        once, its retry again without handling it twice, and answers 400 to a forged one."""
        import contextlib
        import io
        import re
        import threading
        from http.server import HTTPServer

        from pledge_dev.paths import REPO_ROOT

        text_ = (REPO_ROOT / "docs" / "webhooks.md").read_text(encoding="utf-8")
        [code] = re.findall(r"```python\n(.*?)```", text_, re.S)
        code = code.replace('HTTPServer(("0.0.0.0", 8080), Receiver).serve_forever()', "")
        sub = await subscribe(committed, settings, url="http://127.0.0.1:1/placeholder", levels=["acceptable"])
        monkeypatch.setenv("PLEDGE_WEBHOOK_SECRET", sub.secret)
        namespace: dict[str, Any] = {"__name__": "receiver"}
        exec(compile(code, "docs/webhooks.md", "exec"), namespace)
        server = HTTPServer(("127.0.0.1", 0), namespace["Receiver"])
        server.RequestHandlerClass.log_message = lambda *a: None  # type: ignore[method-assign]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        async with committed() as session, session.begin():
            await service.update(session, settings, SYSTEM, sub.id, WebhookUpdate(url=url))
        printed = io.StringIO()
        try:
            await raise_alerts(committed)
            sender = WebhookSender(committed, fast_settings(settings))
            try:
                with contextlib.redirect_stdout(printed):
                    await drain(sender, 3)
                    async with committed() as session, session.begin():  # the same delivery once more
                        await session.execute(
                            text("UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now()")
                        )
                    await drain(sender, 3)
            finally:
                await sender.aclose()
            async with httpx.AsyncClient() as client:
                forged = await client.post(
                    url,
                    content=b'{"type":"alert.raised","alert":{}}',
                    headers={"webhook-id": "x", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"},
                )
        finally:
            server.shutdown()
            server.server_close()
        async with committed() as session:
            [delivery] = (await service.deliveries(session, SYSTEM, sub.id, None, 10)).items
        assert [a.status_code for a in delivery.log] == [204, 204]
        assert printed.getvalue().count("alert.raised acceptable") == 1
        assert forged.status_code == 400
