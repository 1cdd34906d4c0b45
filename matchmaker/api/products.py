"""Loan products: a bank administrator publishes and edits the bank's products; anyone may
browse the active ones.

Visibility: an active product of an active bank is public (no token needed). An inactive product
is visible only to that bank's users and to the finance office; to everyone else it is **404**,
exactly as if it did not exist. A product the caller may see but not change (another bank's
active product) is **403**; so are roles that may never use an operation.
"""

from __future__ import annotations

from functools import wraps

import sqlalchemy as sa
from flask_smorest import abort
from marshmallow import ValidationError, fields
from sqlalchemy.orm import selectinload

from matchmaker.accounts.permissions import OFFICE_ROLES
from matchmaker.api.auth import current_api_user, optional_user, token_required
from matchmaker.api.core import (
    BaseSchema,
    PagingQuerySchema,
    api_blueprint,
    id_part,
    page_schema,
    paginate,
)
from matchmaker.api.fields import (
    Bool,
    Code,
    DecimalString,
    Int,
    ListOf,
    Str,
    known_category,
    known_region,
)
from matchmaker.banks.models import Bank
from matchmaker.enums import BANK_ROLES, COLLATERAL, ENTERPRISE_SIZES, ENV_CREDIT
from matchmaker.errors import Forbidden, NotFound
from matchmaker.extensions import db
from matchmaker.products.models import Product
from matchmaker.products.services import (
    MAX_AMOUNT_WAN,
    MAX_RATE,
    can_manage,
    create_product,
    update_product,
)
from matchmaker.reference import codes
from matchmaker.reference.models import GreenCategory, Region

blp = api_blueprint("api_products", "/products", "贷款产品：银行管理员发布与维护；在售产品公开可查")

PRODUCT_ID = id_part("product_id")
MAX_CATEGORIES = 300
MAX_REGIONS = 500
MAX_CODES = 50
NOT_FOUND = "贷款产品不存在"


# --- request schemas -----------------------------------------------------------------------------


def _product_fields(required: bool) -> dict[str, fields.Field]:
    """The fields of a product; `required=False` for PATCH, where every field is optional."""
    req = {"required": True} if required else {}
    return {
        "name": Str(max_length=64, **req, metadata={"description": "产品名称",
                                                      "example": "福林贷"}),
        "description": Str(max_length=5000, blank=True, allow_none=True,
                           metadata={"description": "产品介绍（可选）"}),
        "green_categories": ListOf(
            Str(max_length=16), min_items=1, max_items=MAX_CATEGORIES, **req,
            metadata={"description": "支持的绿色产业分类编号（上级编号覆盖其下级）"}),
        "collateral": ListOf(Code(COLLATERAL), min_items=1, max_items=MAX_CODES, **req,
                             metadata={"description": "接受的担保方式；含 credit（信用）的产品"
                                                      "接受任何担保方式"}),
        "min_amount_wan": DecimalString(minimum="0.01", maximum=MAX_AMOUNT_WAN, **req,
                                        metadata={"description": "最低金额（万元）"}),
        "max_amount_wan": DecimalString(minimum="0.01", maximum=MAX_AMOUNT_WAN, **req,
                                        metadata={"description": "最高金额（万元）"}),
        "min_term_months": Int(minimum=1, maximum=360, **req,
                               metadata={"description": "最短期限（月）"}),
        "max_term_months": Int(minimum=1, maximum=360, **req,
                               metadata={"description": "最长期限（月）"}),
        "rate_min": DecimalString(max_digits=5, minimum=0, maximum=MAX_RATE, **req,
                                  metadata={"description": "最低年利率（%）"}),
        "rate_max": DecimalString(max_digits=5, minimum=0, maximum=MAX_RATE, **req,
                                  metadata={"description": "最高年利率（%）"}),
        "region_codes": ListOf(
            Str(max_length=12), min_items=1, max_items=MAX_REGIONS, **req,
            metadata={"description": "服务地区（GB/T 2260；须在本行服务地区内，"
                                     "上级代码覆盖下级）"}),
        "enterprise_sizes": ListOf(Code(ENTERPRISE_SIZES), min_items=1, max_items=MAX_CODES,
                                   **req, metadata={"description": "服务的企业规模"}),
        "min_env_credit": Code(ENV_CREDIT, metadata={
            "description": "接受的最低环境信用等级（green 最好 … black 最差）；新建时默认 yellow"}),
        "active": Bool(metadata={"description": "是否在售；新建时默认 true"}),
    }


ProductCreateSchema = BaseSchema.from_dict(_product_fields(required=True), name="ProductCreate")
ProductUpdateSchema = BaseSchema.from_dict(_product_fields(required=False), name="ProductUpdate")


def known_bank(bank_id: int) -> None:
    if db.session.get(Bank, bank_id) is None:
        raise ValidationError("银行不存在")


class ProductQuerySchema(PagingQuerySchema):
    bank_id = Int(minimum=1, strict=False, validate=known_bank,
                  metadata={"description": "只列出该银行的产品"})
    green_category = Str(max_length=16, validate=known_category, metadata={
        "description": "绿色产业分类：产品的某个分类覆盖它，或它覆盖产品的某个分类"})
    region_code = Str(max_length=12, validate=known_region, metadata={
        "description": "地区：产品的某个服务地区覆盖它，或它覆盖产品的某个服务地区"})
    collateral = Code(COLLATERAL, metadata={
        "description": "接受该担保方式的产品（信用类产品接受任何担保方式）"})
    amount_wan = DecimalString(minimum=0, metadata={"description": "金额（万元）在产品额度范围内"})
    term_months = Int(minimum=1, maximum=360, strict=False,
                      metadata={"description": "期限（月）在产品期限范围内"})
    q = Str(max_length=100, metadata={"description": "产品名称或介绍中包含的文字"})
    include_inactive = Bool(strict=False, load_default=False, metadata={
        "description": "true 时也列出停售的产品：银行用户看到本行的，金融办看到全部；"
                       "需要访问令牌"})


# --- response schemas ----------------------------------------------------------------------------


class ProductSchema(BaseSchema):
    id = fields.Integer(required=True)
    bank_id = fields.Integer(required=True)
    bank_name = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    green_categories = fields.List(fields.String(), required=True)
    collateral = fields.List(fields.String(metadata={"enum": list(COLLATERAL)}), required=True)
    min_amount_wan = DecimalString(required=True)
    max_amount_wan = DecimalString(required=True)
    min_term_months = fields.Integer(required=True)
    max_term_months = fields.Integer(required=True)
    rate_min = DecimalString(max_digits=5, required=True)
    rate_max = DecimalString(max_digits=5, required=True)
    region_codes = fields.List(fields.String(), required=True)
    enterprise_sizes = fields.List(fields.String(metadata={"enum": list(ENTERPRISE_SIZES)}),
                                   required=True)
    min_env_credit = fields.String(required=True, metadata={"enum": list(ENV_CREDIT)})
    active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True, metadata={"description": "ISO 8601，UTC"})
    updated_at = fields.DateTime(required=True, metadata={"description": "ISO 8601，UTC"})


ProductPageSchema = page_schema(ProductSchema, "ProductPage")


def product_payload(product: Product) -> dict:
    return {
        "id": product.id,
        "bank_id": product.bank_id,
        "bank_name": product.bank.name,
        "name": product.name,
        "description": product.description or "",
        "green_categories": product.category_codes,
        "collateral": list(product.collateral or []),
        "min_amount_wan": product.min_amount_wan,
        "max_amount_wan": product.max_amount_wan,
        "min_term_months": product.min_term_months,
        "max_term_months": product.max_term_months,
        "rate_min": product.rate_min,
        "rate_max": product.rate_max,
        "region_codes": product.region_codes,
        "enterprise_sizes": list(product.enterprise_sizes or []),
        "min_env_credit": product.min_env_credit,
        "active": product.active,
        "created_at": product.created_at,
        "updated_at": product.updated_at,
    }


# --- look-ups ------------------------------------------------------------------------------------


def is_public(product: Product) -> bool:
    return product.active and product.bank.active


def can_see(user, product: Product) -> bool:
    if is_public(product):
        return True
    if user is None:
        return False
    if user.role in OFFICE_ROLES:
        return True
    return user.role in BANK_ROLES and user.bank_id == product.bank_id


def get_visible_product(product_id: int, user) -> Product:
    product = db.session.get(Product, product_id)
    if product is None or not can_see(user, product):
        raise NotFound(NOT_FOUND)
    return product


def managed_product(view):
    """Load the product of the path before the body is read: 404 when the caller may not see it,
    403 when it may see it but is not that bank's administrator."""

    @wraps(view)
    def wrapped(*args, product_id: int, **kwargs):
        user = current_api_user()
        product = get_visible_product(product_id, user)
        if not can_manage(user, product):
            raise Forbidden("只能修改本行的产品")
        return view(*args, product=product, **kwargs)

    return wrapped


def visible_products(user, include_inactive: bool) -> sa.Select:
    public = sa.and_(Product.active, Bank.active)
    stmt = sa.select(Product).join(Product.bank)
    if not include_inactive:
        return stmt.where(public)
    if user is None:
        abort(401, message="include_inactive 需要访问令牌")
    if user.role in OFFICE_ROLES:
        return stmt
    if user.role in BANK_ROLES:
        return stmt.where(sa.or_(public, Product.bank_id == user.bank_id))
    raise Forbidden("只有银行用户与金融办可以查看停售的产品",
                    {"include_inactive": ["当前账号的角色无权查看停售的产品"]})


def filtered(stmt: sa.Select, query: dict) -> sa.Select:
    if query.get("bank_id") is not None:
        stmt = stmt.where(Product.bank_id == query["bank_id"])
    if "green_category" in query:
        # One of the product's categories covers the code (is one of its ancestors), or the
        # code covers one of the product's categories (is a prefix of it).
        category = query["green_category"].strip()
        stmt = stmt.where(Product.categories.any(sa.or_(
            GreenCategory.code.in_(codes.category_ancestors(category)),
            GreenCategory.code.startswith(category + ".", autoescape=True),
        )))
    if "region_code" in query:
        region = query["region_code"].strip()
        stmt = stmt.where(Product.regions.any(sa.or_(
            Region.code.in_(codes.region_ancestors(region)),
            Region.code.startswith(codes.region_prefix(region), autoescape=True),
        )))
    if query.get("collateral"):
        # Codes are [a-z_]+ and stored as a JSON list: '"code"' matches one whole element on
        # every backend. Credit (信用) products accept any collateral (DESIGN section 5).
        as_text = sa.cast(Product.collateral, sa.Text)
        stmt = stmt.where(sa.or_(
            as_text.contains(f'"{query["collateral"]}"', autoescape=True),
            as_text.contains('"credit"', autoescape=True),
        ))
    if query.get("amount_wan") is not None:
        stmt = stmt.where(Product.min_amount_wan <= query["amount_wan"],
                          Product.max_amount_wan >= query["amount_wan"])
    if query.get("term_months") is not None:
        stmt = stmt.where(Product.min_term_months <= query["term_months"],
                          Product.max_term_months >= query["term_months"])
    if query.get("q"):
        text = query["q"].strip()
        stmt = stmt.where(sa.or_(Product.name.icontains(text, autoescape=True),
                                 Product.description.icontains(text, autoescape=True)))
    return stmt


# --- operations ----------------------------------------------------------------------------------


@blp.route("", methods=["POST"])
@token_required("bank_admin")
@blp.arguments(ProductCreateSchema)
@blp.response(201, ProductSchema)
def create(data):
    """发布贷款产品（银行管理员）

    产品属于管理员所在的银行。服务地区须在本行服务地区内；分类或地区代码不存在、额度/期限/
    利率上下限颠倒等问题以 422 按字段返回。
    """
    user = current_api_user()
    return product_payload(create_product(user.bank, data, actor=user))


@blp.route("", methods=["GET"])
@blp.arguments(ProductQuerySchema, location="query")
@blp.response(200, ProductPageSchema)
@blp.alt_response(401, response="UNAUTHORIZED")
@blp.alt_response(403, response="FORBIDDEN")
def index(query):
    """在售贷款产品列表（公开）

    无需令牌，列出在售银行的在售产品，按发布时间从新到旧排列。分类与地区双向匹配：产品的
    分类覆盖所给编号（4.1 覆盖 4.1.4），或所给编号覆盖产品的分类，都算匹配；地区同理。
    `include_inactive=true` 需要令牌（`Authorization: Bearer <token>`）：银行用户同时看到本行的
    停售产品，金融办看到全部；未带令牌时 401，其他角色 403。带了无效令牌时一律 401。
    """
    user = optional_user()
    stmt = filtered(visible_products(user, query["include_inactive"]), query).options(
        selectinload(Product.bank), selectinload(Product.categories),
        selectinload(Product.regions),
    ).order_by(Product.created_at.desc(), Product.id.desc())
    products, paging = paginate(stmt, query)
    return {"items": [product_payload(product) for product in products], **paging}


@blp.route(f"/{PRODUCT_ID}", methods=["GET"])
@blp.response(200, ProductSchema)
@blp.alt_response(401, response="UNAUTHORIZED")
@blp.alt_response(404, response="NOT_FOUND")
def show(product_id: int):
    """一个贷款产品（在售产品公开）

    停售的产品只有本行用户与金融办可见（需带令牌），其他人得到 404，与不存在时相同。
    """
    return product_payload(get_visible_product(product_id, optional_user()))


@blp.route(f"/{PRODUCT_ID}", methods=["PATCH"])
@token_required("bank_admin")
@managed_product
@blp.arguments(ProductUpdateSchema)
@blp.response(200, ProductSchema)
@blp.alt_response(404, response="NOT_FOUND")
def update(data, product: Product):
    """修改贷款产品（本行管理员）

    只需发送要修改的字段，`"active": false` 停售、`true` 重新上架。其他银行的管理员修改在售
    产品时 403；看不到的产品（其他银行的停售产品）404。
    """
    user = current_api_user()
    return product_payload(update_product(product, data, actor=user))
