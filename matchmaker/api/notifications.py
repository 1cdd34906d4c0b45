"""Notifications: the caller's own (通知中心), the caller's channel choices (通知设置), and a bank's
webhook with its deliveries (the bank's admin only).

A notification of another user, or a delivery of another bank, is 404 as if it did not exist. The
rules are `matchmaker.notifications.settings` and `matchmaker.notifications.services`.
"""

from __future__ import annotations

from functools import wraps

from marshmallow import fields

from matchmaker.api.auth import current_api_user, token_required
from matchmaker.api.banks import BANK_ID, get_bank
from matchmaker.api.core import (
    BaseSchema,
    PagingQuerySchema,
    api_blueprint,
    id_part,
    page_schema,
    paginate,
)
from matchmaker.api.fields import Bool, ChineseMessages, Code, ListOf, Str
from matchmaker.errors import Forbidden
from matchmaker.notifications import kinds, services, settings

blp = api_blueprint("api_notifications", "",
                    "通知：站内通知、通知设置，以及银行的 Webhook 推送与投递记录")

NOTIFICATION_ID = id_part("notification_id")
DELIVERY_ID = id_part("delivery_id")
MAX_PREFERENCES = 100


# --- schemas -------------------------------------------------------------------------------------


class NotificationQuerySchema(PagingQuerySchema):
    unread = Bool(strict=False, load_default=False,
                  metadata={"description": "true：只列出未读通知"})


class NotificationSchema(BaseSchema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"enum": list(kinds.KINDS),
                                                  "description": "通知类型代码"})
    kind_label = fields.String(required=True, metadata={"description": "通知类型的中文名称"})
    need_id = fields.Integer(required=True, allow_none=True,
                             metadata={"description": "相关的需求（如有）"})
    title = fields.String(required=True)
    body = fields.String(required=True)
    read = fields.Boolean(required=True)
    read_at = fields.DateTime(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)


class NotificationPageSchema(BaseSchema):
    items = fields.List(fields.Nested(NotificationSchema), required=True)
    page = fields.Integer(required=True, metadata={"description": "当前页码"})
    per_page = fields.Integer(required=True, metadata={"description": "每页条数"})
    total = fields.Integer(required=True, metadata={"description": "符合条件的总条数"})
    unread = fields.Integer(required=True, metadata={"description": "调用者的未读通知总数"})


class ReadAllSchema(BaseSchema):
    marked = fields.Integer(required=True, metadata={"description": "本次标为已读的条数"})
    unread = fields.Integer(required=True, metadata={"description": "剩余未读条数（0）"})


class Obj(ChineseMessages, fields.Nested):
    """A JSON object inside a list, with Chinese messages."""


class PreferenceInSchema(BaseSchema):
    error_messages = {"type": "应为 JSON 对象", "unknown": "未知字段"}  # noqa: RUF012

    kind = Code(kinds.KINDS, required=True, metadata={
        "description": "通知类型；须是调用者角色会收到的类型（见 GET 的结果）"})
    channel = Code(kinds.CHANNELS, required=True,
                   metadata={"description": "in_app 站内通知 / email 邮件"})
    enabled = Bool(required=True)


class PreferencesInSchema(BaseSchema):
    preferences = ListOf(Obj(PreferenceInSchema), min_items=1,
                         max_items=MAX_PREFERENCES, required=True, metadata={
                             "description": "要修改的设置；未列出的保持不变"})


class PreferenceSchema(BaseSchema):
    kind = fields.String(required=True, metadata={"enum": list(kinds.KINDS)})
    kind_label = fields.String(required=True)
    channel = fields.String(required=True, metadata={"enum": list(kinds.CHANNELS)})
    channel_label = fields.String(required=True)
    enabled = fields.Boolean(required=True)


class PreferencesSchema(BaseSchema):
    preferences = fields.List(fields.Nested(PreferenceSchema), required=True, metadata={
        "description": "调用者角色的每种通知类型 × 每个渠道"})
    mail_enabled = fields.Boolean(required=True, metadata={
        "description": "本平台是否已开通邮件发送；未开通时邮件设置保存但不发送"})


class WebhookInSchema(BaseSchema):
    url = Str(max_length=settings.URL_MAX_LENGTH, required=True, metadata={
        "description": "http:// 或 https:// 地址，不能包含用户名或密码"})
    kinds = ListOf(Code(kinds.WEBHOOK_KINDS), max_items=len(kinds.WEBHOOK_KINDS), required=True,
                   metadata={"description": "推送的通知类型；启用时至少一种"})
    active = Bool(load_default=True, metadata={"description": "是否启用（默认 true）"})
    regenerate_secret = Bool(load_default=False, metadata={
        "description": "true：生成新的签名密钥（旧密钥立即失效）"})


class WebhookSchema(BaseSchema):
    bank_id = fields.Integer(required=True)
    configured = fields.Boolean(required=True, metadata={"description": "是否已设置"})
    id = fields.Integer(allow_none=True)
    url = fields.String(allow_none=True)
    kinds = fields.List(fields.String(metadata={"enum": list(kinds.WEBHOOK_KINDS)}),
                        required=True)
    active = fields.Boolean(required=True)
    created_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime(allow_none=True)
    secret = fields.String(metadata={
        "description": "签名密钥：只出现在创建或重新生成它的 PUT 的响应中，请妥善保存"})
    signature_header = fields.String(required=True, metadata={
        "description": "签名所在的请求头名称；其值为 t=<Unix 时间>,v1=<十六进制 HMAC-SHA256>"})


class DeliveryQuerySchema(PagingQuerySchema):
    status = Code(settings.DELIVERY_STATUSES, metadata={
        "description": "只列出该状态：pending 待发送 / sent 已送达 / failed 失败"})


class AttemptSchema(BaseSchema):
    at = fields.DateTime(required=True)
    ok = fields.Boolean(required=True)
    status_code = fields.Integer(allow_none=True, metadata={"description": "对方的 HTTP 状态码"})
    error = fields.String(allow_none=True)
    duration_ms = fields.Integer(required=True)


class DeliverySchema(BaseSchema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    need_id = fields.Integer(allow_none=True)
    target = fields.String(required=True, metadata={"description": "发送时的 Webhook 地址"})
    subject = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": list(settings.DELIVERY_STATUSES)})
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    sent_at = fields.DateTime(allow_none=True)
    log = fields.List(fields.Nested(AttemptSchema), required=True,
                      metadata={"description": "每次尝试，从早到晚"})


DeliveryPageSchema = page_schema(DeliverySchema, "DeliveryPage")


# --- payloads ------------------------------------------------------------------------------------


def notification_payload(notification) -> dict:
    return {"id": notification.id, "kind": notification.kind,
            "kind_label": kinds.label(notification.kind), "need_id": notification.need_id,
            "title": notification.title, "body": notification.body or "",
            "read": notification.read_at is not None, "read_at": notification.read_at,
            "created_at": notification.created_at}


def preferences_payload(user) -> dict:
    from flask import current_app

    return {"preferences": settings.flat_preferences(user),
            "mail_enabled": bool(current_app.config.get("MAIL_ENABLED"))}


def webhook_payload(bank_id: int, hook, secret: str | None = None) -> dict:
    from matchmaker.notifications.delivery import SIGNATURE_HEADER

    data = {"bank_id": bank_id, "configured": hook is not None,
            "id": hook.id if hook else None, "url": hook.url if hook else None,
            "kinds": list(hook.kinds or []) if hook else [],
            "active": bool(hook.active) if hook else False,
            "created_at": hook.created_at if hook else None,
            "updated_at": hook.updated_at if hook else None,
            "signature_header": SIGNATURE_HEADER}
    if secret:
        data["secret"] = secret
    return data


def delivery_payload(delivery) -> dict:
    return {"id": delivery.id, "kind": delivery.kind, "need_id": delivery.need_id,
            "target": delivery.target, "subject": delivery.subject, "status": delivery.status,
            "attempts": delivery.attempts, "last_error": delivery.last_error,
            "created_at": delivery.created_at, "sent_at": delivery.sent_at,
            "log": [{"at": a.at, "ok": a.ok, "status_code": a.status_code, "error": a.error,
                     "duration_ms": a.duration_ms} for a in delivery.log]}


# --- the caller's notifications ------------------------------------------------------------------


@blp.route("/notifications", methods=["GET"])
@token_required()
@blp.arguments(NotificationQuerySchema, location="query")
@blp.response(200, NotificationPageSchema)
def index(query):
    """我的通知

    调用者本人的站内通知，从新到旧；`unread=true` 只列出未读。`unread` 字段为未读总数。
    """
    user = current_api_user()
    items, paging = paginate(settings.inbox_query(user, unread_only=query["unread"]), query)
    return {"items": [notification_payload(n) for n in items], **paging,
            "unread": services.unread_count(user)}


@blp.route(f"/notifications/{NOTIFICATION_ID}/read", methods=["POST"])
@token_required()
@blp.response(200, NotificationSchema)
@blp.alt_response(404, response="NOT_FOUND")
def read(notification_id: int):
    """标为已读（本人的通知；他人的通知 404）"""
    user = current_api_user()
    notification = settings.notification_for(user, notification_id)
    services.mark_read(user, [notification.id])
    return notification_payload(settings.notification_for(user, notification_id))


@blp.route("/notifications/read-all", methods=["POST"])
@token_required()
@blp.response(200, ReadAllSchema)
def read_all():
    """全部标为已读"""
    user = current_api_user()
    marked = services.mark_read(user)
    return {"marked": marked, "unread": services.unread_count(user)}


@blp.route("/notifications/preferences", methods=["GET"])
@token_required()
@blp.response(200, PreferencesSchema)
def preferences():
    """通知设置：调用者角色的每种通知类型在每个渠道上是否开启"""
    return preferences_payload(current_api_user())


@blp.route("/notifications/preferences", methods=["PUT"])
@token_required()
@blp.arguments(PreferencesInSchema)
@blp.response(200, PreferencesSchema)
def save_preferences(data):
    """修改通知设置

    只修改列出的项。未知的类型或渠道、调用者角色不会收到的类型：422（errors.preferences，
    指明第几项）。返回修改后的全部设置。
    """
    user = current_api_user()
    settings.save_preferences(user, data["preferences"])
    return preferences_payload(user)


# --- a bank's webhook ----------------------------------------------------------------------------


def bank_admin_of_path(view):
    """Load the bank of the path (404) and check the caller is its admin (403) before the body
    is read."""

    @wraps(view)
    def wrapped(*args, bank_id: int, **kwargs):
        bank = get_bank(bank_id)
        user = current_api_user()
        if user.role != "bank_admin" or user.bank_id != bank.id:
            raise Forbidden("只有该银行的管理员可以查看或设置其 Webhook")
        return view(*args, bank=bank, **kwargs)

    return wrapped


@blp.route(f"/banks/{BANK_ID}/webhook", methods=["GET"])
@token_required("bank_admin")
@bank_admin_of_path
@blp.response(200, WebhookSchema)
@blp.alt_response(404, response="NOT_FOUND")
def webhook(bank):
    """本行的 Webhook（该银行的管理员）

    未设置时 `configured` 为 false。签名密钥不会返回（只在生成它的 PUT 响应中出现一次）。
    其他银行的管理员得到 403，银行不存在时 404。
    """
    return webhook_payload(bank.id, settings.webhook_of(bank.id))


@blp.route(f"/banks/{BANK_ID}/webhook", methods=["PUT"])
@token_required("bank_admin")
@bank_admin_of_path
@blp.arguments(WebhookInSchema)
@blp.response(200, WebhookSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def configure_webhook(data, bank):
    """设置本行的 Webhook（该银行的管理员）

    首次设置或 `regenerate_secret: true` 时生成签名密钥，只在本次响应的 `secret` 中返回。
    每次请求带 `X-GreenMatch-Signature: t=<Unix 时间>,v1=<十六进制>`，v1 为以密钥对
    `"<t>.<请求体>"` 计算的 HMAC-SHA256；`X-GreenMatch-Delivery` 为投递编号（重复到达可忽略）。
    """
    saved = settings.configure_webhook(bank, current_api_user(), data["url"], data["kinds"],
                                       data["active"],
                                       regenerate_secret=data["regenerate_secret"])
    return webhook_payload(bank.id, saved.hook, saved.secret)


@blp.route(f"/banks/{BANK_ID}/webhook/deliveries", methods=["GET"])
@token_required("bank_admin")
@bank_admin_of_path
@blp.arguments(DeliveryQuerySchema, location="query")
@blp.response(200, DeliveryPageSchema)
@blp.alt_response(404, response="NOT_FOUND")
def deliveries(query, bank):
    """本行 Webhook 的投递记录（该银行的管理员），从新到旧，带每次尝试的时间、状态码和错误"""
    items, paging = paginate(settings.deliveries_query(bank.id, query.get("status")), query)
    return {"items": [delivery_payload(d) for d in items], **paging}


@blp.route(f"/banks/{BANK_ID}/webhook/deliveries/{DELIVERY_ID}/retry", methods=["POST"])
@token_required("bank_admin")
@bank_admin_of_path
@blp.response(200, DeliverySchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT")
def retry(bank, delivery_id: int):
    """重新发送一次失败的投递（该银行的管理员）

    只有状态为 failed 的投递可以重新发送，否则 409；Webhook 已停用时 409。
    """
    user = current_api_user()  # bank_admin_of_path: the path's bank is the caller's
    found = settings.delivery_for(delivery_id, user)  # another bank's delivery: 404
    return delivery_payload(settings.retry_delivery(found, user))
