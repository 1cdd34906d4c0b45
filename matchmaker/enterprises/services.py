"""Enterprise self-registration."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from stdnum.cn import uscc as uscc_std
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength

from matchmaker import validation
from matchmaker.accounts.models import User
from matchmaker.accounts.services import (
    check_new_user,
    ensure_email_free,
    new_user,
    normalize_email,
)
from matchmaker.audit.services import emit, record, snapshot
from matchmaker.enterprises.models import Enterprise
from matchmaker.enums import ENTERPRISE_SIZES, ENV_CREDIT
from matchmaker.errors import Conflict, FieldErrors
from matchmaker.extensions import db
from matchmaker.reference import codes
from workers.dispatch import commit

AUDIT_FIELDS = ["uscc", "name", "region_code", "industry_code", "size", "env_credit",
                "contact_name", "phone", "email"]


def uscc_problem(raw: str | None) -> tuple[str, str | None]:
    """(compacted code, Chinese message or None). The check character is verified by stdnum."""
    code = uscc_std.compact(raw or "") if raw else ""
    if not code:
        return code, "请输入统一社会信用代码"
    try:
        return uscc_std.validate(code), None
    except InvalidLength:
        return code, "统一社会信用代码应为 18 位"
    except InvalidChecksum:
        return code, "统一社会信用代码校验位不正确，请核对"
    except (InvalidFormat, InvalidComponent):
        return code, "统一社会信用代码格式不正确"


@dataclass
class Registration:
    uscc: str
    name: str
    region_code: str
    industry_code: str
    size: str
    env_credit: str
    contact_name: str
    phone: str
    email: str
    password: str
    address: str | None = None


def register_enterprise(data: Registration) -> tuple[Enterprise, User]:
    """Create the enterprise and its first user, or raise InvalidInput / Conflict with fields."""
    errors = FieldErrors()
    uscc, problem = uscc_problem(data.uscc)
    if problem:
        errors.add("uscc", problem)
    name = validation.text(errors, "name", data.name, "企业名称", 128)
    region = codes.region((data.region_code or "").strip())
    if region is None or region.retired:
        errors.add("region_code", "行政区划代码不存在")
    industry_code = codes.normalize_industry_code(data.industry_code)
    if codes.industry(industry_code) is None:
        errors.add("industry_code", "行业代码不存在（请填写 GB/T 4754 门类字母或两位大类代码）")
    if data.size not in ENTERPRISE_SIZES:
        errors.add("size", "请选择企业规模")
    if data.env_credit not in ENV_CREDIT:
        errors.add("env_credit", "请选择环境信用评价等级")
    contact_name = validation.text(errors, "contact_name", data.contact_name, "联系人", 64)
    phone = validation.text(errors, "phone", data.phone, "联系电话", 32)
    if phone and not all(ch.isdigit() or ch in "+-() " for ch in phone):
        errors.add("phone", "联系电话只能包含数字和 +-()")
    email = normalize_email(data.email)
    check_new_user(errors, email, data.password, None)
    errors.raise_if_any()

    if db.session.scalar(sa.select(Enterprise.id).where(Enterprise.uscc == uscc)) is not None:
        raise Conflict("该统一社会信用代码已注册", {"uscc": ["该统一社会信用代码已注册"]})
    ensure_email_free(email)

    enterprise = Enterprise(
        uscc=uscc, name=name, region_code=region.code, industry_code=industry_code,
        size=data.size, env_credit=data.env_credit, contact_name=contact_name, phone=phone,
        email=email, address=(data.address or "").strip()[:200] or None,
    )
    db.session.add(enterprise)
    db.session.flush()
    user = new_user(email=email, password=data.password, name=contact_name, role="enterprise",
                    phone=phone, enterprise_id=enterprise.id)
    db.session.flush()
    record("enterprise.registered", "enterprise", enterprise.id,
           after=snapshot(enterprise, AUDIT_FIELDS), actor=user)
    record("user.created", "user", user.id,
           after=snapshot(user, ["email", "name", "role", "enterprise_id"]), actor=user)
    emit("enterprise.registered", "enterprise", enterprise.id)
    try:
        commit()
    except sa.exc.IntegrityError as exc:  # a concurrent registration won the race
        db.session.rollback()
        raise Conflict("该统一社会信用代码或邮箱已注册",
                       {"uscc": ["该统一社会信用代码或邮箱已注册"]}) from exc
    return enterprise, user
