"""The audit log for people: Chinese labels of actions, objects and fields, values as text, and
before → after as the list of keys that changed.

Used by the office's audit search (/office/audit), its CSV export, the API's `changes` and a
need's trail. Everything here returns plain text; the templates escape it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from matchmaker.enums import (
    BANK_KINDS,
    CLAIM_STATUSES,
    COLLATERAL,
    DECLINE_REASONS,
    ENTERPRISE_SIZES,
    ENV_CREDIT,
    NEED_STATUSES,
    PURPOSES,
    ROLES,
)
from matchmaker.extensions import db

ACTION_LABELS = {
    # accounts
    "user.login": "登录", "user.login_failed": "登录失败", "user.logout": "退出登录",
    "user.created": "开通账号", "user.password_changed": "修改密码",
    "user.deactivated": "停用账号", "user.activated": "启用账号",
    "token.issued": "签发 API 令牌", "token.revoked": "撤销 API 令牌",
    "notification_preferences.updated": "修改通知设置",
    # enterprises, banks, products
    "enterprise.registered": "企业注册", "bank.created": "新增银行",
    "product.created": "发布产品", "product.updated": "修改产品",
    # needs
    "need.created": "发布需求", "need.updated": "修改需求", "need.published": "发布草稿",
    "need.withdrawn": "撤回需求", "need.escalated": "上报金融办", "need.expired": "过期",
    "need.escalation_reminder": "上报前提醒",
    # the lead workflow
    "claim.grabbed": "抢单", "claim.selected": "选定银行",
    "claim.selection_cancelled": "取消选定", "claim.contacted": "已对接",
    "claim.credit_approved": "已授信", "claim.disbursed": "已放款", "claim.declined": "拒绝",
    "claim.lapsed": "选定超时失效", "claim.assigned": "派单", "claim.reassigned": "转交线索",
    "claim.rated": "评价", "claim.contact_reminder": "对接提醒",
    # webhooks and operations
    "webhook.created": "设置 Webhook", "webhook.updated": "修改 Webhook",
    "delivery.retried": "重新发送投递", "ops.job_retried": "重试后台任务",
    "ops.job_deleted": "删除后台任务", "demo.seeded": "生成演示数据",
}

# The groups of the action filter: "need.*" selects every action on needs.
ACTION_GROUPS = {
    "user.*": "账号（全部）", "token.*": "API 令牌（全部）", "need.*": "需求（全部）",
    "claim.*": "抢单与对接（全部）", "product.*": "产品（全部）", "webhook.*": "Webhook（全部）",
    "ops.*": "后台任务（全部）",
}

OBJECT_TYPES = {
    "need": "融资需求", "enterprise": "企业", "user": "用户", "bank": "银行",
    "product": "贷款产品", "bank_webhook": "Webhook", "delivery": "Webhook 投递",
    "rq_job": "后台任务", "login": "登录尝试", "database": "数据库",
}

FIELD_LABELS = {
    # needs and claims
    "status": "状态", "claim_status": "抢单状态", "claim_id": "抢单记录", "bank_id": "银行",
    "manager_id": "客户经理", "amount_wan": "金额（万元）", "rate": "年利率（%）",
    "reason_code": "拒绝原因", "reason": "原因", "note": "备注", "slot": "抢单序号",
    "product_id": "产品", "contact_due_at": "对接期限", "stars": "评分", "comment": "评价",
    "not_selected_bank_ids": "未被选定的银行", "eligible_product": "有适用产品",
    "published_at": "发布时间", "deadline": "截止日期", "cancelled_claim_ids": "取消的抢单",
    "escalation_due_at": "上报期限", "title": "需求标题", "description": "描述",
    "purpose": "资金用途", "term_months": "期限（月）", "green_category_code": "绿色产业分类",
    "collateral": "担保方式", "region_code": "地区", "rate_cap": "可接受年利率上限（%）",
    "co2_reduction_t": "预计年减排量（吨）", "project_investment_wan": "项目总投资（万元）",
    # products
    "name": "名称", "category_codes": "绿色产业分类", "min_amount_wan": "最低金额（万元）",
    "max_amount_wan": "最高金额（万元）", "min_term_months": "最短期限（月）",
    "max_term_months": "最长期限（月）", "rate_min": "最低年利率（%）",
    "rate_max": "最高年利率（%）", "region_codes": "地区", "enterprise_sizes": "企业规模",
    "min_env_credit": "最低环境信用等级", "active": "启用",
    # enterprises, users, banks
    "uscc": "统一社会信用代码", "industry_code": "行业", "size": "企业规模",
    "env_credit": "环境信用等级", "contact_name": "联系人", "phone": "电话", "email": "电子邮箱",
    "role": "角色", "kind": "类型", "office_id": "金融办", "enterprise_id": "企业",
    "last_login_at": "上次登录", "via": "途径", "password_changed_at": "密码修改时间",
    "other_sessions_ended": "其他登录已退出", "tokens_revoked": "撤销的令牌数",
    "token_id": "令牌编号", "expires_at": "过期时间", "revoked_at": "撤销时间",
    # webhooks, deliveries, jobs
    "url": "地址", "kinds": "推送类型", "secret_generated": "生成了新密钥", "target": "投递地址",
    "queue": "队列", "func": "任务", "job_id": "任务编号", "scale": "规模",
}

CODE_LABELS = {
    "purpose": PURPOSES, "collateral": COLLATERAL, "size": ENTERPRISE_SIZES,
    "enterprise_sizes": ENTERPRISE_SIZES, "env_credit": ENV_CREDIT, "min_env_credit": ENV_CREDIT,
    "role": ROLES, "kind": BANK_KINDS, "claim_status": CLAIM_STATUSES,
    "reason_code": DECLINE_REASONS,
    "via": {"web": "网页", "api": "API"},
    "reason": {"unknown_email": "邮箱未注册", "wrong_password": "密码错误",
               "inactive": "账号已停用"},
}
# `status` of things that are not needs (deliveries, jobs).
OTHER_STATUSES = {"pending": "待发送", "sent": "已送达", "failed": "失败", "queued": "已重新排队",
                  "deleted": "已删除"}
EMPTY = "—"


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def object_label(object_type: str) -> str:
    return OBJECT_TYPES.get(object_type, object_type)


def role_label(role: str | None, ip: str | None = None) -> str:
    """The actor's role; without an actor, "匿名" for a request (a refused login) and "系统"
    otherwise (the sweep, the command line)."""
    if role:
        return ROLES.get(role, role)
    return "匿名" if ip else "系统"


def field_label(key: str, object_type: str | None = None) -> str:
    if key == "status" and object_type == "need":
        return "需求状态"
    if key in FIELD_LABELS:
        return FIELD_LABELS[key]
    kind, _, channel = key.partition(".")
    if channel:  # notification preferences: "new_lead.email"
        from matchmaker.notifications import kinds

        if kind in kinds.KINDS and channel in kinds.CHANNELS:
            return f"{kinds.label(kind)}（{kinds.CHANNELS[channel]}）"
    return key


def value_text(key: str, value, names: dict | None = None, object_type: str = "need") -> str:
    """One value as text, with the Chinese label of a code and the name behind an id."""
    names = names or {}
    if value is None or value == "" or value == []:
        return EMPTY
    if key == "status":
        table = NEED_STATUSES if object_type == "need" else OTHER_STATUSES
        return table.get(value, str(value))
    if key in CODE_LABELS and isinstance(value, str):
        return CODE_LABELS[key].get(value, value)
    if key in CODE_LABELS and isinstance(value, list):
        return "、".join(CODE_LABELS[key].get(v, str(v)) for v in value)
    if key in ("region_code", "region_codes", "green_category_code", "category_codes"):
        from matchmaker.reference import codes

        label = codes.region_label if key.startswith("region") else codes.category_label
        if isinstance(value, str):
            return label(value)
        if isinstance(value, list):
            return "、".join(label(v) if isinstance(v, str) else str(v) for v in value)
    if key == "kinds" and isinstance(value, list):
        from matchmaker.notifications import kinds

        return "、".join(kinds.label(v) for v in value)
    if key == "bank_id":
        return names.get("banks", {}).get(value, f"#{value}")
    if key == "manager_id":
        return names.get("users", {}).get(value, f"#{value}")
    if key == "product_id":
        return names.get("products", {}).get(value, f"#{value}")
    if key == "not_selected_bank_ids" and isinstance(value, list):
        return "、".join(names.get("banks", {}).get(v, f"#{v}") for v in value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if key.endswith("_at") and isinstance(value, str):
        try:
            from matchmaker.web.filters import local_time

            return local_time(datetime.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def changes(before: dict | None, after: dict | None) -> list[str]:
    """The keys to show: all of a creation's (no before) or a removal's (no after); else those
    whose value differs, a key missing on one side counting as empty there."""
    before = before if isinstance(before, dict) else None
    after = after if isinstance(after, dict) else None
    if before is None and after is None:
        return []
    if before is None:
        return list(after)
    if after is None:
        return list(before)
    keys = list(after) + [k for k in before if k not in after]
    return [k for k in keys if before.get(k) != after.get(k)]


def names_for(rows: list[dict]) -> dict[str, dict]:
    """Bank, user and product names for the ids found in the rows' before/after (three queries
    at most)."""
    from matchmaker.accounts.models import User
    from matchmaker.banks.models import Bank
    from matchmaker.products.models import Product

    wanted: dict[str, set[int]] = {"banks": set(), "users": set(), "products": set()}
    for row in rows:
        for part in (row.get("before"), row.get("after")):
            if not isinstance(part, dict):
                continue
            for key, kind in (("bank_id", "banks"), ("manager_id", "users"),
                              ("product_id", "products")):
                if isinstance(part.get(key), int):
                    wanted[kind].add(part[key])
            wanted["banks"].update(v for v in part.get("not_selected_bank_ids") or []
                                   if isinstance(v, int))
    names: dict[str, dict] = {}
    for kind, model in (("banks", Bank), ("users", User), ("products", Product)):
        ids = wanted[kind]
        names[kind] = dict(db.session.execute(
            sa.select(model.id, model.name).where(model.id.in_(ids))).all()) if ids else {}
    return names


def diff(row: dict, names: dict) -> list[dict]:
    """[{key, label, before, after, created}] as text, for the keys `changes` picks; `created`
    when there was no before (a creation: the page shows the value alone)."""
    before, after = row.get("before"), row.get("after")
    object_type = row.get("object_type", "need")
    out = []
    for key in changes(before, after):
        old = before.get(key) if isinstance(before, dict) else None
        new = after.get(key) if isinstance(after, dict) else None
        out.append({"key": key, "label": field_label(key, object_type),
                    "before": value_text(key, old, names, object_type) if before is not None
                    else EMPTY,
                    "after": value_text(key, new, names, object_type) if after is not None
                    else EMPTY,
                    "created": before is None})
    return out


def items(part, names: dict, object_type: str = "need") -> list[tuple[str, str]]:
    """Every key of one side (a need's trail shows both sides in full)."""
    if not isinstance(part, dict):
        return []
    return [(field_label(key, object_type), value_text(key, value, names, object_type))
            for key, value in part.items()]
