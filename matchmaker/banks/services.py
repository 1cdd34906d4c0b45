"""Banks and their users. The office creates banks; the office or a bank's admin adds its users."""

from __future__ import annotations

import sqlalchemy as sa

from matchmaker.accounts.models import User
from matchmaker.accounts.permissions import can_manage_bank_users
from matchmaker.accounts.services import (
    check_new_user,
    ensure_email_free,
    new_user,
    normalize_email,
)
from matchmaker.audit.services import emit, record, snapshot
from matchmaker.banks.models import Bank
from matchmaker.enums import BANK_KINDS, BANK_ROLES
from matchmaker.errors import Conflict, FieldErrors, Forbidden
from matchmaker.extensions import db
from matchmaker.reference.models import Region
from matchmaker.validation import region_codes as check_region_codes
from workers.dispatch import commit


def _regions(codes_: list[str]) -> list[Region]:
    return list(db.session.scalars(sa.select(Region).where(Region.code.in_(codes_))))


def create_bank(*, name: str, kind: str, region_codes, actor: User) -> Bank:
    errors = FieldErrors()
    name = (name or "").strip()
    if not name:
        errors.add("name", "请输入银行名称")
    elif len(name) > 64:
        errors.add("name", "银行名称不能超过 64 个字符")
    if kind not in BANK_KINDS:
        errors.add("kind", "请选择银行类型")
    cleaned = check_region_codes(errors, "region_codes", region_codes)
    errors.raise_if_any()
    if db.session.scalar(sa.select(Bank.id).where(Bank.name == name)) is not None:
        raise Conflict("该银行已存在", {"name": ["该银行已存在"]})

    bank = Bank(name=name, kind=kind, regions=_regions(cleaned))
    db.session.add(bank)
    db.session.flush()
    record("bank.created", "bank", bank.id,
           after={"name": name, "kind": kind, "region_codes": cleaned}, actor=actor)
    emit("bank.created", "bank", bank.id)
    try:
        commit()
    except sa.exc.IntegrityError as exc:
        db.session.rollback()
        raise Conflict("该银行已存在", {"name": ["该银行已存在"]}) from exc
    return bank


def create_bank_user(bank: Bank, *, email: str, password: str, name: str, role: str,
                     region_codes=None, phone: str | None = None, actor: User) -> User:
    if not can_manage_bank_users(actor, bank.id):
        raise Forbidden("无权为该银行创建用户")
    errors = FieldErrors()
    email = normalize_email(email)
    check_new_user(errors, email, password, name)
    if role not in BANK_ROLES:
        errors.add("role", "角色只能是银行管理员或客户经理")
    cleaned = check_region_codes(errors, "region_codes", region_codes or [],
                                 within=bank.region_codes, required=role == "bank_manager")
    errors.raise_if_any()
    ensure_email_free(email)

    user = new_user(email=email, password=password, name=name, role=role, phone=phone,
                    bank_id=bank.id)
    user.regions = _regions(cleaned)
    db.session.flush()
    record("user.created", "user", user.id,
           after=snapshot(user, ["email", "name", "role", "bank_id"]) | {"region_codes": cleaned},
           actor=actor)
    emit("user.created", "user", user.id)
    try:
        commit()
    except sa.exc.IntegrityError as exc:
        db.session.rollback()
        raise Conflict("该邮箱已注册", {"email": ["该邮箱已注册"]}) from exc
    return user
