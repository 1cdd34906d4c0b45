"""Pages of notifications: 通知中心 (the user's own notifications), 通知设置 (channels per kind),
the navbar badge's unread count, and for a bank's admin the bank's webhook and its 投递记录.

Every look-up is scoped to the logged-in user (a notification) or to the user's bank (a webhook
delivery): anything else is 404, as if it did not exist. Opening a notification is a POST (it
marks the notification read), never a GET with a side effect. The rules are in
`matchmaker.notifications.settings` and `matchmaker.notifications.services`.
"""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from matchmaker.accounts.permissions import roles_required
from matchmaker.errors import Conflict, Forbidden, InvalidInput, NotFound
from matchmaker.extensions import db
from matchmaker.notifications import delivery as delivery_module
from matchmaker.notifications import kinds, services, settings
from matchmaker.notifications.forms import PreferencesForm, WebhookForm
from matchmaker.web.errors import json_error
from matchmaker.web.forms import apply_service_errors
from matchmaker.web.redirects import safe_next

blueprint = Blueprint("notifications", __name__)


@blueprint.app_context_processor
def unread_badge() -> dict:
    """`notification_unread()` for the navbar's bell (base.html calls it for logged-in users)."""

    def notification_unread() -> int:
        if not current_user.is_authenticated:
            return 0
        return services.unread_count(current_user)

    return {"notification_unread": notification_unread}

PER_PAGE = 20
TABS = {"all": "全部", "unread": "未读"}


def _user():
    return current_user._get_current_object()


def _page_number() -> int:
    page = request.args.get("page", 1, type=int)
    return page if 1 <= page <= 10_000 else 1


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


# --- 通知中心 ------------------------------------------------------------------------------------


@blueprint.get("/notifications")
@login_required
def index():
    user = _user()
    tab = request.args.get("tab", "all")
    tab = tab if tab in TABS else "all"
    page = db.paginate(settings.inbox_query(user, unread_only=tab == "unread"),
                       page=_page_number(), per_page=PER_PAGE, error_out=False)
    return render_template("notifications/index.html", page=page, items=page.items, tab=tab,
                           tabs=TABS, unread=services.unread_count(user), label=kinds.label)


def _back() -> str:
    return safe_next(request.form.get("next")) or url_for("notifications.index")


@blueprint.post("/notifications/<int:notification_id>/read")
@login_required
def read(notification_id: int):
    """Mark one of the user's notifications read; with `open`, go on to its need's page."""
    user = _user()
    try:
        notification = settings.notification_for(user, notification_id)
    except NotFound:
        abort(404)
    services.mark_read(user, [notification.id])
    if request.form.get("open") and notification.need_id:
        return redirect(url_for("needs.show", need_id=notification.need_id))
    return redirect(_back())


@blueprint.post("/notifications/read-all")
@login_required
def read_all():
    count = services.mark_read(_user())
    if count:
        flash(f"已将 {count} 条通知标为已读", "success")
    else:
        flash("没有未读通知", "info")
    return redirect(_back())


@blueprint.get("/notifications/unread-count")
def unread_count():
    """`{"unread": n}` for the navbar badge (static/js/app.js polls it). Not logged in: 401."""
    if not current_user.is_authenticated:
        return _no_store(make_response(json_error(401, "请先登录")))
    return _no_store(jsonify({"unread": services.unread_count(_user())}))


# --- 通知设置 ------------------------------------------------------------------------------------


@blueprint.route("/notifications/settings", methods=["GET", "POST"])
@login_required
def preferences():
    user = _user()
    rows = settings.preferences_for(user)
    form = PreferencesForm().set_grid(rows)
    status = 200
    if form.validate_on_submit():
        try:
            settings.save_preferences(user, form.choices_for(rows))
        except InvalidInput as exc:
            apply_service_errors(form, exc, aliases={"preferences": "enabled"})
            status = 422
        else:
            flash("通知设置已保存", "success")
            return redirect(url_for("notifications.preferences"))
    elif form.is_submitted():
        status = 422
    return render_template("notifications/settings.html", form=form, rows=rows,
                           channels=kinds.CHANNELS,
                           mail_enabled=current_app.config.get("MAIL_ENABLED", False)), status


# --- the bank's webhook --------------------------------------------------------------------------


def _render_webhook(form: WebhookForm, hook, new_secret: str | None = None, status: int = 200):
    response = make_response(render_template(
        "notifications/webhook.html", form=form, hook=hook, bank=current_user.bank,
        new_secret=new_secret, signature_header=delivery_module.SIGNATURE_HEADER,
        delivery_header=delivery_module.DELIVERY_HEADER,
        event_header=delivery_module.EVENT_HEADER, kind_labels=settings.WEBHOOK_KIND_LABELS),
        status)
    return _no_store(response) if new_secret else response


@blueprint.route("/bank/webhook", methods=["GET", "POST"])
@roles_required("bank_admin")
def webhook():
    """The bank's webhook. A newly generated secret is shown once, on the page that answers the
    POST that generated it (never stored in the session, never shown again)."""
    hook = settings.webhook_of(current_user.bank_id)
    form = WebhookForm()
    if form.validate_on_submit():
        try:
            saved = settings.configure_webhook(
                current_user.bank, _user(), form.url.data, form.kinds.data or [],
                bool(form.active.data), regenerate_secret=bool(form.regenerate.data))
        except InvalidInput as exc:
            apply_service_errors(form, exc)
            return _render_webhook(form, hook, status=422)
        except (Conflict, Forbidden) as exc:
            flash(exc.message, "warning")
            return redirect(url_for("notifications.webhook"))
        if saved.secret:
            flash("Webhook 已创建" if saved.created else "已保存，并生成了新的签名密钥", "success")
            return _render_webhook(WebhookForm(formdata=None, obj=_FormData(saved.hook)),
                                   saved.hook, new_secret=saved.secret)
        flash("Webhook 设置已保存", "success")
        return redirect(url_for("notifications.webhook"))
    if form.is_submitted():  # the CSRF token was refused
        return _render_webhook(form, hook, status=400)
    if hook is not None:
        form = WebhookForm(formdata=None, obj=_FormData(hook))
    return _render_webhook(form, hook)


class _FormData:
    """A webhook's values under the form's field names."""

    def __init__(self, hook):
        self.url, self.kinds, self.active = hook.url, list(hook.kinds or []), hook.active


@blueprint.get("/bank/webhook/deliveries")
@roles_required("bank_admin")
def deliveries():
    status = request.args.get("status") or None
    status = status if status in settings.DELIVERY_STATUSES else None
    page = db.paginate(settings.deliveries_query(current_user.bank_id, status),
                       page=_page_number(), per_page=PER_PAGE, error_out=False)
    return render_template("notifications/deliveries.html", page=page, items=page.items,
                           status=status, statuses=settings.DELIVERY_STATUSES,
                           hook=settings.webhook_of(current_user.bank_id),
                           bank=current_user.bank, label=kinds.label)


@blueprint.get("/bank/webhook/deliveries/<int:delivery_id>")
@roles_required("bank_admin")
def delivery(delivery_id: int):
    try:
        found = settings.delivery_for(delivery_id, _user())
    except NotFound:
        abort(404)
    return render_template("notifications/delivery.html", delivery=found,
                           statuses=settings.DELIVERY_STATUSES, label=kinds.label,
                           body=json.dumps(json.loads(delivery_module.webhook_body(found)),
                                           ensure_ascii=False, indent=2, sort_keys=True))


@blueprint.post("/bank/webhook/deliveries/<int:delivery_id>/retry")
@roles_required("bank_admin")
def retry(delivery_id: int):
    try:
        found = settings.delivery_for(delivery_id, _user())
        settings.retry_delivery(found, _user())
    except NotFound:
        abort(404)
    except (Conflict, Forbidden) as exc:
        flash(exc.message, "warning")
    else:
        state = settings.DELIVERY_STATUSES.get(found.status, found.status)
        flash(f"已重新发送投递 #{found.id}（当前状态：{state}）", "success")
    return redirect(safe_next(request.form.get("next"))
                    or url_for("notifications.delivery", delivery_id=delivery_id))
