"""Reference data: the 2019 green industry catalog and GB/T 2260 regions (public, cached)."""

from __future__ import annotations

from marshmallow import fields

from matchmaker.api.core import BaseSchema, api_blueprint, items_schema
from matchmaker.api.fields import Int, Str
from matchmaker.errors import NotFound
from matchmaker.reference import codes

blp = api_blueprint("api_reference", "", "参考数据：绿色产业目录与行政区划（公开）")

# Reference rows change only with a data migration; let clients and proxies keep them a while.
CACHE_HEADERS = {"Cache-Control": "public, max-age=3600"}


class CatalogQuerySchema(BaseSchema):
    level = Int(minimum=1, maximum=3, strict=False,
                metadata={"description": "只列出该层级：1 大类、2 中类、3 小类"})
    parent = Str(max_length=16, metadata={"description": "只列出该编号的直接下级，如 4 或 4.1"})


class GreenCategorySchema(BaseSchema):
    code = fields.String(required=True, metadata={"example": "4.1.4"})
    name = fields.String(required=True)
    level = fields.Integer(required=True)
    parent_code = fields.String(required=True, allow_none=True)


GreenCategoryListSchema = items_schema(GreenCategorySchema, "GreenCategoryList")


class RegionQuerySchema(BaseSchema):
    parent = Str(max_length=12, metadata={"description": "上级行政区划代码；省略时列出省级"})


class RegionSchema(BaseSchema):
    code = fields.String(required=True, metadata={"example": "330502"})
    name = fields.String(required=True)
    full_name = fields.String(required=True)
    level = fields.Integer(required=True, metadata={"description": "1 省、2 地市、3 区县"})
    parent_code = fields.String(required=True, allow_none=True)


RegionListSchema = items_schema(RegionSchema, "RegionList")


@blp.route("/catalog/green", methods=["GET"])
@blp.arguments(CatalogQuerySchema, location="query")
@blp.response(200, GreenCategoryListSchema)
@blp.alt_response(404, response="NOT_FOUND")
def green_catalog(query):
    """《绿色产业指导目录（2019年版）》

    按编号的数值顺序（4.1.2 在 4.1.10 之前）。上级编号不存在时 404。
    """
    parent = query.get("parent")
    if parent is not None and codes.category(parent) is None:
        raise NotFound("绿色产业目录编号不存在", {"parent": ["绿色产业目录编号不存在"]})
    items = [
        {"code": c.code, "name": c.name, "level": c.level, "parent_code": c.parent_code}
        for c in codes.all_categories()
        if (parent is None or c.parent_code == parent)
        and ("level" not in query or c.level == query["level"])
    ]
    return {"items": items}, 200, CACHE_HEADERS


@blp.route("/regions", methods=["GET"])
@blp.arguments(RegionQuerySchema, location="query")
@blp.response(200, RegionListSchema)
@blp.alt_response(404, response="NOT_FOUND")
def regions(query):
    """现行行政区划（GB/T 2260）

    `parent` 的直接下级（不含已撤销的代码），省略 `parent` 时列出省级。上级代码不存在或已撤销时
    404。
    """
    parent = query.get("parent")
    if parent is not None:
        info = codes.region(parent)
        if info is None or info.retired:
            raise NotFound("行政区划代码不存在或已撤销", {"parent": ["行政区划代码不存在或已撤销"]})
    items = [
        {"code": r.code, "name": r.name, "full_name": r.full_name, "level": r.level,
         "parent_code": r.parent_code}
        for r in codes.current_regions(parent)
    ]
    return {"items": items}, 200, CACHE_HEADERS
