"""抢单 and the lead workflow: grab, pick, cancel a pick, record progress, 派单, reassign, rate,
and the sweep that lapses picks, escalates needs, expires them and queues reminders.

Every status change goes through `states.move`. Each service checks who may act, locks the need
row before it changes the need's status (so two actions on one need serialise), writes the audit
trail against the need (so the need's full history is one query) and an outbox row, and commits
once with `workers.dispatch.commit`.

The cap of CLAIM_CAP grabs is the database's: a grab takes a numbered slot 1…CAP and
(need, slot) and (need, bank) are unique, so no interleaving can seat a fourth bank or a bank
twice. A loser of the race for a slot retries the next free one; when none is left it gets 409.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache, wraps

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, load_only

from matchmaker import validation
from matchmaker.accounts.models import User
from matchmaker.accounts.permissions import OFFICE_ROLES
from matchmaker.audit.services import emit, record
from matchmaker.banks.models import Bank
from matchmaker.claims import states
from matchmaker.claims.calendar import calendar
from matchmaker.claims.models import Claim, ClaimEvent, Rating
from matchmaker.database import utcnow
from matchmaker.enums import DECLINE_REASONS
from matchmaker.errors import (
    Conflict,
    FieldErrors,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceError,
)
from matchmaker.extensions import db
from matchmaker.needs.models import Need
from matchmaker.needs.services import can_view, lock_need, owns
from matchmaker.products.models import Product
from matchmaker.reference.codes import region_covers
from search import loaders
from search.features import TextStats, rank_products
from workers.dispatch import commit

log = logging.getLogger(__name__)

NEED_NOT_FOUND = "融资需求不存在"
CLAIM_NOT_FOUND = "抢单记录不存在"
MAX_RATE = Decimal("36")
NOTE_MAX = 1000
# Each extra attempt follows a lost race for a slot; CAP + 1 attempts always decide.
GRAB_ATTEMPTS_EXTRA = 1


# --- helpers -------------------------------------------------------------------------------------


def releases_locks(service):
    """A refused action rolls back at once, releasing the row locks it took, rather than holding
    them until the end of the request."""

    @wraps(service)
    def wrapped(*args, **kwargs):
        try:
            return service(*args, **kwargs)
        except ServiceError:
            db.session.rollback()
            raise

    return wrapped


def _audit(action: str, need: Need, claim: Claim | None, actor, before: dict | None = None,
           after: dict | None = None) -> None:
    after = dict(after or {})
    if claim is not None:
        after.setdefault("claim_id", claim.id)
        after.setdefault("bank_id", claim.bank_id)
    record(action, "need", need.id, before=before, after=after, actor=actor)


def _emit(topic: str, claim: Claim, **payload) -> None:
    emit(topic, "claim", claim.id, {"need_id": claim.need_id, "bank_id": claim.bank_id,
                                    **payload})


def _note(errors: FieldErrors, value) -> str | None:
    return validation.text(errors, "note", value, "备注", NOTE_MAX, required=False) or None


def bank_claim(need: Need, bank_id: int | None) -> Claim | None:
    return next((claim for claim in need.claims if claim.bank_id == bank_id), None)


def picked_claim(need: Need) -> Claim | None:
    return next((c for c in need.claims if c.status in states.PICKED_CLAIM), None)


def sees_contacts(user, need: Need) -> bool:
    """The enterprise's contact details: its own users, the office, and banks that grabbed."""
    if user is None:
        return False
    if owns(user, need) or user.role in OFFICE_ROLES:
        return True
    return user.bank_id is not None and bank_claim(need, user.bank_id) is not None


def contact_deadline(start: datetime) -> datetime:
    return calendar().add_working_days(start, current_app.config["CONTACT_DEADLINE_WORKING_DAYS"])


def escalation_deadline(need: Need) -> datetime | None:
    if need.published_at is None:
        return None
    return calendar().add_working_days(need.published_at,
                                       current_app.config["ESCALATION_WORKING_DAYS"])


# Per app: bank id → (version, product documents, text statistics). A grab checks the bank's
# products, which change rarely; one small query tells whether the cached copy is current.
BANK_PRODUCTS_KEY = "claims.bank_products"
BANK_PRODUCTS_MAX = 1024


def _bank_products(bank_id: int) -> tuple[list, TextStats | None]:
    version = tuple(db.session.execute(
        sa.select(sa.func.count(Product.id), sa.func.max(Product.updated_at), Bank.active)
        .join(Bank, Bank.id == Product.bank_id)
        .where(Product.bank_id == bank_id, Product.active.is_(True))
        .group_by(Bank.active)).first() or ())
    cache = current_app.extensions.setdefault(BANK_PRODUCTS_KEY, {})
    cached = cache.get(bank_id)
    if cached is not None and cached[0] == version:
        return cached[1], cached[2]
    ids = list(db.session.scalars(
        sa.select(Product.id).where(Product.bank_id == bank_id, Product.active.is_(True))))
    # One bank's products: its service record is the same for all, so it is not computed.
    docs = loaders.product_docs(ids, service=False) if ids else []
    stats = TextStats(d.tokens for d in docs) if docs else None
    if len(cache) >= BANK_PRODUCTS_MAX:
        cache.clear()
    cache[bank_id] = (version, docs, stats)
    return docs, stats


def eligible_products(need: Need, bank_id: int) -> list[int]:
    """The bank's active products eligible for the need, best match first."""
    docs, stats = _bank_products(bank_id)
    if not docs:
        return []
    matches = rank_products(loaders.need_doc(need), docs, stats, limit=len(docs))
    return [match.product_id for match in matches]


def _local_midnight(now: datetime) -> datetime:
    cal = calendar()
    local = now.astimezone(cal.zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def grabs_today(manager_id: int, now: datetime) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(Claim.id)).where(
            Claim.manager_id == manager_id, Claim.assigned_by_office.is_(False),
            Claim.claimed_at >= _local_midnight(now))) or 0


def _reopen(need: Need, now: datetime) -> None:
    """The picked claim ended without a loan: the enterprise may pick another grabbing bank, or,
    with none left, the need goes to the finance office."""
    pickable = [c for c in need.claims if c.status in states.PICKABLE_CLAIM]
    for claim in pickable:
        if claim.status == "not_selected":
            states.move(claim, "claimed")
    if pickable:
        states.move(need, "claimed")
    else:
        states.move(need, "escalated")
        need.escalated_at = now


def _close(need: Need, status: str, now: datetime) -> None:
    """The need ends (disbursed, declined): the other grabs end with it."""
    states.move(need, status)
    need.closed_at = now
    states.cancel_live_claims(need, "需求已结束", now)


# --- 抢单 ----------------------------------------------------------------------------------------


@releases_locks
def grab(need_id: int, user, product_id: int | None = None, note: str | None = None) -> Claim:
    """A bank manager grabs a need for the bank (first come, first served, at most CLAIM_CAP).

    The cheap refusals come first, without locks. Then the slot is taken under the need's row
    lock, which is also where a burst of grabbers queues: each waits in the database (not on
    the CPU), sees the slots the earlier ones took, and the losers leave at once with 409. The
    queue moves as fast as the work under the lock: what the lock does not guard is read before
    it, and only those that will win rank the bank's products for the need. The unique slot
    stays the guard where there are no row locks (SQLite serialises at the first write): a lost
    race retries.
    """
    if user is None or user.role != "bank_manager":
        raise Forbidden("只有银行客户经理可以抢单")
    errors = FieldErrors()
    note = _note(errors, note)
    errors.raise_if_any()
    cap = current_app.config["CLAIM_CAP"]
    need = db.session.scalars(_need_for_refusals(), {"need_id": need_id}).unique().one_or_none()
    if need is None or not can_view(user, need):
        raise NotFound(NEED_NOT_FOUND)
    _free_slots(need, user, cap)
    # What the slot's taker reads that the need's lock does not guard, read before queueing
    # for the lock so that the queue moves faster: the bank, the manager's regions, the
    # enterprise, the bank's products (checked again under the lock by their version).
    _ = user.bank, user.regions, need.enterprise
    _bank_products(user.bank_id)
    for _attempt in range(cap + GRAB_ATTEMPTS_EXTRA):
        claim, product_id = _take_slot(need_id, user, product_id, note, cap)
        if claim is not None:
            return claim
    raise Conflict(f"该需求已有{cap}家银行抢单")


@cache
def _need_for_refusals():
    """The need with its claims in one round trip, and only the columns `can_view` and
    `_free_slots` read: most grabs of a burst end there. (`_take_slot` re-reads the whole need
    under its lock.) The statement is built once."""
    return (sa.select(Need).where(Need.id == sa.bindparam("need_id"))
            .options(load_only(Need.id, Need.enterprise_id, Need.status),
                     joinedload(Need.claims).load_only(Claim.id, Claim.need_id, Claim.bank_id,
                                                       Claim.slot, Claim.status)))


def _free_slots(need: Need, user, cap: int) -> list[int]:
    """The grab slots still free, or 409 for why this bank cannot grab the need."""
    if bank_claim(need, user.bank_id) is not None:
        raise Conflict("贵行已抢过该需求，不能重复抢单")
    if need.status not in states.GRABBABLE_NEED:
        raise Conflict(f"该需求当前为「{need.status_label}」，不能抢单",
                       {"status": [need.status_label]})
    taken = {claim.slot for claim in need.claims}
    free = [slot for slot in range(1, cap + 1) if slot not in taken]
    if not free:
        raise Conflict(f"该需求已有{cap}家银行抢单")
    return free


def _grab_product(need: Need, bank_id: int, product_id: int | None) -> int:
    """The product the bank grabs with: the one asked for if eligible, else its best match."""
    eligible = eligible_products(need, bank_id)
    if product_id is not None:
        if product_id not in eligible:
            raise InvalidInput("所选产品不适用于该需求",
                               {"product_id": ["该产品不是本行适用于此需求的在售产品"]})
        return product_id
    if not eligible:
        raise InvalidInput("本行没有适用于该需求的在售产品，不能抢单",
                           {"product_id": ["本行没有适用于该需求的在售产品"]})
    return eligible[0]


def _take_slot(need_id: int, user, product_id: int | None, note: str | None,
               cap: int) -> tuple[Claim | None, int | None]:
    """(the claim, the product) — or (None, the product) after a lost race for the slot."""
    now = utcnow()
    need = lock_need(db.session.get(Need, need_id))
    free = _free_slots(need, user, cap)
    # What only a bank that may still win needs to know (the losers of a burst are gone).
    if not user.bank.active:
        raise Forbidden("本行已停用，不能抢单")
    coverage = user.region_codes
    if coverage and not any(region_covers(code, need.region_code) for code in coverage):
        raise Forbidden("该需求不在您负责的地区，请联系本行管理员调整负责地区")
    # One manager's grabs serialise on the manager's row, so the daily count cannot be raced.
    # Lock order: the need's row, then the manager's (no other path locks a manager's row).
    db.session.execute(
        sa.select(User.id).where(User.id == user.id).with_for_update(key_share=True))
    limit = current_app.config["MANAGER_DAILY_GRAB_LIMIT"]
    if grabs_today(user.id, now) >= limit:
        raise Conflict(f"您今天已抢单 {limit} 条，达到每日上限，请明天再抢")
    product_id = _grab_product(need, user.bank_id, product_id)
    claim = Claim(need_id=need.id, bank_id=user.bank_id, manager_id=user.id,
                  product_id=product_id, slot=free[0], status="claimed", claimed_at=now,
                  note=note)
    db.session.add(claim)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        if "bank" in str(exc.orig):
            raise Conflict("贵行已抢过该需求，不能重复抢单") from None
        return None, product_id  # another bank took that slot first: try the next one
    before = need.status
    if need.status != "claimed":
        states.move(need, "claimed")
    if need.first_claimed_at is None:
        need.first_claimed_at = now
    _audit("claim.grabbed", need, claim, user, before={"status": before},
           after={"status": need.status, "slot": claim.slot, "product_id": product_id})
    _emit("claim.created", claim)
    commit()
    return claim, product_id


# --- the enterprise's choice ---------------------------------------------------------------------


def _owned(need: Need, user) -> None:
    if not owns(user, need):
        if user is not None and user.role in OFFICE_ROLES:
            raise Forbidden("只有发布需求的企业可以进行此操作")
        raise NotFound(NEED_NOT_FOUND)


@releases_locks
def select_claim(need: Need, claim_id, user) -> Claim:
    """The enterprise picks one grabbing bank; the others are told they were not picked."""
    _owned(need, user)
    lock_need(need)
    claim = next((c for c in need.claims if c.id == claim_id), None)
    if claim is None:
        raise InvalidInput("请选择抢单的银行", {"claim_id": ["该银行没有抢此需求"]})
    if need.status not in states.PICKING_NEED:
        raise Conflict(f"该需求当前为「{need.status_label}」，不能选择银行",
                       {"status": [need.status_label]})
    if claim.status not in states.PICKABLE_CLAIM:
        raise Conflict(f"该银行的抢单{claim.status_label}，不能选择", {"claim_id": [
            claim.status_label]})
    now = utcnow()
    passed_over = []
    for other in need.claims:
        if other is not claim and other.status == "claimed":
            states.move(other, "not_selected")
            passed_over.append(other.bank_id)
    before = need.status
    states.move(claim, "selected")
    claim.selected_at = now
    claim.contact_due_at = contact_deadline(now)
    claim.contact_reminded_at = None
    states.move(need, "selected")
    _audit("claim.selected", need, claim, user, before={"status": before},
           after={"status": "selected", "contact_due_at": claim.contact_due_at,
                  "not_selected_bank_ids": passed_over})
    _emit("claim.selected", claim, not_selected_bank_ids=passed_over)
    commit()
    return claim


@releases_locks
def cancel_selection(need: Need, reason, user) -> Claim:
    """The enterprise cancels its pick (with a reason) before credit is approved."""
    _owned(need, user)
    errors = FieldErrors()
    reason = validation.text(errors, "reason", reason, "取消原因", 200)
    errors.raise_if_any()
    lock_need(need)
    claim = picked_claim(need)
    if claim is None or claim.status not in ("selected", "contacted"):
        raise Conflict("当前没有可以取消的选定银行（授信后不能取消）",
                       {"status": [need.status_label]})
    now = utcnow()
    before = need.status
    states.move(claim, "cancelled")
    claim.cancelled_at = now
    claim.cancel_reason = reason
    _reopen(need, now)
    _audit("claim.selection_cancelled", need, claim, user, before={"status": before},
           after={"status": need.status, "reason": reason})
    _emit("claim.selection_cancelled", claim, reason=reason)
    commit()
    return claim


# --- the bank's progress -------------------------------------------------------------------------


def check_bank_access(claim: Claim, user) -> None:
    """Another bank's claim does not exist for the caller (404); within the bank, the claim's
    manager and the bank's admins act on it (others 403)."""
    if user is None or user.bank_id is None or user.bank_id != claim.bank_id:
        raise NotFound(CLAIM_NOT_FOUND)
    if user.role != "bank_admin" and claim.manager_id != user.id:
        raise Forbidden("该线索由本行其他客户经理负责")


@releases_locks
def record_event(claim: Claim, user, data: dict) -> ClaimEvent:
    """contacted / credit_approved / disbursed / declined, on the claim the enterprise picked."""
    check_bank_access(claim, user)
    errors = FieldErrors()
    kind = data.get("type")
    if kind not in states.EVENT_TYPES:
        errors.add("type", "进展类型应为 contacted、credit_approved、disbursed 或 declined")
    note = _note(errors, data.get("note"))
    errors.raise_if_any()
    need = lock_need(claim.need)
    db.session.refresh(claim)
    if need.status in states.CLOSED_NEED:
        raise Conflict(f"该需求{need.status_label}，不能再登记进展",
                       {"status": [need.status_label]})
    if claim.status in states.PICKABLE_CLAIM:
        raise Conflict("贵行尚未被企业选定，不能登记进展", {"status": [claim.status_label]})
    if claim.status not in states.PICKED_CLAIM:
        raise Conflict(f"贵行的抢单{claim.status_label}，不能再登记进展",
                       {"status": [claim.status_label]})
    target = kind
    if not states.can_move(states.CLAIM_TRANSITIONS, claim.status, target):
        order = {"credit_approved": "请先登记已对接", "disbursed": "请先登记授信"}
        raise Conflict(order.get(kind, f"贵行的抢单{claim.status_label}，不能登记该进展"),
                       {"type": [f"当前为「{claim.status_label}」"]})

    amount = rate = reason = None
    if kind == "credit_approved":
        amount = validation.decimal(errors, "amount_wan", data.get("amount_wan"), "授信金额",
                                    minimum=Decimal(0), exclusive_minimum=True,
                                    maximum=need.amount_wan)
        rate = validation.decimal(errors, "rate", data.get("rate"), "授信年利率",
                                  minimum=Decimal(0), exclusive_minimum=True, maximum=MAX_RATE)
    elif kind == "disbursed":
        amount = validation.decimal(errors, "amount_wan", data.get("amount_wan"), "放款金额",
                                    minimum=Decimal(0), exclusive_minimum=True,
                                    maximum=claim.approved_amount_wan)
        rate = validation.decimal(errors, "rate", data.get("rate"), "放款年利率",
                                  minimum=Decimal(0), exclusive_minimum=True, maximum=MAX_RATE,
                                  required=False) or claim.approved_rate
    elif kind == "declined":
        reason = validation.choice(errors, "reason_code", data.get("reason_code"), "拒绝原因",
                                   DECLINE_REASONS)
    errors.raise_if_any()

    now = utcnow()
    before = {"status": need.status, "claim_status": claim.status}
    states.move(claim, target)
    if kind == "contacted":
        claim.contacted_at = now
        states.move(need, "contacted")
    elif kind == "credit_approved":
        claim.credit_approved_at = now
        claim.approved_amount_wan, claim.approved_rate = amount, rate
        states.move(need, "credit_approved")
    elif kind == "disbursed":
        claim.disbursed_at = now
        claim.disbursed_amount_wan = amount
        _close(need, "disbursed", now)
    else:
        claim.declined_at = now
        claim.decline_reason = reason
        others = [c for c in need.claims if c.status in states.PICKABLE_CLAIM]
        if reason == "enterprise_gave_up" or not others:
            _close(need, "declined", now)
        else:
            _reopen(need, now)
    event = ClaimEvent(claim_id=claim.id, type=kind, amount_wan=amount, rate=rate,
                       reason_code=reason, note=note, user_id=user.id, created_at=now)
    db.session.add(event)
    _audit(f"claim.{kind}", need, claim, user, before=before,
           after={"status": need.status, "claim_status": claim.status, "amount_wan": amount,
                  "rate": rate, "reason_code": reason, "note": note})
    _emit(f"claim.{kind}", claim)
    commit()
    return event


# --- 派单 and reassignment ------------------------------------------------------------------------


def _pick_manager(bank_id: int, need: Need) -> User | None:
    """The bank's active manager covering the need's region with the fewest live claims."""
    managers = db.session.scalars(
        sa.select(User).where(User.bank_id == bank_id, User.role == "bank_manager",
                              User.active.is_(True)).order_by(User.id)).all()
    covering = [m for m in managers
                if not m.region_codes or any(region_covers(code, need.region_code)
                                             for code in m.region_codes)]
    if not covering:
        return None
    load = dict(db.session.execute(
        sa.select(Claim.manager_id, sa.func.count(Claim.id))
        .where(Claim.manager_id.in_([m.id for m in covering]),
               Claim.status.in_(states.LIVE_CLAIM))
        .group_by(Claim.manager_id)).all())
    return min(covering, key=lambda m: (load.get(m.id, 0), m.id))


def _bank_manager(errors: FieldErrors, bank_id: int, manager_id) -> User | None:
    manager = db.session.get(User, manager_id) if isinstance(manager_id, int) else None
    if manager is None or manager.bank_id != bank_id or manager.role != "bank_manager" \
            or not manager.active:
        errors.add("manager_id", "请选择该银行在职的客户经理")
        return None
    return manager


@releases_locks
def assign(need: Need, bank_id, user, manager_id=None, note=None) -> Claim:
    """The finance office assigns a need to a bank (派单); the enterprise then picks it."""
    if user is None or user.role not in OFFICE_ROLES:
        raise Forbidden("只有金融办可以派单")
    errors = FieldErrors()
    note = _note(errors, note)
    bank = db.session.get(Bank, bank_id) if isinstance(bank_id, int) else None
    if bank is None or not bank.active:
        errors.add("bank_id", "请选择在用的银行")
    manager = None
    if bank is not None and manager_id is not None:
        manager = _bank_manager(errors, bank.id, manager_id)
    errors.raise_if_any()
    lock_need(need)
    if need.status not in states.ASSIGNABLE_NEED:
        raise Conflict(f"该需求当前为「{need.status_label}」，不能派单",
                       {"status": [need.status_label]})
    if bank_claim(need, bank.id) is not None:
        raise Conflict("该银行已抢过此需求，请派给其他银行", {"bank_id": ["该银行已抢过此需求"]})
    if manager is None:
        manager = _pick_manager(bank.id, need)
    eligible = eligible_products(need, bank.id)
    now = utcnow()
    claim = Claim(need_id=need.id, bank_id=bank.id, manager_id=manager.id if manager else None,
                  product_id=eligible[0] if eligible else None,
                  # Above the grab slots 1…CAP: 派单 never takes a bank's place in the cap.
                  slot=max([current_app.config["CLAIM_CAP"], *(c.slot for c in need.claims)]) + 1,
                  status="claimed",
                  assigned_by_office=True, assigned_by_id=user.id, claimed_at=now, note=note)
    db.session.add(claim)
    db.session.flush()
    before = need.status
    states.move(need, "assigned")
    if need.first_claimed_at is None:
        need.first_claimed_at = now
    _audit("claim.assigned", need, claim, user, before={"status": before},
           after={"status": "assigned", "manager_id": claim.manager_id, "note": note,
                  "eligible_product": bool(eligible)})
    _emit("claim.assigned", claim)
    commit()
    return claim


@releases_locks
def reassign(claim: Claim, manager_id, user) -> Claim:
    """A bank admin hands a lead to another of the bank's managers."""
    if user is None or user.role != "bank_admin" or user.bank_id != claim.bank_id:
        if user is not None and user.bank_id == claim.bank_id:
            raise Forbidden("只有本行管理员可以转交线索")
        raise NotFound(CLAIM_NOT_FOUND)
    errors = FieldErrors()
    manager = _bank_manager(errors, claim.bank_id, manager_id)
    errors.raise_if_any()
    if claim.status not in states.LIVE_CLAIM:
        raise Conflict(f"该线索{claim.status_label}，不能转交", {"status": [claim.status_label]})
    if claim.manager_id == manager.id:
        return claim
    before = claim.manager_id
    claim.manager_id = manager.id
    _audit("claim.reassigned", claim.need, claim, user, before={"manager_id": before},
           after={"manager_id": manager.id})
    _emit("claim.reassigned", claim, manager_id=manager.id, previous_manager_id=before)
    commit()
    return claim


# --- ratings -------------------------------------------------------------------------------------


@releases_locks
def rate(claim: Claim, user, stars, comment=None) -> Rating:
    """After the need closes, the enterprise rates the bank that served it (1–5 and a comment)."""
    need = claim.need
    _owned(need, user)
    errors = FieldErrors()
    stars = validation.integer(errors, "stars", stars, "评分", minimum=1, maximum=5)
    comment = validation.text(errors, "comment", comment, "评价", 500, required=False) or None
    errors.raise_if_any()
    if need.status not in ("disbursed", "declined") or claim.status not in ("disbursed",
                                                                            "declined"):
        raise Conflict("需求结束后才能评价为您办理的银行", {"status": [need.status_label]})
    if claim.rating is not None:
        raise Conflict("您已评价过该银行")
    rating = Rating(claim_id=claim.id, need_id=need.id, bank_id=claim.bank_id,
                    enterprise_id=need.enterprise_id, stars=stars, comment=comment)
    db.session.add(rating)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("您已评价过该银行") from None
    _audit("claim.rated", need, claim, user, after={"stars": stars, "comment": comment})
    # The bank's service score is part of its products' ranking.
    emit("bank.rated", "bank", claim.bank_id, {"need_id": need.id})
    commit()
    return rating


# --- look-ups for the API and the pages ----------------------------------------------------------


def get_claim_for(claim_id: int, user) -> Claim:
    """A claim the caller may see: its bank's users, the need's enterprise, the office."""
    claim = db.session.get(Claim, claim_id)
    if claim is None or user is None:
        raise NotFound(CLAIM_NOT_FOUND)
    if user.role in OFFICE_ROLES or owns(user, claim.need):
        return claim
    if user.bank_id is not None and user.bank_id == claim.bank_id:
        return claim
    raise NotFound(CLAIM_NOT_FOUND)


# --- the sweep -----------------------------------------------------------------------------------


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Lapse picks past their contact deadline, escalate needs nobody grabbed, expire needs past
    their own deadline, and queue reminders one working day before each deadline.

    Idempotent: each step re-checks the row under its lock, so a second run (or two sweeps at
    once) changes nothing more. One transaction per need, so one bad row cannot stop the rest.
    """
    now = now or utcnow()
    done = {"lapsed": 0, "escalated": 0, "expired": 0, "contact_reminders": 0,
            "escalation_reminders": 0}
    steps = [("lapsed", _lapse_candidates, _lapse), ("escalated", _escalation_candidates,
                                                      _escalate),
             ("expired", _expiry_candidates, _expire),
             ("contact_reminders", _contact_reminder_candidates, _remind_contact),
             ("escalation_reminders", _escalation_reminder_candidates, _remind_escalation)]
    for name, candidates, act in steps:
        for obj_id in candidates(now):
            try:
                if act(obj_id, now):
                    done[name] += 1
            except Exception:
                db.session.rollback()
                log.exception("sweep step %s failed for %s", name, obj_id)
    return done


def _lapse_candidates(now: datetime) -> list[int]:
    return list(db.session.scalars(sa.select(Claim.id).where(
        Claim.status == "selected", Claim.contact_due_at <= now).order_by(Claim.id)))


def _lapse(claim_id: int, now: datetime) -> bool:
    claim = db.session.get(Claim, claim_id)
    need = lock_need(claim.need)
    db.session.refresh(claim)
    if claim.status != "selected" or claim.contact_due_at > now:
        db.session.rollback()
        return False
    before = need.status
    states.move(claim, "lapsed")
    claim.lapsed_at = now
    _reopen(need, now)
    _audit("claim.lapsed", need, claim, None, before={"status": before},
           after={"status": need.status, "contact_due_at": claim.contact_due_at})
    _emit("claim.lapsed", claim)
    commit()
    return True


def _published_before(days: int, now: datetime):
    # A working day is at least a calendar day: a cheap bound before the exact calendar check.
    return Need.published_at <= now - timedelta(days=max(days, 0))


def _escalation_candidates(now: datetime) -> list[int]:
    days = current_app.config["ESCALATION_WORKING_DAYS"]
    return list(db.session.scalars(sa.select(Need.id).where(
        Need.status == "open", _published_before(days, now)).order_by(Need.id)))


def _escalate(need_id: int, now: datetime) -> bool:
    need = lock_need(db.session.get(Need, need_id))
    due = escalation_deadline(need)
    if need.status != "open" or need.claims or due is None or due > now:
        db.session.rollback()
        return False
    states.move(need, "escalated")
    need.escalated_at = now
    record("need.escalated", "need", need.id, before={"status": "open"},
           after={"status": "escalated", "published_at": need.published_at})
    emit("need.escalated", "need", need.id)
    commit()
    return True


EXPIRING = ("open", "claimed", "escalated", "assigned")


def _expiry_candidates(now: datetime) -> list[int]:
    today = calendar().local_date(now)
    return list(db.session.scalars(sa.select(Need.id).where(
        Need.status.in_(EXPIRING), Need.deadline.is_not(None), Need.deadline < today)
        .order_by(Need.id)))


def _expire(need_id: int, now: datetime) -> bool:
    need = lock_need(db.session.get(Need, need_id))
    if need.status not in EXPIRING or need.deadline is None or \
            need.deadline >= calendar().local_date(now):
        db.session.rollback()
        return False
    before = need.status
    cancelled = states.cancel_live_claims(need, "需求已过截止日期", now)
    _close(need, "expired", now)
    record("need.expired", "need", need.id, before={"status": before},
           after={"status": "expired", "deadline": need.deadline,
                  "cancelled_claim_ids": [c.id for c in cancelled]})
    emit("need.expired", "need", need.id)
    commit()
    return True


def _contact_reminder_candidates(now: datetime) -> list[int]:
    # Deadlines fall on working days, so once "one working day before" has come the deadline
    # is at most one working day ahead (holidays included), plus a day when today is a day off.
    horizon = calendar().add_working_days(now, 1) + timedelta(days=1)
    return list(db.session.scalars(sa.select(Claim.id).where(
        Claim.status == "selected", Claim.contact_reminded_at.is_(None),
        Claim.contact_due_at > now, Claim.contact_due_at <= horizon).order_by(Claim.id)))


def _remind_contact(claim_id: int, now: datetime) -> bool:
    claim = db.session.get(Claim, claim_id)
    need = lock_need(claim.need)
    db.session.refresh(claim)
    if claim.status != "selected" or claim.contact_reminded_at is not None or \
            calendar().add_working_days(claim.contact_due_at, -1) > now:
        db.session.rollback()
        return False
    claim.contact_reminded_at = now
    _emit("claim.contact_due_soon", claim, contact_due_at=claim.contact_due_at)
    record("claim.contact_reminder", "need", need.id,
           after={"claim_id": claim.id, "contact_due_at": claim.contact_due_at})
    commit()
    return True


def _escalation_reminder_candidates(now: datetime) -> list[int]:
    days = current_app.config["ESCALATION_WORKING_DAYS"]
    return list(db.session.scalars(sa.select(Need.id).where(
        Need.status == "open", Need.escalation_reminded_at.is_(None),
        _published_before(days - 1, now)).order_by(Need.id)))


def _remind_escalation(need_id: int, now: datetime) -> bool:
    need = lock_need(db.session.get(Need, need_id))
    due = escalation_deadline(need)
    if need.status != "open" or need.escalation_reminded_at is not None or due is None or \
            calendar().add_working_days(due, -1) > now or due <= now:
        db.session.rollback()
        return False
    need.escalation_reminded_at = now
    emit("need.escalation_due_soon", "need", need.id, {"escalation_due_at": due})
    record("need.escalation_reminder", "need", need.id, after={"escalation_due_at": due})
    commit()
    return True
