"""Loan products: a bank admin publishes, edits, activates and deactivates the bank's products."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from matchmaker import validation
from matchmaker.audit.services import emit, record, snapshot
from matchmaker.database import utcnow
from matchmaker.enums import COLLATERAL, ENTERPRISE_SIZES, ENV_CREDIT
from matchmaker.errors import FieldErrors, Forbidden
from matchmaker.extensions import db
from matchmaker.products.models import Product
from matchmaker.reference.models import GreenCategory, Region
from search.documents import product_text
from search.tokenizer import analyzed
from workers.dispatch import commit

MAX_AMOUNT_WAN = Decimal("10000000")  # 1,000 亿元: far above any single green loan
MAX_RATE = Decimal("36")

FIELDS = ["name", "description", "green_categories", "collateral", "min_amount_wan",
          "max_amount_wan", "min_term_months", "max_term_months", "rate_min", "rate_max",
          "region_codes", "enterprise_sizes", "min_env_credit", "active"]
AUDIT_FIELDS = ["name", "description", "category_codes", "collateral", "min_amount_wan",
                "max_amount_wan", "min_term_months", "max_term_months", "rate_min", "rate_max",
                "region_codes", "enterprise_sizes", "min_env_credit", "active"]


def can_manage(user, product_or_bank_id) -> bool:
    bank_id = getattr(product_or_bank_id, "bank_id", product_or_bank_id)
    return user is not None and user.role == "bank_admin" and user.bank_id == bank_id


def clean(data: dict, bank, current: Product | None = None) -> dict:
    """Check a full submission (or, with `current`, a partial one merged over the product)."""
    if current is not None:
        merged = {
            "name": current.name, "description": current.description,
            "green_categories": current.category_codes, "collateral": current.collateral,
            "min_amount_wan": current.min_amount_wan, "max_amount_wan": current.max_amount_wan,
            "min_term_months": current.min_term_months, "max_term_months": current.max_term_months,
            "rate_min": current.rate_min, "rate_max": current.rate_max,
            "region_codes": current.region_codes, "enterprise_sizes": current.enterprise_sizes,
            "min_env_credit": current.min_env_credit, "active": current.active,
        }
        merged.update({k: v for k, v in data.items() if k in FIELDS})
        data = merged
    errors = FieldErrors()
    out = {
        "name": validation.text(errors, "name", data.get("name"), "产品名称", 64),
        "description": validation.text(errors, "description", data.get("description"),
                                       "产品介绍", 5000, required=False),
        "green_categories": validation.category_codes(errors, "green_categories",
                                                      data.get("green_categories")),
        "collateral": validation.choices(errors, "collateral", data.get("collateral"),
                                         "担保方式", COLLATERAL),
        "min_amount_wan": validation.decimal(errors, "min_amount_wan", data.get("min_amount_wan"),
                                             "最低金额", minimum=Decimal(0),
                                             exclusive_minimum=True, maximum=MAX_AMOUNT_WAN),
        "max_amount_wan": validation.decimal(errors, "max_amount_wan", data.get("max_amount_wan"),
                                             "最高金额", minimum=Decimal(0),
                                             exclusive_minimum=True, maximum=MAX_AMOUNT_WAN),
        "min_term_months": validation.integer(errors, "min_term_months",
                                              data.get("min_term_months"), "最短期限",
                                              minimum=1, maximum=360),
        "max_term_months": validation.integer(errors, "max_term_months",
                                              data.get("max_term_months"), "最长期限",
                                              minimum=1, maximum=360),
        "rate_min": validation.decimal(errors, "rate_min", data.get("rate_min"), "最低年利率",
                                       minimum=Decimal(0), maximum=MAX_RATE),
        "rate_max": validation.decimal(errors, "rate_max", data.get("rate_max"), "最高年利率",
                                       minimum=Decimal(0), maximum=MAX_RATE),
        "region_codes": validation.region_codes(errors, "region_codes", data.get("region_codes"),
                                                within=bank.region_codes),
        "enterprise_sizes": validation.choices(errors, "enterprise_sizes",
                                               data.get("enterprise_sizes"), "企业规模",
                                               ENTERPRISE_SIZES),
        "min_env_credit": validation.choice(errors, "min_env_credit",
                                            data.get("min_env_credit") or "yellow",
                                            "最低环境信用等级", ENV_CREDIT),
        "active": bool(data.get("active", True)),
    }
    if out["min_amount_wan"] and out["max_amount_wan"] and \
            out["min_amount_wan"] > out["max_amount_wan"]:
        errors.add("max_amount_wan", "最高金额不能小于最低金额")
    if out["min_term_months"] and out["max_term_months"] and \
            out["min_term_months"] > out["max_term_months"]:
        errors.add("max_term_months", "最长期限不能小于最短期限")
    if out["rate_min"] is not None and out["rate_max"] is not None and \
            out["rate_min"] > out["rate_max"]:
        errors.add("rate_max", "最高利率不能小于最低利率")
    errors.raise_if_any()
    return out


def _apply(product: Product, cleaned: dict) -> None:
    for field in ("name", "description", "collateral", "min_amount_wan", "max_amount_wan",
                  "min_term_months", "max_term_months", "rate_min", "rate_max",
                  "enterprise_sizes", "min_env_credit", "active"):
        setattr(product, field, cleaned[field])
    product.search_tokens = analyzed(product_text(product.name, product.description))
    product.categories = list(db.session.scalars(
        sa.select(GreenCategory).where(GreenCategory.code.in_(cleaned["green_categories"]))))
    product.regions = list(db.session.scalars(
        sa.select(Region).where(Region.code.in_(cleaned["region_codes"]))))


def create_product(bank, data: dict, actor) -> Product:
    if not can_manage(actor, bank.id):
        raise Forbidden("只有本行管理员可以发布产品")
    cleaned = clean(data, bank)
    product = Product(bank_id=bank.id, created_by_id=actor.id)
    _apply(product, cleaned)
    db.session.add(product)
    db.session.flush()
    record("product.created", "product", product.id, after=snapshot(product, AUDIT_FIELDS),
           actor=actor)
    emit("product.created", "product", product.id, {"bank_id": bank.id})
    commit()
    return product


def update_product(product: Product, data: dict, actor) -> Product:
    if not can_manage(actor, product):
        raise Forbidden("只能修改本行的产品")
    cleaned = clean(data, product.bank, current=product)
    before = snapshot(product, AUDIT_FIELDS)
    _apply(product, cleaned)
    after = snapshot(product, AUDIT_FIELDS)
    if before == after:
        return product
    # Categories and regions live in other tables: bump the version the index and caches read.
    product.updated_at = utcnow()
    record("product.updated", "product", product.id, before=before, after=after, actor=actor)
    emit("product.updated", "product", product.id, {"bank_id": product.bank_id})
    commit()
    return product


def set_active(product: Product, active: bool, actor) -> Product:
    return update_product(product, {"active": active}, actor)
