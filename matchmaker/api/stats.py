"""The finance office's statistics: KPIs, breakdowns and the bank ranking, with one set of filters.

The definitions are `matchmaker.office.stats`'s (its docstring); the dashboard and the exports
read the same functions, so the numbers agree everywhere.
"""

from __future__ import annotations

from marshmallow import ValidationError, fields, validates_schema

from matchmaker.accounts.permissions import OFFICE_ROLES
from matchmaker.api.auth import token_required
from matchmaker.api.core import BaseSchema, api_blueprint
from matchmaker.api.fields import INT32_MAX, Code, Day, DecimalString, Int, Str, known_region
from matchmaker.enums import ENTERPRISE_SIZES
from matchmaker.office import stats

blp = api_blueprint("api_stats", "/stats",
                    "统计：对接率、授信率、金额、分项统计与银行排行（金融办）")

TOP_CATEGORIES = {str(n): str(n) for n in range(1, 7)}
BREAKDOWN_BY = {"category": "绿色产业大类", "region": "地区", "month": "月份",
                "industry": "国民经济行业门类", "category2024": "2024 目录大类（由 2019 编号对应）"}


class StatsQuerySchema(BaseSchema):
    start = Day(data_key="from", metadata={"description": "发布日期自（含，北京时间）"})
    end = Day(data_key="to", metadata={"description": "发布日期至（含，北京时间）"})
    region_code = Str(max_length=12, validate=known_region,
                      metadata={"description": "地区（市或区县，含其下级）"})
    green_category = Code(TOP_CATEGORIES, metadata={"description": "绿色产业大类（2019 目录 1–6）"})
    bank_id = Int(minimum=1, maximum=INT32_MAX, strict=False,
                  metadata={"description": "只计该银行的抢单与贷款（需求数仍为全部）"})
    size = Code(ENTERPRISE_SIZES, metadata={"description": "企业规模"})

    @validates_schema
    def _period(self, data, **kwargs):
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise ValidationError("结束日期不能早于开始日期", field_name="to")


class BreakdownQuerySchema(StatsQuerySchema):
    by = Code(BREAKDOWN_BY, required=True, metadata={"description": "分项维度"})


def filters_of(query: dict) -> stats.Filters:
    return stats.Filters(start=query.get("start"), end=query.get("end"),
                         region_code=query.get("region_code"),
                         category=query.get("green_category"), bank_id=query.get("bank_id"),
                         size=query.get("size"))


RATE = {"description": "比率（0–1，四位小数）；分母为 0 时为 null"}


class SummarySchema(BaseSchema):
    needs_posted = fields.Integer(metadata={"description": "发布的需求数"})
    amount_requested_wan = DecimalString()
    needs_claimed = fields.Integer(metadata={"description": "至少一家银行抢单的需求数"})
    claim_rate = DecimalString(4, allow_none=True,
                               metadata={"description": "对接率 " + RATE["description"]})
    needs_assigned = fields.Integer(metadata={"description": "金融办派单的需求数"})
    needs_contacted = fields.Integer()
    picks_due = fields.Integer(metadata={"description": "已到期或已联系的选定数"})
    picks_contacted_on_time = fields.Integer()
    contacted_on_time_rate = DecimalString(4, allow_none=True, metadata=RATE)
    needs_credit_approved = fields.Integer()
    credit_rate = DecimalString(4, allow_none=True,
                                metadata={"description": "授信率 " + RATE["description"]})
    needs_disbursed = fields.Integer()
    amount_approved_wan = DecimalString()
    amount_disbursed_wan = DecimalString()
    median_hours_to_first_claim = fields.Float(allow_none=True)
    median_days_to_credit = fields.Float(allow_none=True)
    co2_reduction_t = DecimalString(metadata={
        "description": "贷款支持的年碳减排量（吨），按 2013 年测算指引折算银行份额"})
    coal_saving_tce = DecimalString(metadata={
        "description": "贷款支持的年节约标准煤（吨），按 2013 年测算指引折算银行份额"})


class BreakdownRowSchema(BaseSchema):
    key = fields.String(metadata={
        "description": "分项代码（大类代码、地区代码、YYYY-MM、行业门类、2024 目录大类代码"
                       "或 2019:<2019 大类>）"})
    label = fields.String()
    needs_posted = fields.Integer()
    amount_requested_wan = DecimalString()
    needs_claimed = fields.Integer()
    claim_rate = DecimalString(4, allow_none=True, metadata=RATE)
    needs_credit_approved = fields.Integer()
    credit_rate = DecimalString(4, allow_none=True, metadata=RATE)
    amount_approved_wan = DecimalString()
    amount_disbursed_wan = DecimalString()
    co2_reduction_t = DecimalString()
    coal_saving_tce = DecimalString()


class BankRowSchema(BaseSchema):
    bank_id = fields.Integer()
    bank_name = fields.String()
    grabs = fields.Integer(metadata={"description": "抢单数"})
    assigned = fields.Integer(metadata={"description": "派单数"})
    picks = fields.Integer(metadata={"description": "被企业选定数"})
    median_hours_to_grab = fields.Float(allow_none=True)
    picks_due = fields.Integer()
    picks_contacted_on_time = fields.Integer()
    contacted_on_time_rate = DecimalString(4, allow_none=True, metadata=RATE)
    credit_approved = fields.Integer()
    credit_rate = DecimalString(4, allow_none=True,
                                metadata={"description": "授信数 ÷ 抢单与派单数"})
    amount_approved_wan = DecimalString()
    amount_disbursed_wan = DecimalString()
    average_rating = DecimalString(allow_none=True)
    ratings = fields.Integer()


BreakdownSchema = BaseSchema.from_dict({
    "by": fields.String(), "items": fields.List(fields.Nested(BreakdownRowSchema))},
    name="StatsBreakdown")
BankListSchema = BaseSchema.from_dict({"items": fields.List(fields.Nested(BankRowSchema))},
                                      name="StatsBanks")


@blp.route("/summary", methods=["GET"])
@token_required(*OFFICE_ROLES)
@blp.arguments(StatsQuerySchema, location="query")
@blp.response(200, SummarySchema)
def summary(query):
    """关键指标（金融办）

    统计口径：所选期间内发布的需求（北京时间日期，含首尾），按地区、绿色产业大类、企业规模筛选；
    各项结果跟踪这些需求至今。对接率 = 至少一家银行抢单的需求 ÷ 发布的需求；授信率 = 获得授信的
    需求 ÷ 发布的需求。指定银行时，需求数不变，只计该行的抢单与贷款。
    """
    return stats.summary(filters_of(query))


@blp.route("/breakdown", methods=["GET"])
@token_required(*OFFICE_ROLES)
@blp.arguments(BreakdownQuerySchema, location="query")
@blp.response(200, BreakdownSchema)
def breakdown(query):
    """分项统计：按绿色产业大类、地区、月份、行业门类或 2024 目录大类（金融办）

    `by=category2024`：需求仍按 2019 目录编号登记，按对应关系归入《绿色低碳转型产业指导目录
    （2024年版）》的 7 个大类；无法唯一对应的（只选到 2019 大类 1、2 等）以 `2019:<大类>` 单列。
    """
    return {"by": query["by"], "items": stats.breakdown(filters_of(query), query["by"])}


@blp.route("/banks", methods=["GET"])
@token_required(*OFFICE_ROLES)
@blp.arguments(StatsQuerySchema, location="query")
@blp.response(200, BankListSchema)
def banks(query):
    """银行排行（金融办）：抢单、抢单用时中位数、按期联系率、授信率、金额、企业评分"""
    return {"items": stats.banks(filters_of(query))}
