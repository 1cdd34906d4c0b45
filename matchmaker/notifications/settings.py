"""What a user and a bank choose: each user's channels per kind of notification (通知设置), and a
bank's webhook (its admin sets the address, the kinds it subscribes to and the signing secret)
with the log of its deliveries (投递记录, 重新发送).

These services own the rules and the transaction, like the others: they check every field (with
Chinese messages by field), write an audit row and commit with `workers.dispatch.commit()`. The
webhook secret is never written to the audit log; it is shown to the bank's admin once, when it
is generated.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from matchmaker.accounts.models import User
from matchmaker.audit.services import record
from matchmaker.banks.models import Bank
from matchmaker.database import utcnow
from matchmaker.errors import Conflict, FieldErrors, Forbidden, NotFound
from matchmaker.extensions import db
from matchmaker.notifications import delivery as delivery_module
from matchmaker.notifications import egress, kinds
from matchmaker.notifications.models import (
    BankWebhook,
    Delivery,
    Notification,
    NotificationPreference,
)
from matchmaker.validation import choices, text
from workers.dispatch import commit

URL_MAX_LENGTH = 500
DELIVERY_STATUSES = {"pending": "待发送", "sent": "已送达", "failed": "失败"}
WEBHOOK_KIND_LABELS = {code: kinds.label(code) for code in kinds.WEBHOOK_KINDS}


# --- the inbox (通知中心) ------------------------------------------------------------------------


def inbox_query(user: User, unread_only: bool = False):
    """The user's own notifications, newest first."""
    stmt = sa.select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return stmt.order_by(Notification.created_at.desc(), Notification.id.desc())


def notification_for(user: User, notification_id: int) -> Notification:
    """One of the user's notifications; another user's is 404, as if it did not exist."""
    found = db.session.get(Notification, notification_id)
    if found is None or found.user_id != user.id:
        raise NotFound("通知不存在")
    return found


# --- preferences ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreferenceRow:
    """One kind of notification for a user: whether each channel is on."""

    kind: str
    label: str
    enabled: dict[str, bool]


def _stored_preferences(user: User) -> dict[tuple[str, str], bool]:
    rows = db.session.execute(
        sa.select(NotificationPreference.kind, NotificationPreference.channel,
                  NotificationPreference.enabled)
        .where(NotificationPreference.user_id == user.id))
    return {(kind, channel): enabled for kind, channel, enabled in rows}


def preferences_for(user: User) -> list[PreferenceRow]:
    """The kinds the user's role receives × the channels, each with its current value (the
    user's stored choice, else the kind's default)."""
    stored = _stored_preferences(user)
    return [
        PreferenceRow(kind, kinds.label(kind), {
            channel: stored.get((kind, channel), kinds.default_enabled(kind, channel))
            for channel in kinds.CHANNELS})
        for kind in kinds.kinds_for_role(user.role)]


def flat_preferences(user: User) -> list[dict]:
    """`preferences_for` as a list of {kind, channel, enabled} (the API's form)."""
    return [{"kind": row.kind, "kind_label": row.label, "channel": channel,
             "channel_label": kinds.CHANNELS[channel], "enabled": enabled}
            for row in preferences_for(user) for channel, enabled in row.enabled.items()]


def check_preferences(user: User, choices_, field: str = "preferences") -> dict[tuple[str, str],
                                                                               bool]:
    """`choices_`: an iterable of {"kind", "channel", "enabled"}. Returns {(kind, channel):
    enabled}, or raises InvalidInput under `field` with a message naming each bad value."""
    errors = FieldErrors()
    allowed = set(kinds.kinds_for_role(user.role))
    cleaned: dict[tuple[str, str], bool] = {}
    if isinstance(choices_, dict | str) or not hasattr(choices_, "__iter__"):
        errors.add(field, "应为列表")
        errors.raise_if_any()
    for item in choices_:
        if not isinstance(item, dict):
            errors.add(field, "每一项应为 {kind, channel, enabled} 对象")
            continue
        kind, channel, enabled = item.get("kind"), item.get("channel"), item.get("enabled")
        if not isinstance(kind, str) or kind not in kinds.KINDS:
            errors.add(field, f"未知的通知类型：{str(kind)[:32]}")
        elif kind not in allowed:
            errors.add(field, f"通知类型 {kind}（{kinds.label(kind)}）不适用于{user.role_label}")
        if not isinstance(channel, str) or channel not in kinds.CHANNELS:
            errors.add(field, f"未知的通知渠道：{str(channel)[:32]}"
                              f"（可选：{'、'.join(kinds.CHANNELS)}）")
        if not isinstance(enabled, bool):
            errors.add(field, f"{str(kind)[:32]} / {str(channel)[:16]}：enabled 应为 true 或 false")
        if not errors:
            cleaned[(kind, channel)] = enabled
    errors.raise_if_any()
    return cleaned


def save_preferences(user: User, choices_) -> list[PreferenceRow]:
    """Store the user's choices (only the kinds and channels given; the others keep theirs).

    `choices_` is an iterable of {"kind", "channel", "enabled"}; a kind the user's role does not
    receive, an unknown kind or channel is refused with a message naming the item."""
    cleaned = check_preferences(user, choices_)
    before = _stored_preferences(user)
    changed = {key: value for key, value in cleaned.items() if before.get(key) != value}
    if changed:
        rows = [{"user_id": user.id, "kind": kind, "channel": channel, "enabled": enabled}
                for (kind, channel), enabled in changed.items()]
        table = NotificationPreference.__table__
        if db.session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(table).values(rows)
        db.session.execute(statement.on_conflict_do_update(
            index_elements=["user_id", "kind", "channel"],
            set_={"enabled": statement.excluded.enabled}))
        record("notification_preferences.updated", "user", user.id,
               before={f"{k}.{c}": before.get((k, c), kinds.default_enabled(k, c))
                       for k, c in changed},
               after={f"{k}.{c}": v for (k, c), v in changed.items()}, actor=user)
        commit()
    return preferences_for(user)


# --- the bank's webhook ---------------------------------------------------------------------------


def webhook_of(bank_id: int) -> BankWebhook | None:
    return db.session.scalar(sa.select(BankWebhook).where(BankWebhook.bank_id == bank_id))


def _administers(actor: User | None, bank_id: int) -> bool:
    return actor is not None and actor.role == "bank_admin" and actor.bank_id == bank_id


def check_webhook_url(errors: FieldErrors, field: str, value) -> str:
    """An absolute http(s) address of at most 500 characters, with a host and no user name or
    password in it (the signature authenticates the platform; credentials in a URL leak into
    logs)."""
    url = text(errors, field, value, "Webhook 地址", URL_MAX_LENGTH)
    if not url or field in errors.errors:
        return url
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        errors.add(field, "Webhook 地址不能包含空格或控制字符")
        return url
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a bad port
    except ValueError:
        errors.add(field, "Webhook 地址格式不正确")
        return url
    if parts.scheme.lower() not in ("http", "https"):
        errors.add(field, "Webhook 地址必须以 http:// 或 https:// 开头")
    elif not parts.hostname:
        errors.add(field, "Webhook 地址缺少主机名，例如 https://bank.example.com/greenmatch")
    elif parts.username is not None or parts.password is not None or "@" in parts.netloc:
        errors.add(field, "Webhook 地址不能包含用户名或密码；平台以签名证明请求来源")
    elif port == 0:
        errors.add(field, "Webhook 地址的端口不正确")
    elif problem := egress.host_problem(parts.hostname):
        errors.add(field, problem)
    if parts.fragment:
        errors.add(field, "Webhook 地址不能包含 # 片段")
    return url


@dataclass(frozen=True)
class WebhookSaved:
    hook: BankWebhook
    created: bool
    secret: str | None  # the new secret, only when this call generated it


def audit_url(url: str | None) -> str | None:
    """The address for the audit log, with the values of its query string hidden: a bank may
    put an access key of its own there (`?key=…`), which the log must not keep."""
    if not url:
        return url
    parts = urlsplit(url)
    if not parts.query:
        return url
    hidden = "&".join(f"{pair.partition('=')[0]}=***" if "=" in pair else "***"
                      for pair in parts.query.split("&"))
    return urlunsplit(parts._replace(query=hidden))


def _hook_state(hook: BankWebhook) -> dict:
    """What the audit log keeps of a webhook: never its secret, nor the query of its URL."""
    return {"url": audit_url(hook.url), "kinds": list(hook.kinds or []),
            "active": bool(hook.active)}


def configure_webhook(bank: Bank, actor: User, url, kinds_, active,
                      regenerate_secret: bool = False) -> WebhookSaved:
    """Create or change the bank's webhook (its admin only). A secret is generated when the
    webhook is created or when asked; it is returned once and never logged."""
    if not _administers(actor, bank.id):
        raise Forbidden("只有本行的银行管理员可以设置 Webhook")
    errors = FieldErrors()
    url = check_webhook_url(errors, "url", url)
    selected = choices(errors, "kinds", kinds_, "通知类型", WEBHOOK_KIND_LABELS, required=False)
    if not isinstance(active, bool):
        errors.add("active", "启用状态应为是或否")
    elif active and not selected and "kinds" not in errors.errors:
        errors.add("kinds", "启用 Webhook 时请至少选择一种通知类型")
    errors.raise_if_any()

    hook = webhook_of(bank.id)
    created = hook is None
    before = None if created else _hook_state(hook)
    secret = None
    if created:
        secret = secrets.token_urlsafe(32)
        hook = BankWebhook(bank_id=bank.id, url=url, secret=secret, kinds=selected,
                           active=active, created_at=utcnow(), updated_at=utcnow())
        db.session.add(hook)
    else:
        if regenerate_secret:
            secret = secrets.token_urlsafe(32)
            hook.secret = secret
        hook.url, hook.kinds, hook.active = url, selected, active
        hook.updated_at = utcnow()
    db.session.flush()
    after = _hook_state(hook) | {"secret_generated": secret is not None}
    record("webhook.created" if created else "webhook.updated", "bank_webhook", hook.id,
           before=before, after=after, actor=actor)
    try:
        commit()
    except sa.exc.IntegrityError as exc:  # two admins created it at the same moment
        db.session.rollback()
        raise Conflict("本行的 Webhook 刚被他人设置，请刷新后重试") from exc
    return WebhookSaved(hook, created, secret)


# --- deliveries -----------------------------------------------------------------------------------


def deliveries_query(bank_id: int, status: str | None = None):
    """The bank's webhook deliveries, newest first, with their attempts."""
    stmt = (sa.select(Delivery).options(selectinload(Delivery.log))
            .where(Delivery.bank_id == bank_id, Delivery.channel == kinds.WEBHOOK))
    if status:
        stmt = stmt.where(Delivery.status == status)
    return stmt.order_by(Delivery.created_at.desc(), Delivery.id.desc())


def delivery_for(delivery_id: int, actor: User) -> Delivery:
    """One webhook delivery of the actor's bank (its admin only); anything else is 404."""
    found = db.session.get(Delivery, delivery_id)
    if (found is None or found.channel != kinds.WEBHOOK
            or not _administers(actor, found.bank_id)):
        raise NotFound("投递记录不存在")
    return found


def retry_delivery(delivery: Delivery, actor: User) -> Delivery:
    """重新发送: a failed webhook delivery of the actor's bank is sent again, to the webhook's
    current address (attempts restart)."""
    if delivery.channel != kinds.WEBHOOK or not _administers(actor, delivery.bank_id):
        raise NotFound("投递记录不存在")
    if delivery.status != "failed":
        raise Conflict("只有发送失败的投递可以重新发送",
                       {"status": [f"当前状态：{DELIVERY_STATUSES.get(delivery.status, '')}"]})
    hook = webhook_of(delivery.bank_id)
    if hook is None or not hook.active:
        raise Conflict("本行的 Webhook 已停用，请先启用后再重新发送")
    from matchmaker.notifications.services import queue_deliveries

    before = {"status": delivery.status, "target": audit_url(delivery.target)}
    delivery_module.retry_now(delivery)
    delivery.target = hook.url  # to the current address: the admin may have just fixed it
    record("delivery.retried", "delivery", delivery.id, before=before,
           after={"status": "pending", "target": audit_url(delivery.target)}, actor=actor)
    queue_deliveries([delivery.id])
    commit()
    db.session.refresh(delivery)
    return delivery

