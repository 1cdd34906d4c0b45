"""Matches in both directions: products for a need (the enterprise's view) and the lead inbox
of a bank (ranked open needs over all its active products). Every result carries its reasons."""

from __future__ import annotations

from marshmallow import fields

from matchmaker.accounts.permissions import OFFICE_ROLES
from matchmaker.api.auth import current_api_user, token_required
from matchmaker.api.core import BaseSchema, api_blueprint, id_part
from matchmaker.api.fields import INT32_MAX, DecimalString, Int, Str, known_category, known_region
from matchmaker.errors import NotFound
from matchmaker.extensions import db
from matchmaker.needs.models import Need
from matchmaker.needs.services import can_view, owns
from search.service import leads_for_bank, matches_for_need

blp = api_blueprint("api_matching", "", "匹配：需求的推荐产品与银行的线索收件箱，附匹配理由")


class ReasonSchema(BaseSchema):
    feature = fields.String(metadata={"description": "特征代码，如 text、category、collateral"})
    label = fields.String(metadata={"description": "中文说明"})
    contribution = fields.Float(metadata={"description": "对总分的贡献"})


class MatchQuerySchema(BaseSchema):
    limit = Int(minimum=1, maximum=50, strict=False, load_default=10,
                metadata={"description": "返回条数，1 到 50，默认 10"})


class MatchSchema(BaseSchema):
    product_id = fields.Integer()
    product_name = fields.String()
    bank_id = fields.Integer()
    bank_name = fields.String()
    score = fields.Float(metadata={"description": "匹配得分（0–1）"})
    reasons = fields.List(fields.Nested(ReasonSchema))


MatchListSchema = BaseSchema.from_dict({"items": fields.List(fields.Nested(MatchSchema))},
                                       name="MatchList")


class LeadQuerySchema(BaseSchema):
    limit = Int(minimum=1, maximum=100, strict=False, load_default=20,
                metadata={"description": "每页条数，1 到 100，默认 20"})
    offset = Int(minimum=0, maximum=INT32_MAX, strict=False, load_default=0,
                 metadata={"description": "跳过的条数"})
    green_category = Str(max_length=16, validate=known_category,
                         metadata={"description": "绿色产业分类，含其下级"})
    region_code = Str(max_length=12, validate=known_region,
                      metadata={"description": "项目所在地，含其下级"})
    min_amount_wan = DecimalString(minimum=0, metadata={"description": "金额不低于（万元）"})
    max_amount_wan = DecimalString(minimum=0, metadata={"description": "金额不高于（万元）"})


class LeadSchema(BaseSchema):
    need_id = fields.Integer()
    title = fields.String()
    amount_wan = DecimalString()
    term_months = fields.Integer()
    green_category = fields.String()
    region_code = fields.String()
    status = fields.String()
    published_at = fields.DateTime(allow_none=True)
    score = fields.Float()
    reasons = fields.List(fields.Nested(ReasonSchema))
    claims_count = fields.Integer(metadata={"description": "已抢单银行数"})
    claimable = fields.Boolean(metadata={"description": "本行现在能否抢单"})
    product_id = fields.Integer(metadata={"description": "最匹配的本行产品"})
    product_name = fields.String()


LeadPageSchema = BaseSchema.from_dict({
    "items": fields.List(fields.Nested(LeadSchema)),
    "total": fields.Integer(), "limit": fields.Integer(), "offset": fields.Integer(),
}, name="LeadPage")


@blp.route(f"/needs/{id_part('need_id')}/matches", methods=["GET"])
@token_required("enterprise", *OFFICE_ROLES)
@blp.arguments(MatchQuerySchema, location="query")
@blp.response(200, MatchListSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(503, response="SERVICE_UNAVAILABLE")
def need_matches(query, need_id: int):
    """需求的推荐产品（需求方企业、金融办）

    只返回符合条件的产品（在售；金额、期限在区间内；服务地区与绿色分类覆盖该需求；接受企业规模
    与环境信用等级；至少接受一种所提供的担保方式，信用类产品接受任何担保），按得分从高到低，
    每条附匹配理由（特征、中文说明、贡献）。
    """
    user = current_api_user()
    need = db.session.get(Need, need_id)
    if need is None or not can_view(user, need) or not (owns(user, need)
                                                        or user.role in OFFICE_ROLES):
        raise NotFound("融资需求不存在")
    return {"items": matches_for_need(need, limit=query["limit"])}


@blp.route("/leads", methods=["GET"])
@token_required("bank_manager", "bank_admin")
@blp.arguments(LeadQuerySchema, location="query")
@blp.response(200, LeadPageSchema)
@blp.alt_response(503, response="SERVICE_UNAVAILABLE")
def leads(query):
    """本行线索收件箱（客户经理、银行管理员）

    对本行所有在售产品符合条件的待抢单需求，按匹配得分从高到低（含需求新鲜度），附理由、
    已抢单银行数与本行能否抢单。可按分类、地区、金额筛选，limit/offset 分页。搜索服务不可用时
    503。
    """
    user = current_api_user()
    rows, total = leads_for_bank(
        user.bank_id, category=query.get("green_category"), region=query.get("region_code"),
        min_amount=query.get("min_amount_wan"), max_amount=query.get("max_amount_wan"),
        limit=query["limit"], offset=query["offset"])
    return {"items": rows, "total": total, "limit": query["limit"], "offset": query["offset"]}
