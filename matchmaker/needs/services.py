"""Financing needs: an enterprise drafts, publishes, edits (with history) and withdraws them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm.attributes import set_committed_value

from matchmaker import validation
from matchmaker.audit.services import emit, jsonable, record, snapshot
from matchmaker.claims import states
from matchmaker.claims.models import Claim
from matchmaker.database import utcnow
from matchmaker.enums import COLLATERAL, NEED_CLOSED, NEED_VISIBLE_TO_BANKS, PURPOSES
from matchmaker.errors import Conflict, FieldErrors, Forbidden
from matchmaker.extensions import db
from matchmaker.needs.models import Need, NeedRevision
from search.documents import need_text
from search.tokenizer import analyzed
from workers.dispatch import commit

MAX_AMOUNT_WAN = Decimal("10000000")
MAX_RATE = Decimal("36")
MAX_CO2_T = Decimal("100000000")

FIELDS = ["title", "description", "purpose", "amount_wan", "term_months", "green_category",
          "collateral", "region_code", "rate_cap", "co2_reduction_t", "coal_saving_tce",
          "project_investment_wan", "deadline"]
# Model attribute for each input field (the API says green_category; the column has _code).
ATTRIBUTES = {field: field for field in FIELDS} | {"green_category": "green_category_code"}
EDITABLE_STATUSES = ("draft", "open")
WITHDRAWABLE_STATUSES = tuple(status for status, targets in states.NEED_TRANSITIONS.items()
                              if "withdrawn" in targets)


def local_today() -> date:
    return datetime.now(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])).date()


def _deadline(errors: FieldErrors, value) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            errors.add("deadline", "日期格式应为 YYYY-MM-DD")
            return None
    if isinstance(value, datetime) or not isinstance(value, date):
        errors.add("deadline", "日期格式应为 YYYY-MM-DD")
        return None
    today = local_today()
    if value < today:
        errors.add("deadline", "截止日期不能早于今天")
    elif value > today + timedelta(days=3 * 365):
        errors.add("deadline", "截止日期不能晚于三年后")
    return value


def clean(data: dict, current: Need | None = None) -> dict:
    """Check a full submission, or a partial one merged over `current`."""
    if current is not None:
        merged = {field: getattr(current, ATTRIBUTES[field]) for field in FIELDS}
        merged.update({k: v for k, v in data.items() if k in FIELDS})
        data = merged
    errors = FieldErrors()
    out = {
        "title": validation.text(errors, "title", data.get("title"), "需求标题", 100),
        "description": validation.text(errors, "description", data.get("description"),
                                       "需求描述", 5000, required=False),
        "purpose": validation.choice(errors, "purpose", data.get("purpose"), "资金用途",
                                     PURPOSES),
        "amount_wan": validation.decimal(errors, "amount_wan", data.get("amount_wan"),
                                         "融资金额", minimum=Decimal(0), exclusive_minimum=True,
                                         maximum=MAX_AMOUNT_WAN),
        "term_months": validation.integer(errors, "term_months", data.get("term_months"),
                                          "融资期限", minimum=1, maximum=360),
        "green_category": validation.category_code(errors, "green_category",
                                                   data.get("green_category")),
        "collateral": validation.choices(errors, "collateral", data.get("collateral"),
                                         "担保方式", COLLATERAL),
        "region_code": validation.region_code(errors, "region_code", data.get("region_code")),
        "rate_cap": validation.decimal(errors, "rate_cap", data.get("rate_cap"), "可接受年利率上限",
                                       minimum=Decimal(0), exclusive_minimum=True,
                                       maximum=MAX_RATE, required=False),
        "co2_reduction_t": validation.decimal(errors, "co2_reduction_t",
                                              data.get("co2_reduction_t"), "预计年减排量",
                                              minimum=Decimal(0), maximum=MAX_CO2_T,
                                              required=False),
        "coal_saving_tce": validation.decimal(errors, "coal_saving_tce",
                                              data.get("coal_saving_tce"), "预计年节约标准煤",
                                              minimum=Decimal(0), maximum=MAX_CO2_T,
                                              required=False),
        "project_investment_wan": validation.decimal(
            errors, "project_investment_wan", data.get("project_investment_wan"), "项目总投资",
            minimum=Decimal(0), exclusive_minimum=True, maximum=MAX_AMOUNT_WAN, required=False),
        "deadline": _deadline(errors, data.get("deadline")),
    }
    if out["project_investment_wan"] and out["amount_wan"] and \
            out["amount_wan"] > out["project_investment_wan"] * 2:
        errors.add("project_investment_wan", "项目总投资明显小于融资金额，请核对")
    errors.raise_if_any()
    return out


def _apply(need: Need, cleaned: dict) -> None:
    for field, value in cleaned.items():
        setattr(need, ATTRIBUTES[field], value)
    need.search_tokens = analyzed(need_text(need.title, need.description))


def owns(user, need: Need) -> bool:
    return (user is not None and user.role == "enterprise"
            and user.enterprise_id == need.enterprise_id)


def can_view(user, need: Need) -> bool:
    """Drafts only to their owner; open needs to every bank user; everything to the office."""
    if user is None:
        return False
    if owns(user, need):
        return True
    if need.status == "draft":
        return False
    if user.role in ("office", "admin"):
        return True
    if user.role in ("bank_manager", "bank_admin"):
        if need.status in NEED_VISIBLE_TO_BANKS:
            return True
        return any(claim.bank_id == user.bank_id for claim in need.claims)
    return False


def lock_need(need: Need) -> Need:
    """Re-read the need and its claims under a row lock on the need (FOR NO KEY UPDATE: it does
    not block the claims' foreign-key checks, which would deadlock concurrent grabs). Every
    change of a need's status or claims takes it first and decides on what it read here, so
    two of them (a grab and a withdrawal, two grabs) cannot both act on what they read before.
    SQLite serialises writers. Call it before changing anything: it drops unflushed changes."""
    need_id = need.id
    db.session.expire(need)  # every column, also those an earlier query left unloaded
    db.session.scalars(sa.select(Need).where(Need.id == need_id)
                       .with_for_update(key_share=True)
                       .execution_options(populate_existing=True)).one()
    claims = db.session.scalars(sa.select(Claim).where(Claim.need_id == need_id)
                                .order_by(Claim.slot)
                                .execution_options(populate_existing=True)).all()
    set_committed_value(need, "claims", list(claims))  # as read under the lock
    return need


def create_need(user, data: dict, publish: bool = True) -> Need:
    if user is None or user.role != "enterprise":
        raise Forbidden("只有企业用户可以发布融资需求")
    cleaned = clean(data)
    need = Need(enterprise_id=user.enterprise_id, created_by_id=user.id, status="draft")
    _apply(need, cleaned)
    if publish:
        need.status = "open"
        need.published_at = utcnow()
    db.session.add(need)
    db.session.flush()
    record("need.created", "need", need.id, after=_audit(need), actor=user)
    emit("need.published" if publish else "need.drafted", "need", need.id)
    commit()
    return need


def _audit(need: Need) -> dict:
    return snapshot(need, [ATTRIBUTES[f] for f in FIELDS] + ["status"])


def update_need(need: Need, data: dict, user) -> Need:
    """Edit a draft or an open need; edits of an open need are kept as revisions."""
    if not owns(user, need):
        raise Forbidden("只能修改本企业的融资需求")
    lock_need(need)  # a bank grabbing meanwhile ends editing: the status is read under the lock
    if need.status not in EDITABLE_STATUSES:
        raise Conflict("已有银行抢单或需求已结束，不能再修改", {"status": [need.status_label]})
    cleaned = clean(data, current=need)
    before = _audit(need)
    _apply(need, cleaned)
    after = _audit(need)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if not changes:
        return need
    if need.status == "open":
        db.session.add(NeedRevision(need_id=need.id, user_id=user.id, changes=jsonable(changes)))
    record("need.updated", "need", need.id, before=before, after=after, actor=user)
    emit("need.updated", "need", need.id)
    commit()
    return need


def publish_need(need: Need, user) -> Need:
    if not owns(user, need):
        raise Forbidden("只能发布本企业的融资需求")
    if need.status != "draft":
        raise Conflict("只有草稿可以发布", {"status": [need.status_label]})
    clean({}, current=need)  # a draft must still be complete and valid (e.g. its deadline)
    states.move(need, "open")
    need.published_at = utcnow()
    record("need.published", "need", need.id, before={"status": "draft"},
           after={"status": "open"}, actor=user)
    emit("need.published", "need", need.id)
    commit()
    return need


def withdraw_need(need: Need, reason: str | None, user) -> Need:
    if not owns(user, need):
        raise Forbidden("只能撤回本企业的融资需求")
    lock_need(need)  # the claims to cancel include a grab committed meanwhile
    if need.status not in WITHDRAWABLE_STATUSES:
        raise Conflict("该需求已结束或已授信，不能撤回", {"status": [need.status_label]})
    errors = FieldErrors()
    reason = validation.text(errors, "reason", reason, "撤回原因", 200)
    errors.raise_if_any()
    before = need.status
    now = utcnow()
    states.move(need, "withdrawn")
    cancelled = states.cancel_live_claims(need, "企业撤回需求", now)
    need.withdraw_reason = reason
    need.closed_at = now
    record("need.withdrawn", "need", need.id, before={"status": before},
           after={"status": "withdrawn", "reason": reason,
                  "cancelled_claim_ids": [claim.id for claim in cancelled]}, actor=user)
    emit("need.withdrawn", "need", need.id, {"previous_status": before})
    commit()
    return need


def is_closed(need: Need) -> bool:
    return need.status in NEED_CLOSED
