"""Banks and their users."""

from __future__ import annotations

from functools import wraps

import sqlalchemy as sa
from marshmallow import fields

from matchmaker.accounts.permissions import OFFICE_ROLES, can_manage_bank_users
from matchmaker.api.auth import current_api_user, token_required
from matchmaker.api.core import BaseSchema, api_blueprint, id_part, items_schema
from matchmaker.api.fields import Code, ListOf, Str
from matchmaker.banks.models import Bank
from matchmaker.banks.services import create_bank, create_bank_user
from matchmaker.enums import BANK_KINDS, BANK_ROLES
from matchmaker.errors import Forbidden, NotFound
from matchmaker.extensions import db

blp = api_blueprint("api_banks", "/banks", "银行及其用户")

BANK_ID = id_part("bank_id")
MAX_REGIONS = 500


class BankCreateSchema(BaseSchema):
    name = Str(max_length=64, required=True, metadata={"description": "银行名称（唯一）"})
    kind = Code(BANK_KINDS, required=True, metadata={"description": "银行类型"})
    region_codes = ListOf(Str(max_length=12), min_items=1, max_items=MAX_REGIONS, required=True,
                          metadata={"description": "服务地区（GB/T 2260 代码；上级代码覆盖下级）"})


class BankSchema(BaseSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": list(BANK_KINDS)})
    region_codes = fields.List(fields.String(), required=True)


BankListSchema = items_schema(BankSchema, "BankList")


class BankUserCreateSchema(BaseSchema):
    email = Str(max_length=254, required=True, metadata={"description": "登录邮箱"})
    password = Str(max_length=128, required=True, load_only=True,
                   metadata={"format": "password"})
    name = Str(max_length=64, required=True, metadata={"description": "姓名"})
    role = Code(BANK_ROLES, required=True,
                metadata={"description": "bank_admin 银行管理员或 bank_manager 客户经理"})
    region_codes = ListOf(Str(max_length=12), max_items=MAX_REGIONS, load_default=list,
                          metadata={"description": "负责的地区，须在银行服务地区内；"
                                                   "客户经理至少一个"})
    phone = Str(max_length=32, blank=True, allow_none=True, load_default=None,
                metadata={"description": "联系电话（可选）"})


class BankUserSchema(BaseSchema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True, metadata={"enum": list(BANK_ROLES)})
    bank_id = fields.Integer(required=True)
    region_codes = fields.List(fields.String(), required=True)


def bank_payload(bank: Bank) -> dict:
    return {"id": bank.id, "name": bank.name, "kind": bank.kind,
            "region_codes": bank.region_codes}


def get_bank(bank_id: int) -> Bank:
    bank = db.session.get(Bank, bank_id)
    if bank is None:
        raise NotFound("银行不存在")
    return bank


def bank_users_manager(view):
    """Load the bank of the path (404) and check the caller may add its users (403) before the
    body is read."""

    @wraps(view)
    def wrapped(*args, bank_id: int, **kwargs):
        bank = get_bank(bank_id)
        if not can_manage_bank_users(current_api_user(), bank.id):
            raise Forbidden("无权为该银行创建用户")
        return view(*args, bank=bank, **kwargs)

    return wrapped


@blp.route("", methods=["POST"])
@token_required(*OFFICE_ROLES)
@blp.arguments(BankCreateSchema)
@blp.response(201, BankSchema)
@blp.alt_response(409, response="CONFLICT")
def create(data):
    """新建银行（金融办）

    银行名称已存在时 409（errors.name）；地区代码不存在时 422（errors.region_codes）。
    """
    bank = create_bank(name=data["name"], kind=data["kind"], region_codes=data["region_codes"],
                       actor=current_api_user())
    return bank_payload(bank)


@blp.route("", methods=["GET"])
@token_required()
@blp.response(200, BankListSchema)
def index():
    """在用银行列表

    任何已登录用户可查看，按 id 排序。
    """
    banks = db.session.scalars(sa.select(Bank).where(Bank.active).order_by(Bank.id))
    return {"items": [bank_payload(bank) for bank in banks]}


@blp.route(f"/{BANK_ID}", methods=["GET"])
@token_required()
@blp.response(200, BankSchema)
@blp.alt_response(404, response="NOT_FOUND")
def show(bank_id: int):
    """一家银行"""
    return bank_payload(get_bank(bank_id))


@blp.route(f"/{BANK_ID}/users", methods=["POST"])
@token_required("office", "admin", "bank_admin")
@bank_users_manager
@blp.arguments(BankUserCreateSchema)
@blp.response(201, BankUserSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def create_user(data, bank: Bank):
    """新建银行用户（金融办，或该银行的管理员）

    其他银行的管理员及其他角色得到 403；银行不存在时 404；邮箱已注册时 409（errors.email）。
    """
    phone = (data["phone"] or "").strip() or None
    user = create_bank_user(bank, email=data["email"], password=data["password"],
                            name=data["name"], role=data["role"],
                            region_codes=data["region_codes"], phone=phone,
                            actor=current_api_user())
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role,
            "bank_id": user.bank_id, "region_codes": user.region_codes}
