"""Chat providers' incoming webhooks, each in its own documented request format (pure: a request, not a send).

- WeCom (企业微信) group robot: POST `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`,
  `{"msgtype": "markdown", "markdown": {"content": …}}`; a member is mentioned with `<@userid>` in the content.
  Answers `{"errcode": 0, "errmsg": "ok"}`.
- DingTalk (钉钉) custom robot: POST `https://oapi.dingtalk.com/robot/send?access_token=…`, with "加签" signing:
  `timestamp` (milliseconds) and `sign` = URL-encoded base64 of HMAC-SHA256 keyed with the secret over
  `timestamp + "\\n" + secret`, both added to the query. Body `{"msgtype": "markdown", "markdown": {"title", "text"},
  "at": {"atUserIds": [...], "isAtAll": false}}` (a mentioned user's `@id` must appear in the text).
  Answers `{"errcode": 0, "errmsg": "ok"}`.
- Feishu (飞书) custom bot: POST `https://open.feishu.cn/open-apis/bot/v2/hook/…`; with signature verification the
  body carries `timestamp` (seconds) and `sign` = base64 of HMAC-SHA256 keyed with `timestamp + "\\n" + secret`
  over an empty message. Body `{"msg_type": "text", "content": {"text": …}}`; a user is mentioned with
  `<at user_id="…"></at>`. Answers `{"code": 0, "msg": "success"}`.
- Slack incoming webhook: POST `{"text": …}` (mrkdwn; a user is mentioned with `<@U…>`). Answers `ok`.
- Microsoft Teams (Workflows "post to a channel when a webhook request is received", and the older connectors):
  a message with one Adaptive Card attachment.
- The generic webhook: the alert's JSON, signed as Standard Webhooks (as `/v1/webhooks` deliveries are).
"""

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlencode, urlsplit, urlunsplit

from evaluation_svc.webhooks.signing import signed_headers

CHAT_KINDS: tuple[str, ...] = ("wecom", "dingtalk", "feishu", "slack", "teams", "webhook")
WECOM_MARKDOWN_MAX = 4096  # bytes of content the robot accepts
DINGTALK_MAX = 20000


@dataclass(frozen=True, slots=True)
class ChatRequest:
    url: str
    body: bytes
    headers: dict[str, str]


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's `sign` before URL encoding: base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}"))."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's `sign`: base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _with_query(url: str, extra: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    query = parts.query + ("&" if parts.query else "") + urlencode(extra, quote_via=lambda v, *a: quote_plus(v))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _truncate_utf8(value: str, limit: int) -> str:
    data = value.encode()
    return value if len(data) <= limit else data[: limit - 3].decode(errors="ignore") + "…"


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def chat_request(
    kind: str,
    url: str,
    secret: str | None,
    content: Mapping[str, Any],
    *,
    now_ms: int,
    message_id: str,
    payload: Mapping[str, Any] | None = None,
) -> ChatRequest:
    """The request that posts `content` (a rendered message: subject, text, markdown, mentions) to a channel."""
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "pledge-notify/1"}
    mentions: list[str] = list(content.get("mentions") or ())
    markdown = str(content["markdown"])
    if kind == "wecom":
        text = markdown + ("\n" + " ".join(f"<@{m}>" for m in mentions) if mentions else "")
        body = {"msgtype": "markdown", "markdown": {"content": _truncate_utf8(text, WECOM_MARKDOWN_MAX)}}
        return ChatRequest(url, _json(body), headers)
    if kind == "dingtalk":
        text = markdown + ("\n\n" + " ".join(f"@{m}" for m in mentions) if mentions else "")
        body = {
            "msgtype": "markdown",
            "markdown": {"title": str(content["subject"])[:100], "text": _truncate_utf8(text, DINGTALK_MAX)},
            "at": {"atUserIds": mentions, "isAtAll": False},
        }
        if secret:
            url = _with_query(url, {"timestamp": str(now_ms), "sign": dingtalk_sign(secret, now_ms)})
        return ChatRequest(url, _json(body), headers)
    if kind == "feishu":
        text = str(content["text"]) + (
            "\n" + " ".join(f'<at user_id="{m}"></at>' for m in mentions) if mentions else ""
        )
        feishu: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
        if secret:
            seconds = now_ms // 1000
            feishu = {"timestamp": str(seconds), "sign": feishu_sign(secret, seconds), **feishu}
        return ChatRequest(url, _json(feishu), headers)
    if kind == "slack":
        text = str(content["text"]) + ("\n" + " ".join(f"<@{m}>" for m in mentions) if mentions else "")
        return ChatRequest(url, _json({"text": text}), headers)
    if kind == "teams":
        card: dict[str, Any] = {
            "type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.4",
            "body": [
                {"type": "TextBlock", "text": str(content["subject"]), "weight": "Bolder", "wrap": True},
                {"type": "TextBlock", "text": markdown, "wrap": True},
            ],
        }
        teams: dict[str, Any] = {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
            ],
        }
        return ChatRequest(url, _json(teams), headers)
    if kind == "webhook":
        raw = _json(payload if payload is not None else {"type": "notification", "message": dict(content)})
        if secret:
            headers |= signed_headers(secret, message_id, now_ms // 1000, raw)
        return ChatRequest(url, raw, headers)
    raise ValueError(f"not a chat channel kind: {kind}")


def provider_error(kind: str, status: int, body: bytes) -> str | None:
    """Why a provider's answer is a failure (None: accepted). WeCom and DingTalk answer 200 with a non-zero
    `errcode`, Feishu with a non-zero `code`, when they refuse a message."""
    if not 200 <= status < 300:
        return f"HTTP {status}"
    if kind in ("wecom", "dingtalk", "feishu"):
        try:
            answer = json.loads(body or b"{}")
        except ValueError:
            return "answer is not JSON"
        if not isinstance(answer, dict):
            return "answer is not a JSON object"
        code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0)))
        if code not in (0, None):
            return f"provider code {code}: {str(answer.get('errmsg') or answer.get('msg') or '')[:200]}"
    return None
