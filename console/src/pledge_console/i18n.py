"""Chinese and English: the language of a request (cookie, else Accept-Language) and the messages."""
# ruff: noqa: RUF001  (Chinese text uses its full-width punctuation)

from collections.abc import Mapping

LANGUAGES = ("zh", "en")
LANG_COOKIE = "pledge_console_lang"

# the seven states with the source documents' labels (reference/000)
STATES = (
    "completed_normal",
    "completed_acceptable",
    "completed_warning",
    "in_progress_normal",
    "in_progress_acceptable",
    "in_progress_warning",
    "cancelled",
)
STATE_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "completed_normal": "正常完成",
        "completed_acceptable": "可接受完成",
        "completed_warning": "警告完成",
        "in_progress_normal": "进行中·正常",
        "in_progress_acceptable": "进行中·可接受",
        "in_progress_warning": "进行中·警告",
        "cancelled": "已取消",
        "unjudged": "未评判",
    },
    "en": {
        "completed_normal": "completed normal",
        "completed_acceptable": "completed acceptable",
        "completed_warning": "completed warning",
        "in_progress_normal": "in progress normal",
        "in_progress_acceptable": "in progress acceptable",
        "in_progress_warning": "in progress warning",
        "cancelled": "cancelled",
        "unjudged": "unjudged",
    },
}

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "app": "Pledge console",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "username": "Username",
        "password": "Password",
        "bad_credentials": "Wrong username or password.",
        "too_many": "Too many failed sign-ins for this account from this address; try again in {seconds} s.",
        "csrf": "The form expired; please try again.",
        "status": "Status",
        "alerts": "Alerts",
        "month": "Month",
        "as_of": "As of",
        "group_by": "Rows by",
        "process_node": "process → node",
        "department": "department",
        "segment": "segment",
        "process": "process",
        "node": "node",
        "show": "Show",
        "total": "total",
        "share": "share",
        "end_to_end": "(end to end)",
        "node_runs": "Node runs",
        "e2e_runs": "Tickets judged end to end",
        "runs": "Runs",
        "ticket": "Ticket",
        "state": "State",
        "started": "Started",
        "ended": "Ended",
        "counted": "Counted",
        "commitment_due": "Commitment due",
        "tolerance_due": "Tolerance due",
        "next_page": "Next page",
        "timeline": "Timeline",
        "paused": "paused",
        "now": "now",
        "open": "open",
        "acknowledged": "acknowledged",
        "resolved": "resolved",
        "level": "Level",
        "raised": "Raised",
        "acknowledge": "Acknowledge",
        "all": "all",
        "no_rows": "Nothing here.",
        "error": "The request failed",
        "language": "中文",
        "signed_in_as": "Signed in as {user} ({role})",
        "filter": "Filter",
        "updated": "Updated",
        "not_found": "Not found",
        "forbidden": "Your role may not do this.",
        "period": "Period",
        "instant": "Instant",
        "run": "Run",
    },
    "zh": {
        "app": "Pledge 控制台",
        "sign_in": "登录",
        "sign_out": "退出",
        "username": "用户名",
        "password": "密码",
        "bad_credentials": "用户名或密码错误。",
        "too_many": "该账号在此地址登录失败次数过多，请 {seconds} 秒后再试。",
        "csrf": "表单已过期，请重试。",
        "status": "状态",
        "alerts": "告警",
        "month": "月份",
        "as_of": "截至",
        "group_by": "行",
        "process_node": "流程 → 节点",
        "department": "部门",
        "segment": "客户群",
        "process": "流程",
        "node": "节点",
        "show": "显示",
        "total": "合计",
        "share": "占比",
        "end_to_end": "（端到端）",
        "node_runs": "节点运行",
        "e2e_runs": "端到端评判的工单",
        "runs": "运行",
        "ticket": "工单",
        "state": "状态",
        "started": "开始",
        "ended": "结束",
        "counted": "计时",
        "commitment_due": "承诺时限",
        "tolerance_due": "忍耐时限",
        "next_page": "下一页",
        "timeline": "时间线",
        "paused": "暂停",
        "now": "现在",
        "open": "未处理",
        "acknowledged": "已确认",
        "resolved": "已解决",
        "level": "级别",
        "raised": "产生时间",
        "acknowledge": "确认",
        "all": "全部",
        "no_rows": "暂无数据。",
        "error": "请求失败",
        "language": "English",
        "signed_in_as": "当前用户 {user}（{role}）",
        "filter": "筛选",
        "updated": "更新于",
        "not_found": "未找到",
        "forbidden": "您的角色无权执行此操作。",
        "period": "期间",
        "instant": "时刻",
        "run": "运行",
    },
}

# ---- agreement review and sign-in with a token (web/review.py, the token form of sign_in.html) ----------------
REVIEW_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "review": "Agreement review",
        "agreement": "Agreement",
        "no_agreements": "No agreement to review yet.",
        "provider": "provider",
        "customer": "customer",
        "billing_zone": "billing time zone",
        "download": "Download",
        "settlement": "Settlement",
        "settlement_status": "Status",
        "settlement_approved": "approved",
        "settlement_draft": "draft",
        "settlement_preview": "preview (not recorded)",
        "penalties": "Penalties",
        "credit": "Credit",
        "adjustments": "Adjustments",
        "credits": "Credits",
        "amount_due": "Amount due",
        "pending": "Pending",
        "commitments_vs_target": "Commitments against their targets",
        "commitment": "Commitment",
        "target": "Target",
        "judged": "Judged",
        "normal": "Normal",
        "met": "Met",
        "yes": "yes",
        "no": "no",
        "excluded": "Excluded",
        "relieved": "Relieved by exemptions",
        "exemptions": "Exemptions",
        "pause_reasons": "Pause reasons",
        "force_majeure": "Force majeure",
        "work_order": "Work order",
        "clause": "Clause",
        "amount": "Amount",
        "reason": "Reason",
        "excluded_runs": "Runs excluded",
        "totals": "Totals",
        "sign_in_token": "Sign in with a token",
        "token": "Bearer token (JWT)",
        "bad_token": "The token was refused: {detail}",
        "token_no_scope": "The token does not allow reading reports (scope reports:read).",
        "not_a_user_token": "not a user token of the gateway's issuer, or expired",
        "token_hint": "A token of the organisation's sign-in service, as the gateway accepts it.",
    },
    "zh": {
        "review": "协议考核",
        "agreement": "协议",
        "no_agreements": "暂无可考核的协议。",
        "provider": "提供方",
        "customer": "客户",
        "billing_zone": "结算时区",
        "download": "下载",
        "settlement": "结算",
        "settlement_status": "状态",
        "settlement_approved": "已批准",
        "settlement_draft": "草稿",
        "settlement_preview": "预览（未记录）",
        "penalties": "违约金",
        "credit": "抵扣",
        "adjustments": "调整",
        "credits": "合计抵扣",
        "amount_due": "应付金额",
        "pending": "待定",
        "commitments_vs_target": "承诺与目标",
        "commitment": "承诺",
        "target": "目标",
        "judged": "已评判",
        "normal": "正常",
        "met": "达标",
        "yes": "是",
        "no": "否",
        "excluded": "已排除",
        "relieved": "因豁免改善",
        "exemptions": "豁免",
        "pause_reasons": "暂停原因",
        "force_majeure": "不可抗力",
        "work_order": "工单号",
        "clause": "条款",
        "amount": "金额",
        "reason": "原因",
        "excluded_runs": "排除的运行",
        "totals": "合计",
        "sign_in_token": "使用令牌登录",
        "token": "Bearer 令牌（JWT）",
        "bad_token": "令牌被拒绝：{detail}",
        "token_no_scope": "该令牌无权读取报表（需要 reports:read）。",
        "not_a_user_token": "不是网关签发方的用户令牌，或已过期",
        "token_hint": "组织登录服务签发、网关认可的令牌。",
    },
}
for _lang, _messages in REVIEW_MESSAGES.items():
    MESSAGES[_lang].update(_messages)
# ---- end of the agreement review's messages ---------------------------------------------------------------------


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's language when it is one of ours; else the first of Accept-Language we speak; else zh."""
    if cookie in LANGUAGES:
        return cookie
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, index, primary))
    return sorted(ranked)[0][2] if ranked else "zh"


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.messages: Mapping[str, str] = MESSAGES[lang]
        self.states: Mapping[str, str] = STATE_LABELS[lang]

    def __call__(self, key: str, **values: object) -> str:
        text = self.messages.get(key, key)
        return text.format(**values) if values else text

    def state(self, state: str | None) -> str:
        return self.states.get(state or "unjudged", state or "")
