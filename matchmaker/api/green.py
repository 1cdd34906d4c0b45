"""Green intelligence: category suggestions for a project description (智能识别) and a need's
洗绿 consistency flags for banks and the finance office."""

from __future__ import annotations

from marshmallow import fields

from matchmaker.accounts.permissions import OFFICE_ROLES
from matchmaker.api.auth import current_api_user, token_required
from matchmaker.api.core import BaseSchema, api_blueprint, items_schema
from matchmaker.api.fields import INT32_MAX, Str
from matchmaker.api.needs import get_visible_need
from matchmaker.enums import BANK_ROLES
from matchmaker.green import classifier
from matchmaker.green.flags import flags_for

blp = api_blueprint("api_green", "", "绿色智能：分类建议、洗绿风险提示")


class ClassifySchema(BaseSchema):
    text = Str(max_length=classifier.MAX_TEXT_LENGTH, required=True, metadata={
        "description": f"项目名称和描述（1 到 {classifier.MAX_TEXT_LENGTH} 个字符）",
        "example": "在厂房屋顶建设 2000 千瓦分布式光伏电站，自发自用、余电上网",
    })


class SuggestionSchema(BaseSchema):
    code = fields.String(required=True, metadata={
        "description": "《绿色产业指导目录（2019年版）》三级编号", "example": "3.2.2"})
    name = fields.String(required=True, metadata={"example": "太阳能利用设施建设和运营"})
    confidence = fields.Float(required=True, metadata={
        "description": "模型给出的置信度，0 到 1（所有候选之和为 1）", "example": 0.92})
    reasons = fields.List(fields.String(), required=True, metadata={
        "description": "描述中与该分类相关的词语，按重要性排序", "example": ["分布式光伏", "屋顶"]})


class ClassifyResultSchema(BaseSchema):
    suggestions = fields.List(fields.Nested(SuggestionSchema), required=True, metadata={
        "description": f"最可能的分类，最多 {classifier.DEFAULT_LIMIT} 个，按可能性排序；"
                       "描述中没有任何线索时为空列表"})


@blp.route("/green/classify", methods=["POST"])
@token_required()
@blp.arguments(ClassifySchema)
@blp.response(200, ClassifyResultSchema)
def classify(body):
    """建议绿色产业分类

    根据项目名称和描述，给出最可能的《绿色产业指导目录（2019年版）》三级分类（最多 5 个），
    每个带置信度和依据（描述中匹配到的词语）。任何已登录用户可用。
    """
    return {"suggestions": [s.as_dict() for s in classifier.classify(body["text"])]}


class FlagSchema(BaseSchema):
    kind = fields.String(required=True, metadata={
        "enum": ["env_credit", "industry", "description", "co2_outlier"],
        "description": "env_credit 环境信用红/黑，industry 分类与行业不常见，description 描述中"
                       "没有体现所选分类，co2_outlier 减排量明显高于同类"})
    title = fields.String(required=True)
    detail = fields.String(required=True, metadata={"description":
                                                    "中文说明：依据和应核实的内容"})
    severity = fields.String(required=True, metadata={"enum": ["warning", "danger"]})


FlagListSchema = items_schema(FlagSchema, "NeedFlagList")


@blp.route(f"/needs/<int(max={INT32_MAX}):need_id>/flags", methods=["GET"])
@token_required(*BANK_ROLES, *OFFICE_ROLES)
@blp.response(200, FlagListSchema)
@blp.alt_response(404, response="NOT_FOUND")
def need_flags(need_id: int):
    """一笔需求的洗绿风险提示

    按企业行业、环境信用评价、同类项目的减排水平和需求描述自动核对，每条带中文说明；
    仅供审查参考。银行（对其可见的需求）和金融办可用；没有问题时 `items` 为空。
    """
    need = get_visible_need(need_id, current_api_user())
    return {"items": [flag.as_dict() for flag in flags_for(need)]}
