"""Kinds of notification, who may receive each, and the channels each starts with.

A user changes the defaults on the 通知设置 page; webhooks are chosen per bank by its admin.
"""

IN_APP = "in_app"
EMAIL = "email"
WEBHOOK = "webhook"
CHANNELS = {IN_APP: "站内通知", EMAIL: "邮件"}

# code → (label, roles that receive it, default channels)
KINDS: dict[str, tuple[str, tuple[str, ...], frozenset[str]]] = {
    "new_lead": ("新的匹配需求", ("bank_manager",), frozenset({IN_APP})),
    "claim_received": ("银行抢单", ("enterprise",), frozenset({IN_APP, EMAIL})),
    "selected": ("被企业选定", ("bank_manager",), frozenset({IN_APP, EMAIL})),
    "not_selected": ("未被选定", ("bank_manager",), frozenset({IN_APP})),
    "selection_cancelled": ("选定被取消", ("bank_manager",), frozenset({IN_APP, EMAIL})),
    "claim_progress": ("对接进展", ("enterprise",), frozenset({IN_APP, EMAIL})),
    "deadline_reminder": ("截止提醒", ("bank_manager", "enterprise"), frozenset({IN_APP, EMAIL})),
    "lapsed": ("选定已失效", ("bank_manager", "enterprise"), frozenset({IN_APP, EMAIL})),
    "assigned": ("派单", ("bank_manager",), frozenset({IN_APP, EMAIL})),
    "escalated": ("需求上报金融办", ("office", "enterprise"), frozenset({IN_APP, EMAIL})),
    "need_expired": ("需求已过期", ("enterprise",), frozenset({IN_APP})),
    "digest": ("每日线索摘要", ("bank_manager",), frozenset({EMAIL})),
}

# What a bank's webhook may subscribe to: the kinds that concern a bank.
WEBHOOK_KINDS = ("new_lead", "selected", "not_selected", "selection_cancelled",
                 "deadline_reminder", "lapsed", "assigned")


def label(kind: str) -> str:
    return KINDS[kind][0] if kind in KINDS else kind


def kinds_for_role(role: str) -> list[str]:
    return [code for code, (_, roles, _) in KINDS.items() if role in roles]


def default_enabled(kind: str, channel: str) -> bool:
    return kind in KINDS and channel in KINDS[kind][2]
