"""Who hears of what: outbox events become in-app notifications, emails and webhook calls.

The fan-out runs as an outbox consumer, inside the transaction that marks the outbox row done, so
a crash anywhere before that commit leaves nothing behind and the row is simply handled again.
Every row written carries a unique `dedupe_key` and is inserted with "on conflict do nothing":
handling an event twice, or two events about the same lead, notifies each person once. Emails and
webhook calls become `Delivery` rows in the same transaction; their jobs are queued after the
commit (`workers.jobs.deliver`), and the periodic drain re-queues any whose job was lost.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from matchmaker import enums
from matchmaker.accounts.models import User
from matchmaker.audit.services import outbox_handler
from matchmaker.banks.models import Bank
from matchmaker.claims.models import Claim
from matchmaker.database import utcnow
from matchmaker.extensions import db
from matchmaker.needs.models import Need
from matchmaker.notifications import kinds
from matchmaker.notifications.models import (
    BankWebhook,
    Delivery,
    Notification,
    NotificationPreference,
)
from matchmaker.reference.codes import region_covers
from workers import queues
from workers.dispatch import after_commit

DELIVERY_JOB = "workers.jobs.deliver"


# --- writing rows idempotently --------------------------------------------------------------------

def insert_ignoring_duplicates(table: sa.Table, rows: list[dict]) -> list[int]:
    """Insert rows whose `dedupe_key` is new; returns the ids of the rows actually inserted."""
    if not rows:
        return []
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = (insert(table).values(rows)
                 .on_conflict_do_nothing(index_elements=["dedupe_key"])
                 .returning(table.c.id))
    return list(db.session.scalars(statement))


@dataclass(frozen=True)
class Message:
    kind: str
    title: str
    body: str = ""
    need_id: int | None = None


def _preferences(user_ids: Iterable[int], kind: str) -> dict[tuple[int, str], bool]:
    ids = list(user_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(NotificationPreference.user_id, NotificationPreference.channel,
                  NotificationPreference.enabled)
        .where(NotificationPreference.user_id.in_(ids), NotificationPreference.kind == kind))
    return {(user_id, channel): enabled for user_id, channel, enabled in rows}


def wants(preferences: dict[tuple[int, str], bool], user_id: int, kind: str,
          channel: str) -> bool:
    return preferences.get((user_id, channel), kinds.default_enabled(kind, channel))


def need_url(need_id: int | None) -> str:
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    return f"{base}/needs/{need_id}" if need_id else base + "/notifications"


def notify_users(users: Iterable[User], message: Message, key: str) -> int:
    """In-app notifications and emails for each user who wants them; `key` names the event (with
    the user id appended per row). Returns how many in-app notifications were new."""
    users = [u for u in users if u.active]
    if not users:
        return 0
    prefs = _preferences((u.id for u in users), message.kind)
    now = utcnow()
    in_app = [
        {"user_id": u.id, "kind": message.kind, "need_id": message.need_id,
         "title": message.title[:200], "body": message.body, "read_at": None,
         "dedupe_key": f"{key}:u{u.id}"[:128], "created_at": now}
        for u in users if wants(prefs, u.id, message.kind, kinds.IN_APP)]
    created = insert_ignoring_duplicates(Notification.__table__, in_app)
    if current_app.config["MAIL_ENABLED"]:
        text = current_app.jinja_env.get_template("email/notification.txt").render(
            title=message.title, body=message.body, url=need_url(message.need_id))
        emails = [
            {"channel": kinds.EMAIL, "kind": message.kind, "user_id": u.id, "bank_id": None,
             "need_id": message.need_id, "target": u.email,
             "subject": f"【绿色金融对接平台】{message.title}"[:200], "body": text,
             "status": "pending", "attempts": 0, "dedupe_key": f"email:{key}:u{u.id}"[:160],
             "created_at": now}
            for u in users if u.email and wants(prefs, u.id, message.kind, kinds.EMAIL)]
        queue_deliveries(insert_ignoring_duplicates(Delivery.__table__, emails))
    return len(created)


def active_webhooks(bank_ids: Iterable[int]) -> dict[int, BankWebhook]:
    ids = list(set(bank_ids))
    if not ids:
        return {}
    return {hook.bank_id: hook for hook in db.session.scalars(
        sa.select(BankWebhook).where(BankWebhook.bank_id.in_(ids), BankWebhook.active.is_(True)))}


def notify_bank_webhook(bank_id: int, message: Message, key: str, data: dict | None = None,
                        hook: BankWebhook | None = None) -> None:
    """A delivery to the bank's webhook if it subscribes to the kind (`hook`: preloaded)."""
    hook = hook or active_webhooks([bank_id]).get(bank_id)
    if hook is None or message.kind not in (hook.kinds or []):
        return
    dedupe_key = f"webhook:{key}:b{bank_id}"[:160]
    # The delivery id and time are added to the body when it is sent (`delivery.webhook_body`).
    body = {"event": message.kind, "title": message.title, "body": message.body,
            "need_id": message.need_id, "bank_id": bank_id, "url": need_url(message.need_id),
            "data": data or {}}
    ids = insert_ignoring_duplicates(Delivery.__table__, [{
        "channel": kinds.WEBHOOK, "kind": message.kind, "user_id": None, "bank_id": bank_id,
        "need_id": message.need_id, "target": hook.url, "subject": message.title[:200],
        "body": json.dumps(body, ensure_ascii=False, sort_keys=True), "status": "pending",
        "attempts": 0, "dedupe_key": dedupe_key, "created_at": utcnow()}])
    queue_deliveries(ids)


def queue_deliveries(delivery_ids: Iterable[int]) -> None:
    for delivery_id in delivery_ids:
        after_commit(DELIVERY_JOB, delivery_id, queue=queues.NOTIFICATIONS,
                     timeout=current_app.config["DELIVERY_TIMEOUT_SECONDS"] + 30,
                     retry=tuple(current_app.config["DELIVERY_RETRY_INTERVALS"]))


# --- recipients -----------------------------------------------------------------------------------

def enterprise_users(enterprise_id: int) -> list[User]:
    return list(db.session.scalars(sa.select(User).where(
        User.enterprise_id == enterprise_id, User.active.is_(True)).order_by(User.id)))


def office_users() -> list[User]:
    return list(db.session.scalars(sa.select(User).where(
        User.role == "office", User.active.is_(True)).order_by(User.id)))


def covering_managers(bank_ids: Iterable[int], region_code: str) -> dict[int, list[User]]:
    """Active managers of each bank whose coverage includes the region (no regions = the whole
    bank), by bank."""
    ids = list(set(bank_ids))
    if not ids:
        return {}
    managers = db.session.scalars(
        sa.select(User).options(selectinload(User.regions))
        .join(Bank, Bank.id == User.bank_id)
        .where(User.bank_id.in_(ids), User.role == "bank_manager", User.active.is_(True),
               Bank.active.is_(True))
        .order_by(User.id))
    found: dict[int, list[User]] = {}
    for manager in managers:
        codes = manager.region_codes
        if not codes or any(region_covers(code, region_code) for code in codes):
            found.setdefault(manager.bank_id, []).append(manager)
    return found


def eligible_bank_ids(need: Need) -> set[int]:
    """Banks with at least one active product eligible for the need (the search engine applies
    exactly the eligibility rules of DESIGN section 5)."""
    from search import loaders
    from search.service import get_engine

    matches = get_engine().rank_products(loaders.need_doc(need), limit=1_000_000)
    return {match.bank_id for match in matches}


# --- texts ----------------------------------------------------------------------------------------

def _local(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"]))
    return f"{local:%Y-%m-%d %H:%M}"


def _wan(value: Decimal | None) -> str:
    return "—" if value is None else f"{Decimal(value):,.2f} 万元"


def _lead_message(need: Need) -> Message:
    from matchmaker.reference.codes import region as region_info

    region = region_info(need.region_code)
    return Message(
        "new_lead", f"新的匹配需求：{need.title}",
        f"{region.name if region else need.region_code} · {_wan(need.amount_wan)} · "
        f"{need.term_months} 个月 · 绿色分类 {need.green_category_code}。可在线索收件箱抢单。",
        need.id)


# --- the rules ------------------------------------------------------------------------------------

def notify_new_lead(need: Need, bank_ids: Iterable[int]) -> int:
    """A lead is announced once per manager and need, and once per bank webhook and need."""
    message = _lead_message(need)
    managers = [m for group in covering_managers(bank_ids, need.region_code).values()
                for m in group]
    created = notify_users(managers, message, f"lead:n{need.id}")
    data = {"amount_wan": str(need.amount_wan), "term_months": need.term_months,
            "green_category": need.green_category_code, "region_code": need.region_code}
    for bank_id, hook in active_webhooks(bank_ids).items():
        notify_bank_webhook(bank_id, message, f"lead:n{need.id}", data, hook=hook)
    return created


def _grabbable(need: Need) -> bool:
    from matchmaker.claims.states import GRABBABLE_NEED

    return need.status in GRABBABLE_NEED and len(
        [c for c in need.claims if c.slot <= current_app.config["CLAIM_CAP"]]
    ) < current_app.config["CLAIM_CAP"]


@outbox_handler("need.published")
def on_need_published(row) -> None:
    need = db.session.get(Need, int(row.object_id))
    if need is None or not _grabbable(need):
        return
    notify_new_lead(need, eligible_bank_ids(need))


@outbox_handler("product.created", "product.updated")
def on_product_changed(row) -> None:
    """Back-match: open needs that this product now makes eligible for the bank, announced to
    the bank's managers who have not heard of them yet (best first, at most BACKMATCH_LIMIT)."""
    from matchmaker.products.models import Product
    from search import loaders
    from search.features import is_eligible
    from search.service import get_engine

    product = db.session.get(Product, int(row.object_id))
    if product is None or not product.active:
        return
    docs = loaders.product_docs([product.id], service=False)
    if not docs:
        return
    engine = get_engine()
    matches, _ = engine.rank_needs(product.bank_id, max_claims=current_app.config["CLAIM_CAP"],
                                   limit=1_000_000)
    candidates = []
    for match in matches:
        doc = engine.need_doc(match.need_id)
        if doc is not None and is_eligible(doc, docs[0]):
            candidates.append(match.need_id)
    # Needs this bank has heard of already (all its covering managers hear of a lead together).
    announced = set(db.session.scalars(
        sa.select(Notification.need_id).distinct()
        .join(User, User.id == Notification.user_id)
        .where(Notification.kind == "new_lead", User.bank_id == product.bank_id,
               Notification.need_id.in_(candidates)))) if candidates else set()
    limit = current_app.config["BACKMATCH_LIMIT"]
    count = 0
    for need_id in candidates:
        if count >= limit:
            break
        if need_id in announced:
            continue
        need = db.session.get(Need, need_id)
        if need is None or not _grabbable(need) or any(
                c.bank_id == product.bank_id for c in need.claims):
            continue
        if notify_new_lead(need, [product.bank_id]):
            count += 1


def _claim(row) -> tuple[Claim | None, Need | None]:
    claim = db.session.get(Claim, int(row.object_id))
    return claim, (claim.need if claim is not None else None)


def _manager(claim: Claim) -> list[User]:
    return [claim.manager] if claim.manager is not None else []


def _tell_bank(claim: Claim, message: Message, row, **data) -> None:
    """The claim's manager (in-app, email) and its bank's webhook hear of an event."""
    notify_users(_manager(claim), message, f"o{row.id}")
    notify_bank_webhook(claim.bank_id, message, f"o{row.id}", {"claim_id": claim.id, **data})


@outbox_handler("claim.created", "claim.assigned")
def on_claim_created(row) -> None:
    claim, need = _claim(row)
    if claim is None:
        return
    bank = claim.bank.name
    contact = ""
    if claim.manager is not None:
        contact = f"客户经理 {claim.manager.name}" + (
            f"，电话 {claim.manager.phone}" if claim.manager.phone else "") + "。"
    if row.topic == "claim.assigned":
        title = f"金融办已将您的需求「{need.title}」派给{bank}"
        manager_message = Message("assigned", f"金融办派单：{need.title}",
                                  f"请在期限内联系企业。金额 {_wan(need.amount_wan)}。", need.id)
        _tell_bank(claim, manager_message, row)
    else:
        title = f"{bank}抢单了您的需求「{need.title}」"
    notify_users(enterprise_users(need.enterprise_id),
                 Message("claim_received", title, contact + "您可在需求页面选择一家银行对接。",
                         need.id), f"o{row.id}")


@outbox_handler("claim.selected")
def on_claim_selected(row) -> None:
    claim, need = _claim(row)
    if claim is None:
        return
    picked = Message("selected", f"企业选定贵行对接：{need.title}",
                     f"请在 {_local(claim.contact_due_at)} 前联系企业并在平台记录。", need.id)
    _tell_bank(claim, picked, row, contact_due_at=_local(claim.contact_due_at))
    passed_over = set(row.payload.get("not_selected_bank_ids") or [])
    for other in need.claims:
        if other.bank_id in passed_over and other.id != claim.id:
            message = Message("not_selected", f"企业未选择贵行：{need.title}",
                              f"企业选择了{claim.bank.name}。", need.id)
            _tell_bank(other, message, row)


@outbox_handler("claim.selection_cancelled")
def on_selection_cancelled(row) -> None:
    claim, need = _claim(row)
    if claim is None:
        return
    reason = row.payload.get("reason") or ""
    message = Message("selection_cancelled", f"企业取消了对贵行的选定：{need.title}",
                      f"原因：{reason}" if reason else "", need.id)
    _tell_bank(claim, message, row)


@outbox_handler("claim.contacted", "claim.credit_approved", "claim.disbursed", "claim.declined")
def on_claim_progress(row) -> None:
    claim, need = _claim(row)
    if claim is None:
        return
    bank = claim.bank.name
    kind = row.topic.split(".", 1)[1]
    if kind == "contacted":
        title, body = f"{bank}已联系您：{need.title}", ""
    elif kind == "credit_approved":
        rate = f"，年利率 {claim.approved_rate}%" if claim.approved_rate is not None else ""
        title = f"{bank}已授信：{need.title}"
        body = f"授信金额 {_wan(claim.approved_amount_wan)}{rate}。"
    elif kind == "disbursed":
        title = f"{bank}已放款：{need.title}"
        body = f"放款金额 {_wan(claim.disbursed_amount_wan)}。结束后欢迎为银行服务评分。"
    else:
        reason = enums.DECLINE_REASONS.get(claim.decline_reason or "", claim.decline_reason or "")
        title, body = f"{bank}未能提供贷款：{need.title}", f"原因：{reason}。"
    notify_users(enterprise_users(need.enterprise_id),
                 Message("claim_progress", title, body, need.id), f"o{row.id}")


@outbox_handler("claim.lapsed")
def on_claim_lapsed(row) -> None:
    claim, need = _claim(row)
    if claim is None:
        return
    message = Message("lapsed", f"选定已失效：{need.title}",
                      "贵行未在期限内记录联系企业，本次选定已失效。", need.id)
    _tell_bank(claim, message, row)
    notify_users(enterprise_users(need.enterprise_id),
                 Message("lapsed", f"{claim.bank.name}未在期限内联系您：{need.title}",
                         "您可以重新选择其他抢单银行；无银行可选时，需求将上报金融办。", need.id),
                 f"o{row.id}")


@outbox_handler("claim.contact_due_soon")
def on_contact_due_soon(row) -> None:
    claim, need = _claim(row)
    if claim is None:
        return
    message = Message("deadline_reminder", f"请尽快联系企业：{need.title}",
                      f"联系期限 {_local(claim.contact_due_at)}，逾期选定将失效。", need.id)
    _tell_bank(claim, message, row)


@outbox_handler("claim.reassigned")
def on_claim_reassigned(row) -> None:
    claim, need = _claim(row)
    if claim is None:
        return
    notify_users(_manager(claim), Message("assigned", f"线索已转交给您：{need.title}",
                                          "请在期限内跟进。", need.id), f"o{row.id}")


@outbox_handler("need.escalated")
def on_need_escalated(row) -> None:
    need = db.session.get(Need, int(row.object_id))
    if need is None:
        return
    notify_users(office_users(), Message(
        "escalated", f"需求待派单：{need.title}",
        f"{need.enterprise.name} · {_wan(need.amount_wan)}；无银行抢单或选定已失效，请派单。",
        need.id), f"o{row.id}")
    notify_users(enterprise_users(need.enterprise_id), Message(
        "escalated", f"您的需求已上报金融办：{need.title}", "金融办将为您指派银行。", need.id),
        f"o{row.id}")


@outbox_handler("need.escalation_due_soon")
def on_escalation_due_soon(row) -> None:
    need = db.session.get(Need, int(row.object_id))
    if need is None:
        return
    due = row.payload.get("escalation_due_at")
    due_text = _local(datetime.fromisoformat(due)) if isinstance(due, str) else ""
    notify_users(enterprise_users(need.enterprise_id), Message(
        "deadline_reminder", f"需求暂无银行抢单：{need.title}",
        f"若在 {due_text} 前仍无银行抢单，需求将上报金融办派单。", need.id), f"o{row.id}")


@outbox_handler("need.expired")
def on_need_expired(row) -> None:
    need = db.session.get(Need, int(row.object_id))
    if need is None:
        return
    notify_users(enterprise_users(need.enterprise_id), Message(
        "need_expired", f"需求已过期：{need.title}", "如仍需融资，可重新发布需求。", need.id),
        f"o{row.id}")


# --- the daily digest -----------------------------------------------------------------------------

def queue_digests(now: datetime | None = None) -> int:
    """One email per manager who wants it: the new leads of the last 24 hours still unread.
    Keyed by the local date, so running it twice on one day sends nothing more."""
    if not current_app.config["MAIL_ENABLED"]:
        return 0
    now = now or utcnow()
    day = now.astimezone(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])).date()
    since = now - timedelta(hours=24)
    rows = db.session.execute(
        sa.select(Notification.user_id, Notification.title, Notification.need_id)
        .join(User, User.id == Notification.user_id)
        .where(Notification.kind == "new_lead", Notification.read_at.is_(None),
               Notification.created_at >= since, User.role == "bank_manager",
               User.active.is_(True))
        .order_by(Notification.user_id, Notification.id.desc())).all()
    leads: dict[int, list[tuple[str, int | None]]] = {}
    for user_id, title, need_id in rows:
        leads.setdefault(user_id, []).append((title, need_id))
    if not leads:
        return 0
    users = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(list(leads))))}
    prefs = {(p.user_id, p.channel): p.enabled for p in db.session.scalars(
        sa.select(NotificationPreference).where(NotificationPreference.kind == "digest",
                                                NotificationPreference.user_id.in_(list(leads))))}
    template = current_app.jinja_env.get_template("email/digest.txt")
    emails = []
    for user_id, items in leads.items():
        user = users[user_id]
        if not user.email or not wants(prefs, user_id, "digest", kinds.EMAIL):
            continue
        emails.append({
            "channel": kinds.EMAIL, "kind": "digest", "user_id": user_id, "bank_id": None,
            "need_id": None, "target": user.email,
            "subject": f"【绿色金融对接平台】每日线索摘要：{len(items)} 条新的匹配需求",
            "body": template.render(user=user, day=day, items=items[:50], total=len(items),
                                    url=need_url),
            "status": "pending", "attempts": 0, "dedupe_key": f"digest:{day}:u{user_id}",
            "created_at": now})
    ids = insert_ignoring_duplicates(Delivery.__table__, emails)
    queue_deliveries(ids)
    return len(ids)


# --- reading --------------------------------------------------------------------------------------

@functools.cache
def _unread_count():
    """The navbar's bell asks on every page: the statement is built once."""
    return sa.select(sa.func.count(Notification.id)).where(
        Notification.user_id == sa.bindparam("user_id"), Notification.read_at.is_(None))


def unread_count(user: User) -> int:
    return db.session.scalar(_unread_count(), {"user_id": user.id}) or 0


def mark_read(user: User, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the user's own notifications read (all of them when no ids are given)."""
    from workers.dispatch import commit

    statement = (sa.update(Notification)
                 .where(Notification.user_id == user.id, Notification.read_at.is_(None))
                 .values(read_at=utcnow()))
    if notification_ids is not None:
        statement = statement.where(Notification.id.in_(list(notification_ids)))
    count = db.session.execute(statement).rowcount
    commit()
    return count
