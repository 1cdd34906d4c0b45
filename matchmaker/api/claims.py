"""抢单 and the lead workflow: grab, pick, cancel a pick, record progress, 派单, reassign, rate.

Who sees a claim: the users of its bank, the enterprise that posted the need, the finance office.
Anyone else gets 404, as if it did not exist. The rules are the services' (`claims.services`).
"""

from __future__ import annotations

import sqlalchemy as sa
from marshmallow import fields

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
from matchmaker.api.fields import Code, DecimalString, Int, ListOf, Str
from matchmaker.api.needs import NEED_ID, get_visible_need
from matchmaker.claims import services
from matchmaker.claims.models import Claim
from matchmaker.claims.queries import claims_for, need_trail, with_details
from matchmaker.claims.states import EVENT_TYPES
from matchmaker.enums import CLAIM_STATUSES, DECLINE_REASONS
from matchmaker.extensions import db

blp = api_blueprint("api_claims", "", "抢单与对接：抢单、选定银行、登记进展、派单、转交、评价")

CLAIM_ID = id_part("claim_id")


# --- request schemas -----------------------------------------------------------------------------


class GrabSchema(BaseSchema):
    product_id = Int(minimum=1, allow_none=True,
                     metadata={"description": "以本行哪款产品对接（可选；默认最匹配的适用产品）"})
    note = Str(max_length=1000, blank=True, allow_none=True,
               metadata={"description": "给企业的留言（可选）"})


class SelectionSchema(BaseSchema):
    claim_id = Int(minimum=1, required=True, metadata={"description": "选定的抢单记录 id"})


class CancelSelectionSchema(BaseSchema):
    reason = Str(max_length=200, required=True, metadata={"description": "取消原因"})


class AssignmentSchema(BaseSchema):
    bank_id = Int(minimum=1, required=True, metadata={"description": "派给哪家银行"})
    manager_id = Int(minimum=1, allow_none=True, metadata={
        "description": "该行的客户经理（可选；默认负责该地区、在办线索最少的客户经理）"})
    note = Str(max_length=1000, blank=True, allow_none=True, metadata={"description": "派单说明"})


class EventSchema(BaseSchema):
    type = Code({t: t for t in EVENT_TYPES}, required=True, metadata={
        "description": "contacted 已对接 / credit_approved 已授信 / disbursed 已放款 / "
                       "declined 拒绝"})
    amount_wan = DecimalString(minimum="0.01", allow_none=True, metadata={
        "description": "授信或放款金额（万元）；credit_approved、disbursed 必填"})
    rate = DecimalString(max_digits=5, minimum="0.01", maximum=36, allow_none=True, metadata={
        "description": "年利率（%）；credit_approved 必填"})
    reason_code = Code(DECLINE_REASONS, allow_none=True, metadata={
        "description": "拒绝原因代码；declined 必填"})
    note = Str(max_length=1000, blank=True, allow_none=True, metadata={"description": "备注"})


class RatingInSchema(BaseSchema):
    stars = Int(minimum=1, maximum=5, required=True, metadata={"description": "1–5 星"})
    comment = Str(max_length=500, blank=True, allow_none=True, metadata={"description": "评价"})


class ReassignSchema(BaseSchema):
    manager_id = Int(minimum=1, required=True, metadata={"description": "本行的另一位客户经理"})


class ClaimQuerySchema(PagingQuerySchema):
    status = ListOf(Code(CLAIM_STATUSES), max_items=len(CLAIM_STATUSES), metadata={
        "description": "只列出这些状态（可重复）"})
    need_id = Int(minimum=1, strict=False, metadata={"description": "只列出该需求的抢单"})


# --- response schemas ----------------------------------------------------------------------------


class PersonSchema(BaseSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    phone = fields.String(allow_none=True)
    email = fields.String()


class ContactSchema(BaseSchema):
    enterprise_id = fields.Integer(required=True)
    enterprise_name = fields.String(required=True)
    contact_name = fields.String()
    phone = fields.String()
    email = fields.String()
    address = fields.String(allow_none=True)


class ClaimEventSchema(BaseSchema):
    id = fields.Integer(required=True)
    claim_id = fields.Integer(required=True)
    type = fields.String(required=True)
    amount_wan = DecimalString(allow_none=True)
    rate = DecimalString(max_digits=5, allow_none=True)
    reason_code = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    claim_status = fields.String(metadata={"description": "登记后抢单记录的状态"})
    need_status = fields.String(metadata={"description": "登记后需求的状态"})


class RatingSchema(BaseSchema):
    id = fields.Integer(required=True)
    claim_id = fields.Integer(required=True)
    bank_id = fields.Integer(required=True)
    stars = fields.Integer(required=True)
    comment = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)


class ClaimSchema(BaseSchema):
    id = fields.Integer(required=True)
    need_id = fields.Integer(required=True)
    need_title = fields.String(required=True)
    need_status = fields.String(required=True)
    bank_id = fields.Integer(required=True)
    bank_name = fields.String(required=True)
    product_id = fields.Integer(allow_none=True)
    product_name = fields.String(allow_none=True)
    manager = fields.Nested(PersonSchema, allow_none=True,
                            metadata={"description": "负责的客户经理及其联系方式"})
    slot = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": list(CLAIM_STATUSES)})
    assigned_by_office = fields.Boolean(required=True, metadata={"description": "金融办派单"})
    claimed_at = fields.DateTime(required=True)
    selected_at = fields.DateTime(allow_none=True)
    contact_due_at = fields.DateTime(allow_none=True, metadata={
        "description": "须在此前登记对接（选定后若干个工作日）"})
    contacted_at = fields.DateTime(allow_none=True)
    credit_approved_at = fields.DateTime(allow_none=True)
    disbursed_at = fields.DateTime(allow_none=True)
    declined_at = fields.DateTime(allow_none=True)
    lapsed_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    approved_amount_wan = DecimalString(allow_none=True)
    approved_rate = DecimalString(max_digits=5, allow_none=True)
    disbursed_amount_wan = DecimalString(allow_none=True)
    decline_reason = fields.String(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    events = fields.List(fields.Nested(ClaimEventSchema), required=True)
    rating = fields.Nested(RatingSchema, allow_none=True)
    contact = fields.Nested(ContactSchema, metadata={
        "description": "企业联系方式：只对抢了该需求的银行（及企业本身、金融办）提供"})


ClaimPageSchema = page_schema(ClaimSchema, "ClaimPage")


class TrailEntrySchema(BaseSchema):
    id = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    action = fields.String(required=True)
    actor_id = fields.Integer(allow_none=True)
    actor_role = fields.String(allow_none=True)
    actor_name = fields.String(allow_none=True)
    actor_email = fields.String(allow_none=True)
    ip = fields.String(allow_none=True)
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)


TrailSchema = BaseSchema.from_dict({"items": fields.List(fields.Nested(TrailEntrySchema))},
                                   name="NeedTrail")


# --- payloads ------------------------------------------------------------------------------------


def event_payload(event) -> dict:
    return {"id": event.id, "claim_id": event.claim_id, "type": event.type,
            "amount_wan": event.amount_wan, "rate": event.rate,
            "reason_code": event.reason_code, "note": event.note,
            "created_at": event.created_at}


def rating_payload(rating) -> dict:
    return {"id": rating.id, "claim_id": rating.claim_id, "bank_id": rating.bank_id,
            "stars": rating.stars, "comment": rating.comment, "created_at": rating.created_at}


def claim_with_details(claim: Claim) -> Claim:
    """The claim and what its payload shows, in three queries once a commit expired them (the
    id is read from the identity, which does not refresh the claim)."""
    claim_id = sa.inspect(claim).identity[0]
    return db.session.scalars(with_details(sa.select(Claim).where(Claim.id == claim_id))
                              ).unique().one()


def claim_payload(claim: Claim, user) -> dict:
    need = claim.need
    manager = claim.manager
    data = {
        "id": claim.id, "need_id": claim.need_id, "need_title": need.title,
        "need_status": need.status, "bank_id": claim.bank_id, "bank_name": claim.bank.name,
        "product_id": claim.product_id,
        "product_name": claim.product.name if claim.product else None,
        "manager": ({"id": manager.id, "name": manager.name, "phone": manager.phone,
                     "email": manager.email} if manager else None),
        "events": [event_payload(e) for e in claim.events],
        "rating": rating_payload(claim.rating) if claim.rating else None,
    }
    for name in ("slot", "status", "assigned_by_office", "claimed_at", "selected_at",
                 "contact_due_at", "contacted_at", "credit_approved_at", "disbursed_at",
                 "declined_at", "lapsed_at", "cancelled_at", "approved_amount_wan",
                 "approved_rate", "disbursed_amount_wan", "decline_reason", "cancel_reason",
                 "note"):
        data[name] = getattr(claim, name)
    if services.sees_contacts(user, need):
        enterprise = need.enterprise
        data["contact"] = {"enterprise_id": enterprise.id, "enterprise_name": enterprise.name,
                           "contact_name": enterprise.contact_name, "phone": enterprise.phone,
                           "email": enterprise.email, "address": enterprise.address}
    return data


# --- operations on a need ------------------------------------------------------------------------


@blp.route(f"/needs/{NEED_ID}/claims", methods=["POST"])
@token_required("bank_manager")
@blp.arguments(GrabSchema)
@blp.response(201, ClaimSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def grab(data, need_id: int):
    """抢单（客户经理）

    先到先得，每条需求最多 3 家银行（CLAIM_CAP），每家银行一次；客户经理每天最多抢 20 条
    （MANAGER_DAILY_GRAB_LIMIT）。已满、本行已抢过、需求已不能抢、达到每日上限时 409；需求不在
    本人负责地区时 403；本行没有适用于该需求的在售产品时 422（errors.product_id）。抢单成功后
    返回的记录中带企业联系方式。
    """
    user = current_api_user()
    claim = services.grab(need_id, user, product_id=data.get("product_id"),
                          note=data.get("note"))
    return claim_payload(claim_with_details(claim), user)


@blp.route(f"/needs/{NEED_ID}/selection", methods=["POST"])
@token_required("enterprise")
@blp.arguments(SelectionSchema)
@blp.response(200, ClaimSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def select(data, need_id: int):
    """选定银行（需求方企业）

    在抢单的银行中选定一家；其余银行标记为未被选定。选定的银行须在 5 个工作日内登记对接
    （CONTACT_DEADLINE_WORKING_DAYS），否则选定失效，企业可另选。
    """
    user = current_api_user()
    need = get_visible_need(need_id, user)
    return claim_payload(services.select_claim(need, data["claim_id"], user), user)


@blp.route(f"/needs/{NEED_ID}/selection/cancel", methods=["POST"])
@token_required("enterprise")
@blp.arguments(CancelSelectionSchema)
@blp.response(200, ClaimSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def cancel_selection(data, need_id: int):
    """取消选定（需求方企业，须说明原因）

    授信前可以取消；之后可在其余抢单银行中另选，没有其他银行时需求上报金融办。
    """
    user = current_api_user()
    need = get_visible_need(need_id, user)
    return claim_payload(services.cancel_selection(need, data["reason"], user), user)


@blp.route(f"/needs/{NEED_ID}/assignment", methods=["POST"])
@token_required(*OFFICE_ROLES)
@blp.arguments(AssignmentSchema)
@blp.response(201, ClaimSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def assign(data, need_id: int):
    """派单（金融办）

    把无人抢单（已上报）或待抢单的需求派给一家银行；企业随后选定该银行。
    """
    user = current_api_user()
    need = get_visible_need(need_id, user)
    claim = services.assign(need, data["bank_id"], user, manager_id=data.get("manager_id"),
                            note=data.get("note"))
    return claim_payload(claim, user)


@blp.route(f"/needs/{NEED_ID}/trail", methods=["GET"])
@token_required(*OFFICE_ROLES)
@blp.response(200, TrailSchema)
@blp.alt_response(404, response="NOT_FOUND")
def trail(need_id: int):
    """需求的完整审计记录（金融办）：谁、做了什么、之前 → 之后、何时、来自哪里"""
    need = get_visible_need(need_id, current_api_user())
    return {"items": need_trail(need.id)}


# --- operations on a claim -----------------------------------------------------------------------


@blp.route("/claims", methods=["GET"])
@token_required()
@blp.arguments(ClaimQuerySchema, location="query")
@blp.response(200, ClaimPageSchema)
def index(query):
    """我的抢单记录

    客户经理：自己负责的线索；银行管理员：本行全部线索；企业：本企业需求上的抢单；金融办：
    全部。按抢单时间从新到旧。
    """
    user = current_api_user()
    stmt = claims_for(user)
    if query.get("status"):
        stmt = stmt.where(Claim.status.in_(query["status"]))
    if query.get("need_id"):
        stmt = stmt.where(Claim.need_id == query["need_id"])
    stmt = with_details(stmt).order_by(Claim.claimed_at.desc(), Claim.id.desc())
    claims, paging = paginate(stmt, query)
    return {"items": [claim_payload(c, user) for c in claims], **paging}


@blp.route(f"/claims/{CLAIM_ID}", methods=["GET"])
@token_required()
@blp.response(200, ClaimSchema)
@blp.alt_response(404, response="NOT_FOUND")
def show(claim_id: int):
    """一条抢单记录（本行用户、需求方企业、金融办）"""
    user = current_api_user()
    return claim_payload(services.get_claim_for(claim_id, user), user)


@blp.route(f"/claims/{CLAIM_ID}/events", methods=["POST"])
@token_required("bank_manager", "bank_admin")
@blp.arguments(EventSchema)
@blp.response(201, ClaimEventSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def record_event(data, claim_id: int):
    """登记对接进展（被选定银行的负责客户经理或本行管理员）

    顺序：已对接 → 已授信（金额、利率）→ 已放款（金额不超过授信）；任一步可拒绝（原因代码）。
    未被选定、顺序不对、需求已结束时 409。
    """
    user = current_api_user()
    claim = services.get_claim_for(claim_id, user)  # record_event checks it is this bank's
    event = services.record_event(claim, user, data)
    return event_payload(event) | {"claim_status": claim.status,
                                   "need_status": claim.need.status}


@blp.route(f"/claims/{CLAIM_ID}/rating", methods=["POST"])
@token_required("enterprise")
@blp.arguments(RatingInSchema)
@blp.response(201, RatingSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def rate(data, claim_id: int):
    """评价银行（需求方企业，需求结束后，每笔一次）"""
    user = current_api_user()
    claim = services.get_claim_for(claim_id, user)
    return rating_payload(services.rate(claim, user, data["stars"], data.get("comment")))


@blp.route(f"/claims/{CLAIM_ID}/reassign", methods=["POST"])
@token_required("bank_admin")
@blp.arguments(ReassignSchema)
@blp.response(200, ClaimSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def reassign(data, claim_id: int):
    """转交线索给本行另一位客户经理（银行管理员）"""
    user = current_api_user()
    claim = services.get_claim_for(claim_id, user)
    return claim_payload(services.reassign(claim, data["manager_id"], user), user)

