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


# ---- analysis pages: trends, rankings and recommendations, what-if (web/analysis.py) ----------------------
# Kept in a block of their own, merged into MESSAGES below, so that other pages add theirs without touching it.
ANALYSIS_MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "trends": "Trends",
        "rankings": "Rankings",
        "grouping": "Grouped by",
        "bucket": "Period",
        "bucket_day": "day",
        "bucket_week": "week",
        "bucket_month": "month",
        "periods": "Periods",
        "by_process": "process",
        "by_node": "node",
        "by_department": "department",
        "by_position": "position",
        "by_segment": "segment",
        "by_source": "source",
        "population": "Population",
        "population_node": "node runs",
        "population_end_to_end": "tickets judged end to end",
        "trends_note": "Shares of the judged runs per period (cancelled, exempted and unjudged runs apart):",
        "achievement": "Achievement",
        "wilson_band": "95 % Wilson interval of the achievement",
        "share_normal": "normal",
        "share_acceptable": "acceptable",
        "share_warning": "warning",
        "judged": "judged",
        "no_judged": "No judged run in these periods.",
        "per_period": "Per period",
        "interval": "95 % interval",
        "change": "change",
        "pp": "pp",
        "partial": "so far",
        "apart_note": "Change: percentage points since the previous period; * the two periods' 95 % intervals do"
        " not overlap.",
        "all_groups": "All",
        "none_key": "(none)",
        "group": "Group",
        "from_day": "From",
        "to_day": "To (inclusive)",
        "rank_by": "Rank",
        "min_sample": "Minimum judged runs",
        "ranked_by_department": "Departments by achievement",
        "ranked_by_position": "Positions by achievement",
        "rankings_note": "Best first, by the share of normal runs with its 95 % Wilson interval; groups with fewer"
        " than {min_sample} judged runs are not ranked.",
        "rank": "Rank",
        "not_ranked": "Too few judged runs to rank",
        "recommendations": "Recommendations",
        "recommendations_note": "Per commitment version: achievement ≥ {raise_at} % suggests raising it, ≤"
        " {improve_at} % asks to improve the process (at least {min_sample} judged runs). Suggested limits: the"
        " counted time {target} % (tolerance {tolerance} %) of the completed runs did not exceed.",
        "verdict_raise": "To raise",
        "verdict_improve": "To improve",
        "verdict_keep": "Keep",
        "verdict_insufficient_data": "Too few runs",
        "commitment": "Commitment",
        "within_tolerance": "Within tolerance",
        "current_limits": "Limits now",
        "suggested_limits": "Suggested limits",
        "handling_time": "Handling time",
        "median": "median",
        "reason": "Reason",
        "capped": "capped at today's",
        "unit_duration": "working time",
        "unit_business_days": "business days",
        "try_what_if": "What if…",
        "what_if": "What if",
        "what_if_note": "Replays the period's runs of a commitment under proposed limits; nothing is changed.",
        "proposed_commitment_limit": "Commitment limit",
        "proposed_tolerance_limit": "Tolerance limit",
        "limit_unit": "Unit",
        "unchanged": "unchanged",
        "run_what_if": "Run",
        "what_if_replayed": "{runs} runs of {commitment} replayed,",
        "actual": "actual",
        "proposed": "proposed",
    },
    "zh": {
        "trends": "趋势",
        "rankings": "排名",
        "grouping": "分组",
        "bucket": "周期",
        "bucket_day": "日",
        "bucket_week": "周",
        "bucket_month": "月",
        "periods": "周期数",
        "by_process": "流程",
        "by_node": "节点",
        "by_department": "部门",
        "by_position": "岗位",
        "by_segment": "客户群",
        "by_source": "来源",
        "population": "统计对象",
        "population_node": "节点运行",
        "population_end_to_end": "端到端评判的工单",
        "trends_note": "各周期已评判运行的占比（已取消、豁免和未评判的运行另计）：",
        "achievement": "承诺达成率",
        "wilson_band": "达成率的 95% Wilson 区间",
        "share_normal": "正常",
        "share_acceptable": "可接受",
        "share_warning": "警告",
        "judged": "已评判",
        "no_judged": "这些周期内没有已评判的运行。",
        "per_period": "各周期明细",
        "interval": "95% 区间",
        "change": "变化",
        "pp": "个百分点",
        "partial": "截至目前",
        "apart_note": "变化：与上一周期相比的百分点；* 两个周期的 95% 区间不重叠。",
        "all_groups": "全部",
        "none_key": "（无）",
        "group": "分组",
        "from_day": "起始日",
        "to_day": "截止日（含）",
        "rank_by": "排名对象",
        "min_sample": "最少已评判运行数",
        "ranked_by_department": "部门达成率排名",
        "ranked_by_position": "岗位达成率排名",
        "rankings_note": "按正常运行占比从高到低排列，附 95% Wilson 区间；已评判运行少于 {min_sample} 的不参与排名。",
        "rank": "名次",
        "not_ranked": "样本不足、未排名",
        "recommendations": "建议",
        "recommendations_note": "按承诺版本：达成率 ≥ {raise_at}% 建议提高承诺，≤ {improve_at}% 需改进流程"
        "（至少 {min_sample} 个已评判运行）。建议时限：已完成运行中 {target}%（忍耐 {tolerance}%）未超过的计时时长。",
        "verdict_raise": "建议提高",
        "verdict_improve": "需要改进",
        "verdict_keep": "保持",
        "verdict_insufficient_data": "样本不足",
        "commitment": "承诺",
        "within_tolerance": "忍耐范围内",
        "current_limits": "现行时限",
        "suggested_limits": "建议时限",
        "handling_time": "处理时长",
        "median": "中位数",
        "reason": "理由",
        "capped": "不宽于现行",
        "unit_duration": "工作时间",
        "unit_business_days": "工作日",
        "try_what_if": "假设分析…",
        "what_if": "假设分析",
        "what_if_note": "按拟议时限重放该期间某承诺的运行；不作任何修改。",
        "proposed_commitment_limit": "承诺时限",
        "proposed_tolerance_limit": "忍耐时限",
        "limit_unit": "单位",
        "unchanged": "不变",
        "run_what_if": "运行",
        "what_if_replayed": "已重放 {commitment} 的 {runs} 个运行，",
        "actual": "实际",
        "proposed": "拟议",
    },
}
for _lang, _extra in ANALYSIS_MESSAGES.items():
    MESSAGES[_lang].update(_extra)
# ---- end of the analysis pages' messages -------------------------------------------------------------------
