"""Stable codes of DESIGN section 4 and their Chinese labels.

Codes are stored and exchanged; labels are shown. The order of each mapping is the display order
(and, for environmental credit, best to worst).
"""

COLLATERAL = {
    "credit": "信用",
    "guarantee": "保证",
    "real_estate": "不动产抵押",
    "forest_rights": "林权",
    "land_rights": "土地经营权",
    "pollution_rights": "排污权",
    "carbon_allowance": "碳排放权/CCER",
    "energy_rights": "用能权",
    "water_rights": "水权",
    "receivables": "应收账款",
    "ip": "知识产权",
    "warehouse_receipt": "仓单",
    "equipment": "设备",
    "future_income": "未来收益权",
}

ENTERPRISE_SIZES = {
    "micro": "微型",
    "small": "小型",
    "medium": "中型",
    "large": "大型",
}

# Ordered best to worst: a product accepting "yellow" accepts green, blue and yellow.
ENV_CREDIT = {
    "green": "绿",
    "blue": "蓝",
    "yellow": "黄",
    "red": "红",
    "black": "黑",
}
ENV_CREDIT_RANK = {code: rank for rank, code in enumerate(ENV_CREDIT)}

PURPOSES = {
    "working_capital": "流动资金",
    "fixed_asset": "固定资产",
    "project": "项目建设",
    "technical_upgrade": "技术改造",
    "other": "其他",
}

BANK_KINDS = {
    "policy": "政策性银行",
    "state_owned": "国有大型银行",
    "joint_stock": "股份制银行",
    "city_commercial": "城市商业银行",
    "rural_commercial": "农村商业银行",
    "village": "村镇银行",
    "foreign": "外资银行",
    "other": "其他",
}

ROLES = {
    "enterprise": "企业",
    "bank_manager": "银行客户经理",
    "bank_admin": "银行管理员",
    "office": "金融办",
    "admin": "平台管理员",
}
BANK_ROLES = ("bank_manager", "bank_admin")

NEED_STATUSES = {
    "draft": "草稿",
    "open": "待抢单",
    "claimed": "已抢单",
    "selected": "已选定银行",
    "contacted": "已对接",
    "credit_approved": "已授信",
    "disbursed": "已放款",
    "declined": "已拒绝",
    "withdrawn": "已撤回",
    "expired": "已过期",
    "escalated": "已上报金融办",
    "assigned": "已派单",
}
# Needs a bank may see and grab.
NEED_VISIBLE_TO_BANKS = ("open", "claimed", "escalated", "assigned")
NEED_CLOSED = ("disbursed", "declined", "withdrawn", "expired")

CLAIM_STATUSES = {
    "claimed": "已抢单",
    "selected": "已被选定",
    "not_selected": "未被选定",
    "contacted": "已对接",
    "credit_approved": "已授信",
    "disbursed": "已放款",
    "declined": "已拒绝",
    "lapsed": "已超时",
    "cancelled": "已取消",
}

DECLINE_REASONS = {
    "ineligible": "资质不符",
    "insufficient_collateral": "抵押不足",
    "industry_restricted": "行业限制",
    "over_limit": "额度超限",
    "enterprise_gave_up": "企业放弃",
    "other": "其他",
}


def choices(mapping: dict[str, str]) -> list[tuple[str, str]]:
    """(code, label) pairs for WTForms select fields."""
    return list(mapping.items())
