"""Green intelligence: category suggestions for a project description (智能识别)."""

from __future__ import annotations

from marshmallow import fields

from matchmaker.api.auth import token_required
from matchmaker.api.core import BaseSchema, api_blueprint
from matchmaker.api.fields import Str
from matchmaker.green import classifier

blp = api_blueprint("api_green", "/green", "绿色智能：根据项目描述建议绿色产业分类")


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


@blp.route("/classify", methods=["POST"])
@token_required()
@blp.arguments(ClassifySchema)
@blp.response(200, ClassifyResultSchema)
def classify(body):
    """建议绿色产业分类

    根据项目名称和描述，给出最可能的《绿色产业指导目录（2019年版）》三级分类（最多 5 个），
    每个带置信度和依据（描述中匹配到的词语）。任何已登录用户可用。
    """
    return {"suggestions": [s.as_dict() for s in classifier.classify(body["text"])]}
