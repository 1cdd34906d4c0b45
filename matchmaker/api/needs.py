"""Financing needs: an enterprise posts, edits, publishes and withdraws them; banks read their
public fields; the finance office reads everything.

Visibility (one rule for every operation): a need the caller may not see — another
enterprise's need, a draft, a need a bank may not see — is answered with **404**, exactly as if
it did not exist. A need the caller may see but not change (the office or a bank user trying to
edit) is **403**; so are roles that may never use an operation (checked before anything else).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import wraps
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from marshmallow import fields
from sqlalchemy.orm import selectinload

from matchmaker.accounts.permissions import OFFICE_ROLES
from matchmaker.api.auth import current_api_user, token_required
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
    Day,
    DecimalString,
    Int,
    ListOf,
    Str,
    day_range,
    known_category,
    known_region,
)
from matchmaker.claims.models import Claim
from matchmaker.claims.services import sees_contacts
from matchmaker.enums import (
    BANK_ROLES,
    COLLATERAL,
    ENTERPRISE_SIZES,
    ENV_CREDIT,
    NEED_STATUSES,
    NEED_VISIBLE_TO_BANKS,
    PURPOSES,
)
from matchmaker.errors import Forbidden, InvalidInput, NotFound
from matchmaker.extensions import db
from matchmaker.needs.models import Need
from matchmaker.needs.services import (
    MAX_AMOUNT_WAN,
    MAX_CO2_T,
    MAX_RATE,
    can_view,
    create_need,
    owns,
    publish_need,
    update_need,
    withdraw_need,
)
from matchmaker.reference import codes

blp = api_blueprint("api_needs", "/needs", "融资需求：企业发布、修改、撤回；银行查看公开信息")

NEED_ID = id_part("need_id")
MAX_COLLATERAL = 50
# Filters on dates: a range that every backend and datetime arithmetic can represent.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)
NOT_FOUND = "融资需求不存在"


# --- request schemas -----------------------------------------------------------------------------


def _need_fields(required: bool) -> dict[str, fields.Field]:
    """The fields of a need; `required=False` for PATCH, where every field is optional."""
    req = {"required": True} if required else {}
    return {
        "title": Str(max_length=100, **req, metadata={"description": "需求标题",
                                                        "example": "林下经济基地扩建"}),
        "description": Str(max_length=5000, blank=True, allow_none=True,
                           metadata={"description": "需求描述（可选）"}),
        "purpose": Code(PURPOSES, **req, metadata={"description": "资金用途"}),
        "amount_wan": DecimalString(minimum="0.01", maximum=MAX_AMOUNT_WAN, **req,
                                    metadata={"description": "融资金额（万元）",
                                              "example": "150.00"}),
        "term_months": Int(minimum=1, maximum=360, **req,
                           metadata={"description": "融资期限（月）"}),
        "green_category": Str(max_length=16, **req,
                              metadata={"description": "《绿色产业指导目录（2019年版）》编号",
                                        "example": "4.1.4"}),
        "collateral": ListOf(Code(COLLATERAL), min_items=1, max_items=MAX_COLLATERAL, **req,
                             metadata={"description": "可提供的担保方式（至少一项）"}),
        "region_code": Str(max_length=12, **req,
                           metadata={"description": "项目所在地 GB/T 2260 代码",
                                     "example": "330523"}),
        "rate_cap": DecimalString(max_digits=5, minimum="0.01", maximum=MAX_RATE, allow_none=True,
                                  metadata={"description": "可接受的年利率上限（%，可选）",
                                            "example": "4.50"}),
        "co2_reduction_t": DecimalString(
            minimum=0, maximum=MAX_CO2_T, allow_none=True,
            metadata={"description": "预计年减排二氧化碳（吨，可选）"}),
        "coal_saving_tce": DecimalString(
            minimum=0, maximum=MAX_CO2_T, allow_none=True,
            metadata={"description": "预计年节约标准煤（吨，可选；扩展字段）"}),
        "project_investment_wan": DecimalString(
            minimum="0.01", maximum=MAX_AMOUNT_WAN, allow_none=True,
            metadata={"description": "项目总投资（万元，可选；扩展字段）"}),
        "deadline": Day(allow_none=True, metadata={
            "description": "希望在此日期前获得融资（YYYY-MM-DD，今天到三年内，可选；扩展字段）"}),
    }


NeedCreateSchema = BaseSchema.from_dict(
    _need_fields(required=True) | {
        "publish": Bool(load_default=True,
                        metadata={"description": "true（默认）立即发布为待抢单；false 保存为草稿"}),
    },
    name="NeedCreate",
)
NeedUpdateSchema = BaseSchema.from_dict(_need_fields(required=False), name="NeedUpdate")


class WithdrawSchema(BaseSchema):
    reason = Str(max_length=200, required=True, metadata={"description": "撤回原因"})


class NeedQuerySchema(PagingQuerySchema):
    status = ListOf(Code(NEED_STATUSES), max_items=len(NEED_STATUSES), metadata={
        "description": "只列出这些状态（可重复：status=open&status=claimed）"})
    green_category = Str(max_length=16, validate=known_category,
                         metadata={"description": "绿色产业分类，含其下级（4.1 匹配 4.1.4）"})
    region_code = Str(max_length=12, validate=known_region,
                      metadata={"description": "项目所在地，含其下级（330500 匹配 330502）"})
    min_amount_wan = DecimalString(minimum=0, metadata={"description": "融资金额不低于（万元）"})
    max_amount_wan = DecimalString(minimum=0, metadata={"description": "融资金额不高于（万元）"})
    created_from = Day(validate=day_range(FIRST_DAY, LAST_DAY),
                       metadata={"description": "创建日期不早于（含，按北京时间）"})
    created_to = Day(validate=day_range(FIRST_DAY, LAST_DAY),
                     metadata={"description": "创建日期不晚于（含，按北京时间）"})


# --- response schemas ----------------------------------------------------------------------------


class NeedEnterpriseSchema(BaseSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    region_code = fields.String(required=True)
    industry_code = fields.String(required=True)
    size = fields.String(required=True, metadata={"enum": list(ENTERPRISE_SIZES)})
    env_credit = fields.String(required=True, metadata={"enum": list(ENV_CREDIT)})
    uscc = fields.String(metadata={"description": "仅需求方企业与金融办可见"})
    contact_name = fields.String(metadata={"description": "需求方企业、金融办与已抢单的银行可见"})
    phone = fields.String(metadata={"description": "需求方企业、金融办与已抢单的银行可见"})
    email = fields.String(metadata={"description": "需求方企业、金融办与已抢单的银行可见"})
    address = fields.String(allow_none=True,
                            metadata={"description": "需求方企业、金融办与已抢单的银行可见"})


class NeedClaimSchema(BaseSchema):
    id = fields.Integer(required=True)
    bank_id = fields.Integer(required=True)
    bank_name = fields.String(required=True)
    status = fields.String(required=True)
    product_id = fields.Integer(allow_none=True)
    product_name = fields.String(allow_none=True)
    manager_name = fields.String(allow_none=True, metadata={"description": "负责的客户经理"})
    manager_phone = fields.String(allow_none=True)
    manager_email = fields.String(allow_none=True)
    assigned_by_office = fields.Boolean(metadata={"description": "金融办派单"})
    claimed_at = fields.DateTime()
    contact_due_at = fields.DateTime(allow_none=True, metadata={
        "description": "被选定后须在此前登记对接"})


class NeedSchema(BaseSchema):
    id = fields.Integer(required=True)
    enterprise_id = fields.Integer(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    purpose = fields.String(required=True, metadata={"enum": list(PURPOSES)})
    amount_wan = DecimalString(required=True)
    term_months = fields.Integer(required=True)
    green_category = fields.String(required=True)
    collateral = fields.List(fields.String(metadata={"enum": list(COLLATERAL)}), required=True)
    region_code = fields.String(required=True)
    rate_cap = DecimalString(max_digits=5, required=True, allow_none=True)
    co2_reduction_t = DecimalString(required=True, allow_none=True)
    coal_saving_tce = DecimalString(required=True, allow_none=True)
    project_investment_wan = DecimalString(required=True, allow_none=True)
    deadline = fields.Date(required=True, allow_none=True)
    status = fields.String(required=True, metadata={"enum": list(NEED_STATUSES)})
    enterprise = fields.Nested(NeedEnterpriseSchema, required=True,
                               metadata={"description": "银行用户只看到名称、地区、行业、规模与"
                                                        "环境信用，看不到联系方式"})
    withdraw_reason = fields.String(allow_none=True,
                                    metadata={"description": "撤回原因；仅需求方企业与金融办可见"})
    claims = fields.List(fields.Nested(NeedClaimSchema),
                         metadata={"description": "抢单的银行；仅需求方企业与金融办可见"})
    created_at = fields.DateTime(required=True, metadata={"description": "ISO 8601，UTC"})
    updated_at = fields.DateTime(required=True, metadata={"description": "ISO 8601，UTC"})
    published_at = fields.DateTime(required=True, allow_none=True)
    closed_at = fields.DateTime(required=True, allow_none=True)


NeedPageSchema = page_schema(NeedSchema, "NeedPage")


# --- payloads ------------------------------------------------------------------------------------


def sees_everything(user, need: Need) -> bool:
    """The enterprise that posted the need and the finance office see all of it."""
    return owns(user, need) or user.role in OFFICE_ROLES


def need_payload(need: Need, user) -> dict:
    enterprise = need.enterprise
    data = {
        "id": need.id,
        "enterprise_id": need.enterprise_id,
        "title": need.title,
        "description": need.description or "",
        "purpose": need.purpose,
        "amount_wan": need.amount_wan,
        "term_months": need.term_months,
        "green_category": need.green_category_code,
        "collateral": list(need.collateral or []),
        "region_code": need.region_code,
        "rate_cap": need.rate_cap,
        "co2_reduction_t": need.co2_reduction_t,
        "coal_saving_tce": need.coal_saving_tce,
        "project_investment_wan": need.project_investment_wan,
        "deadline": need.deadline,
        "status": need.status,
        "enterprise": {
            "id": enterprise.id, "name": enterprise.name, "region_code": enterprise.region_code,
            "industry_code": enterprise.industry_code, "size": enterprise.size,
            "env_credit": enterprise.env_credit,
        },
        "created_at": need.created_at,
        "updated_at": need.updated_at,
        "published_at": need.published_at,
        "closed_at": need.closed_at,
    }
    if sees_contacts(user, need):  # banks that grabbed see how to reach the enterprise
        data["enterprise"].update(contact_name=enterprise.contact_name, phone=enterprise.phone,
                                  email=enterprise.email, address=enterprise.address)
    if sees_everything(user, need):
        data["enterprise"]["uscc"] = enterprise.uscc
        data["withdraw_reason"] = need.withdraw_reason
        data["claims"] = [
            {"id": claim.id, "bank_id": claim.bank_id, "bank_name": claim.bank.name,
             "status": claim.status, "product_id": claim.product_id,
             "product_name": claim.product.name if claim.product else None,
             "manager_name": claim.manager.name if claim.manager else None,
             "manager_phone": claim.manager.phone if claim.manager else None,
             "manager_email": claim.manager.email if claim.manager else None,
             "assigned_by_office": claim.assigned_by_office, "claimed_at": claim.claimed_at,
             "contact_due_at": claim.contact_due_at}
            for claim in need.claims
        ]
    return data


# --- look-ups ------------------------------------------------------------------------------------


def visible_needs(user) -> sa.Select:
    """The needs `user` may see, the list counterpart of `needs.services.can_view`."""
    stmt = sa.select(Need)
    if user.role == "enterprise":
        return stmt.where(Need.enterprise_id == user.enterprise_id)
    if user.role in OFFICE_ROLES:
        return stmt.where(Need.status != "draft")  # a draft is its owner's alone
    if user.role in BANK_ROLES:
        return stmt.where(sa.or_(Need.status.in_(NEED_VISIBLE_TO_BANKS),
                                 Need.claims.any(Claim.bank_id == user.bank_id)))
    return stmt.where(sa.false())


def get_visible_need(need_id: int, user) -> Need:
    need = db.session.get(Need, need_id)
    if need is None or not can_view(user, need):
        raise NotFound(NOT_FOUND)
    return need


def owned_need(view):
    """Load the need of the path before the body is read: 404 when the caller may not see it,
    403 when it may see it but is not the enterprise that posted it."""

    @wraps(view)
    def wrapped(*args, need_id: int, **kwargs):
        user = current_api_user()
        need = get_visible_need(need_id, user)
        if not owns(user, need):
            raise Forbidden("只能操作本企业的融资需求")
        return view(*args, need=need, **kwargs)

    return wrapped


def _local_midnight(day: date) -> datetime:
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    return datetime.combine(day, time(), tzinfo=zone)


def filtered(stmt: sa.Select, query: dict) -> sa.Select:
    errors: dict[str, list[str]] = {}
    if query.get("status"):
        stmt = stmt.where(Need.status.in_(query["status"]))
    if "green_category" in query:
        category = query["green_category"].strip()
        stmt = stmt.where(Need.green_category_code.in_(codes.category_codes_under(category)))
    if "region_code" in query:
        prefix = codes.region_prefix(query["region_code"].strip())
        stmt = stmt.where(Need.region_code.startswith(prefix, autoescape=True))
    low, high = query.get("min_amount_wan"), query.get("max_amount_wan")
    if low is not None:
        stmt = stmt.where(Need.amount_wan >= low)
    if high is not None:
        stmt = stmt.where(Need.amount_wan <= high)
    if low is not None and high is not None and low > high:
        errors["max_amount_wan"] = ["不能小于 min_amount_wan"]
    first, last = query.get("created_from"), query.get("created_to")
    if first is not None:
        stmt = stmt.where(Need.created_at >= _local_midnight(first))
    if last is not None:
        stmt = stmt.where(Need.created_at < _local_midnight(last + timedelta(days=1)))
    if first is not None and last is not None and first > last:
        errors["created_to"] = ["不能早于 created_from"]
    if errors:
        raise InvalidInput("查询参数有误", errors)
    return stmt


# --- operations ----------------------------------------------------------------------------------


@blp.route("", methods=["POST"])
@token_required("enterprise")
@blp.arguments(NeedCreateSchema)
@blp.response(201, NeedSchema)
def create(data):
    """发布融资需求（企业）

    默认立即发布（status 为 open，所有银行可见）；`"publish": false` 保存为草稿（status 为
    draft，只有本企业可见）。分类、地区代码不存在等问题以 422 按字段返回。
    """
    user = current_api_user()
    publish = data.pop("publish")
    need = create_need(user, data, publish=publish)
    return need_payload(need, user)


@blp.route("", methods=["GET"])
@token_required()
@blp.arguments(NeedQuerySchema, location="query")
@blp.response(200, NeedPageSchema)
def index(query):
    """融资需求列表

    企业看到本企业的全部需求（含草稿）；金融办与平台管理员看到全部需求；银行用户看到对银行
    可见的需求（待抢单、已抢单、已上报、已派单，以及本行抢过的需求），且只有公开字段。按创建
    时间从新到旧排列。筛选值无效时 422，`errors` 中指明参数。
    """
    user = current_api_user()
    stmt = filtered(visible_needs(user), query).options(
        selectinload(Need.enterprise), selectinload(Need.claims).selectinload(Claim.bank),
    ).order_by(Need.created_at.desc(), Need.id.desc())
    needs, paging = paginate(stmt, query)
    return {"items": [need_payload(need, user) for need in needs], **paging}


@blp.route(f"/{NEED_ID}", methods=["GET"])
@token_required()
@blp.response(200, NeedSchema)
@blp.alt_response(404, response="NOT_FOUND")
def show(need_id: int):
    """一条融资需求

    需求方企业与金融办看到全部字段及抢单银行（claims）；抢了该需求的银行另可见企业联系方式；其他银行用户只看到公开字段（不含企业的
    联系人、电话、邮箱、统一社会信用代码与地址）。无权查看的需求（其他企业的需求、草稿等）一律
    404，与不存在时相同。
    """
    user = current_api_user()
    return need_payload(get_visible_need(need_id, user), user)


@blp.route(f"/{NEED_ID}", methods=["PATCH"])
@token_required("enterprise")
@owned_need
@blp.arguments(NeedUpdateSchema)
@blp.response(200, NeedSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def update(data, need: Need):
    """修改融资需求（需求方企业）

    只需发送要修改的字段；可选字段发送 null 即清空。草稿与待抢单的需求可以修改，待抢单需求的
    每次修改都留有修改记录；已有银行抢单或已结束时 409（errors.status）。
    """
    user = current_api_user()
    return need_payload(update_need(need, data, user), user)


@blp.route(f"/{NEED_ID}/publish", methods=["POST"])
@token_required("enterprise")
@owned_need
@blp.response(200, NeedSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def publish(need: Need):
    """发布草稿（需求方企业）

    草稿变为待抢单（open）；不是草稿时 409（errors.status）；草稿内容已不合规（如截止日期已过）
    时 422 按字段返回。
    """
    user = current_api_user()
    return need_payload(publish_need(need, user), user)


@blp.route(f"/{NEED_ID}/withdraw", methods=["POST"])
@token_required("enterprise")
@owned_need
@blp.arguments(WithdrawSchema)
@blp.response(200, NeedSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def withdraw(data, need: Need):
    """撤回融资需求（需求方企业）

    已授信、已放款或已结束的需求不能撤回（409，errors.status）。
    """
    user = current_api_user()
    return need_payload(withdraw_need(need, data["reason"], user), user)
