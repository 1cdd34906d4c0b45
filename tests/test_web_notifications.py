"""Notification pages, through real forms with real CSRF tokens: 通知中心 (list, tabs, paging,
opening a notification marks it read, 全部标为已读), the navbar's unread count, 通知设置 (the
channel grid), and a bank admin's webhook page and 投递记录 (重新发送). A user never sees or
marks another user's notifications; a bank admin never sees another bank's deliveries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from matchmaker.audit.models import AuditLog
from matchmaker.database import utcnow
from matchmaker.extensions import db
from matchmaker.notifications.models import (
    BankWebhook,
    Delivery,
    Notification,
    NotificationPreference,
)
from matchmaker.notifications.settings import configure_webhook
from tests.factories import login
from tests.webutil import csrf_token, field_errors, submit, text

ROLES = ("enterprise", "bank_manager", "bank_admin", "office", "admin")
# Nothing listens here: a webhook call to it fails at once (connection refused).
DEAD_URL = "http://127.0.0.1:9/greenmatch"


@pytest.fixture
def people(make):
    """Banks A and B sell 福林贷 (eligible for the default need); each has a manager covering
    the need's region and an admin. An enterprise owns the needs; the office and the platform
    admin look on."""
    office = make.office()
    people = {"office": office, "admin": make.platform_admin()}
    for key in "ab":
        bank = make.bank(actor=office.user)
        people[f"admin_{key}"] = make.bank_user(bank, role="bank_admin", actor=office.user)
        make.product(bank, people[f"admin_{key}"])
        people[f"bank_{key}"] = bank
        people[f"manager_{key}"] = make.bank_user(bank, actor=office.user)
    _, people["owner"] = make.enterprise()
    return people


def as_user(app, account):
    client = app.test_client()
    login(client, account)
    return client


def inbox(account) -> list[Notification]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Notification).where(
        Notification.user_id == account.user.id).order_by(Notification.id)))


def unread_of(client) -> int:
    response = client.get("/notifications/unread-count")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()["unread"]


def add_notifications(account, count: int, **overrides) -> list[Notification]:
    """Plain notifications (no event behind them), one minute apart, oldest first."""
    start = utcnow() - timedelta(hours=1)
    rows = [Notification(user_id=account.user.id, kind=overrides.get("kind", "new_lead"),
                         title=f"通知{i:02d}", body="", dedupe_key=f"test:{account.user.id}:{i}",
                         created_at=start + timedelta(minutes=i)) for i in range(count)]
    db.session.add_all(rows)
    db.session.commit()
    return rows


# --- 通知中心 ------------------------------------------------------------------------------------


def test_a_new_need_shows_in_the_managers_inbox_and_opening_it_marks_it_read(app, make, people):
    need = make.need(people["owner"])
    [notification] = inbox(people["manager_a"])
    manager = as_user(app, people["manager_a"])
    page = text(manager.get("/notifications"))
    assert "通知中心" in page and notification.title in page and "新的匹配需求" in page
    assert f'action="/notifications/{notification.id}/read"' in page
    assert "未读" in page and unread_of(manager) == 1
    # The bell in the navbar shows the count, rendered on the server.
    assert re.search(r"data-gm-unread-badge>\s*<span data-gm-unread-count>1<", page)

    # 查看需求 is a POST: it marks the notification read and goes on to the need's page.
    response = submit(manager, f"/notifications/{notification.id}/read", {"open": "1"},
                      form_page="/notifications")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/needs/{need.id}"
    assert inbox(people["manager_a"])[0].read_at is not None
    assert unread_of(manager) == 0
    page = text(manager.get("/notifications"))
    assert f'href="/needs/{need.id}"' in page  # a read notification links to the need directly
    assert re.search(r"data-gm-unread-badge hidden>", page)  # the badge is hidden at 0
    # Another manager's notification of the same need is untouched.
    assert inbox(people["manager_b"])[0].read_at is None


def test_the_list_is_newest_first_with_tabs_and_pages(app, people):
    rows = add_notifications(people["manager_a"], 25)
    for row in rows[:3]:
        row.read_at = utcnow()
    db.session.commit()
    manager = as_user(app, people["manager_a"])
    page = text(manager.get("/notifications"))
    titles = re.findall(r"通知\d\d", page)
    assert titles[:3] == ["通知24", "通知23", "通知22"] and len(titles) == 20
    assert "第 1 / 2 页" in page and "/notifications?tab=all&page=2" in page
    second = re.findall(r"通知\d\d", text(manager.get("/notifications?page=2")))
    assert second == [f"通知{i:02d}" for i in range(4, -1, -1)]
    unread_tab = re.findall(r"通知\d\d", text(manager.get("/notifications?tab=unread&page=2")))
    assert unread_tab == ["通知04", "通知03"]  # 22 unread: 20 on page 1
    assert manager.get("/notifications?tab=nonsense&page=-4").status_code == 200


def test_mark_one_and_all_read(app, people):
    rows = add_notifications(people["manager_a"], 3)
    manager = as_user(app, people["manager_a"])
    response = submit(manager, f"/notifications/{rows[0].id}/read",
                      {"next": "/notifications?tab=unread"}, form_page="/notifications")
    assert response.headers["Location"] == "/notifications?tab=unread"
    assert [n.read_at is not None for n in inbox(people["manager_a"])] == [True, False, False]
    # An outside address in `next` is ignored.
    response = submit(manager, f"/notifications/{rows[1].id}/read",
                      {"next": "https://evil.example/"}, form_page="/notifications")
    assert response.headers["Location"] == "/notifications"

    response = submit(manager, "/notifications/read-all", {}, form_page="/notifications",
                      follow_redirects=True)
    assert "已将 1 条通知标为已读" in text(response)
    assert all(n.read_at is not None for n in inbox(people["manager_a"]))
    assert "没有未读通知" in text(submit(manager, "/notifications/read-all", {},
                                         form_page="/notifications", follow_redirects=True))


def test_nobody_sees_or_marks_another_users_notifications(app, make, people):
    make.need(people["owner"])
    [theirs] = inbox(people["manager_b"])
    manager = as_user(app, people["manager_a"])
    assert theirs.title in text(manager.get("/notifications"))  # the same need, their own row
    assert f"/notifications/{theirs.id}/read" not in text(manager.get("/notifications"))
    for path in (f"/notifications/{theirs.id}/read", "/notifications/999999/read"):
        response = submit(manager, path, {"open": "1"}, form_page="/notifications")
        assert response.status_code == 404, path
    # 全部标为已读 touches only the caller's own.
    submit(manager, "/notifications/read-all", {}, form_page="/notifications")
    assert inbox(people["manager_b"])[0].read_at is None
    assert inbox(people["manager_a"])[0].read_at is not None


def test_posts_without_the_csrf_token_are_refused(app, people):
    [row] = add_notifications(people["manager_a"], 1)
    manager = as_user(app, people["manager_a"])
    for path in (f"/notifications/{row.id}/read", "/notifications/read-all",
                 "/notifications/settings"):
        response = manager.post(path, data={"open": "1"})
        assert response.status_code == 400, path
        assert "安全令牌" in text(response)
    assert inbox(people["manager_a"])[0].read_at is None
    admin = as_user(app, people["admin_a"])
    response = admin.post("/bank/webhook", data={"url": "https://bank.example/hook",
                                                 "kinds": "new_lead", "active": "y"})
    assert response.status_code == 400
    assert db.session.scalar(sa.select(BankWebhook)) is None


def test_every_role_has_an_inbox_and_a_count_and_anonymous_users_do_not(app, people):
    anonymous = app.test_client()
    response = anonymous.get("/notifications")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert anonymous.get("/notifications/settings").status_code == 302
    response = anonymous.get("/notifications/unread-count")
    assert response.status_code == 401
    assert set(response.get_json()) == {"error", "errors"}
    assert anonymous.post("/notifications/read-all").status_code in (302, 400)
    assert 'data-gm-unread-url' not in text(anonymous.get("/"))

    accounts = {"enterprise": people["owner"], "bank_manager": people["manager_a"],
                "bank_admin": people["admin_a"], "office": people["office"],
                "admin": people["admin"]}
    for role, account in accounts.items():
        client = as_user(app, account)
        assert client.get("/notifications").status_code == 200, role
        assert client.get("/notifications/settings").status_code == 200, role
        assert unread_of(client) == 0, role
        home = text(client.get("/"))
        assert 'href="/notifications"' in home and 'data-gm-poll-seconds="30"' in home, role
        assert 'data-gm-unread-url="/notifications/unread-count"' in home, role
    # The poll interval is configurable (the browser test sets it short).
    app.config["NOTIFICATION_POLL_SECONDS"] = 1
    assert 'data-gm-poll-seconds="1"' in text(as_user(app, people["office"]).get("/"))


def test_the_count_follows_new_events_and_is_never_cached(app, make, people):
    manager = as_user(app, people["manager_a"])
    assert unread_of(manager) == 0
    make.need(people["owner"])
    make.need(people["owner"], title="屋顶光伏林业配套")
    response = manager.get("/notifications/unread-count")
    assert response.get_json() == {"unread": 2}
    assert response.headers["Cache-Control"] == "no-store"


# --- 通知设置 ------------------------------------------------------------------------------------


def test_settings_show_the_kinds_of_the_role_with_their_defaults(app, people):
    page = text(as_user(app, people["manager_a"]).get("/notifications/settings"))
    assert "新的匹配需求" in page and "每日线索摘要" in page and "银行抢单" not in page
    assert "站内通知" in page and "邮件" in page
    assert "MAIL_ENABLED" in page  # mail is off on this platform: said so
    assert re.search(r'value="new_lead:in_app"[^>]*checked', page)
    assert not re.search(r'value="new_lead:email"[^>]*checked', page)
    assert re.search(r'value="selected:email"[^>]*checked', page)

    page = text(as_user(app, people["owner"]).get("/notifications/settings"))
    assert "银行抢单" in page and "对接进展" in page and "新的匹配需求" not in page
    page = text(as_user(app, people["office"]).get("/notifications/settings"))
    assert "需求上报金融办" in page and "新的匹配需求" not in page
    for key in ("admin", "admin_a"):
        assert "没有可设置的通知类型" in text(as_user(app, people[key]).get(
            "/notifications/settings")), key
    assert 'href="/bank/webhook"' in text(as_user(app, people["admin_a"]).get(
        "/notifications/settings"))

    app.config["MAIL_ENABLED"] = True
    assert "MAIL_ENABLED" not in text(as_user(app, people["owner"]).get(
        "/notifications/settings"))


def test_saving_settings_turns_a_kind_off(app, make, people):
    manager = as_user(app, people["manager_a"])
    page = text(manager.get("/notifications/settings"))
    checked = re.findall(r'value="([a-z_]+:[a-z_]+)"[^>]*checked', page)
    assert "new_lead:in_app" in checked
    keep = [c for c in checked if c != "new_lead:in_app"] + ["new_lead:email"]
    response = submit(manager, "/notifications/settings", {"enabled": keep})
    assert response.status_code == 302
    assert "通知设置已保存" in text(manager.get(response.headers["Location"]))
    stored = {(p.kind, p.channel): p.enabled for p in db.session.scalars(
        sa.select(NotificationPreference).where(
            NotificationPreference.user_id == people["manager_a"].user.id))}
    assert stored[("new_lead", "in_app")] is False and stored[("new_lead", "email")] is True
    page = text(manager.get("/notifications/settings"))
    assert not re.search(r'value="new_lead:in_app"[^>]*checked', page)
    assert re.search(r'value="new_lead:email"[^>]*checked', page)
    # The choice is applied: no in-app notice of the next lead for this manager.
    make.need(people["owner"])
    assert inbox(people["manager_a"]) == [] and len(inbox(people["manager_b"])) == 1
    # Saving the same again changes nothing and writes no audit row.
    audits = db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(
        AuditLog.action == "notification_preferences.updated"))
    submit(manager, "/notifications/settings", {"enabled": keep})
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(
        AuditLog.action == "notification_preferences.updated")) == audits == 1


def test_settings_refuse_kinds_and_channels_that_are_not_offered(app, people):
    manager = as_user(app, people["manager_a"])
    for value, message in (("claim_received:in_app", "不适用于银行客户经理"),
                           ("new_lead:sms", "未知的通知渠道"),
                           ("nonsense:in_app", "未知的通知类型")):
        response = submit(manager, "/notifications/settings",
                          {"enabled": ["new_lead:in_app", value]})
        assert response.status_code == 422, value
        assert any(message in m for m in field_errors(response, "enabled")), value
    assert db.session.scalar(sa.select(NotificationPreference)) is None


# --- the bank's webhook --------------------------------------------------------------------------


def webhook_form(**overrides) -> dict:
    data = {"url": "https://open.bank-a.example/greenmatch", "kinds": ["new_lead", "selected"],
            "active": "y", "save": "1"}
    data.update(overrides)
    return data


def shown_secret(response) -> str | None:
    match = re.search(r'id="webhook-secret"[^>]*value="([^"]+)"', response.get_data(as_text=True))
    return match.group(1) if match else None


def test_a_bank_admin_sets_the_webhook_and_sees_the_secret_once(app, people):
    admin = as_user(app, people["admin_a"])
    page = text(admin.get("/bank/webhook"))
    assert "Webhook 推送" in page and "X-GreenMatch-Signature" in page
    assert "t=<Unix 时间戳>,v1=<十六进制签名>" in page and "HMAC-SHA256" in page
    assert "X-GreenMatch-Delivery" in page

    response = submit(admin, "/bank/webhook", webhook_form())
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    secret = shown_secret(response)
    hook = db.session.scalar(sa.select(BankWebhook))
    assert secret and hook.secret == secret and len(secret) >= 40
    assert (hook.bank_id, hook.url, hook.kinds, hook.active) == (
        people["bank_a"].id, "https://open.bank-a.example/greenmatch", ["new_lead", "selected"],
        True)
    assert "只显示这一次" in text(response)

    # Shown once: the next visit does not show it.
    page = admin.get("/bank/webhook")
    assert shown_secret(page) is None and secret not in text(page)
    assert 'value="https://open.bank-a.example/greenmatch"' in text(page)

    # Saving without 重新生成 keeps the secret; 保存并重新生成密钥 replaces it, shown once.
    response = submit(admin, "/bank/webhook", webhook_form(kinds=["lapsed"], active=""))
    assert response.status_code == 302 and shown_secret(admin.get("/bank/webhook")) is None
    db.session.expire_all()
    hook = db.session.scalar(sa.select(BankWebhook))
    assert (hook.secret, hook.kinds, hook.active) == (secret, ["lapsed"], False)
    data = webhook_form()
    del data["save"]
    response = submit(admin, "/bank/webhook", data | {"regenerate": "1"})
    new_secret = shown_secret(response)
    db.session.expire_all()
    assert new_secret and new_secret != secret
    assert db.session.scalar(sa.select(BankWebhook)).secret == new_secret

    # Audited, and never with the secret.
    entries = db.session.scalars(sa.select(AuditLog).where(
        AuditLog.object_type == "bank_webhook").order_by(AuditLog.id)).all()
    assert [e.action for e in entries] == ["webhook.created", "webhook.updated",
                                           "webhook.updated"]
    assert entries[-1].after["secret_generated"] is True
    assert entries[0].actor_id == people["admin_a"].user.id
    for entry in entries:
        assert secret not in str(entry.after) and new_secret not in str(entry.after)
    # Bank B's admin sees bank B's (unset) webhook, not A's.
    other = text(as_user(app, people["admin_b"]).get("/bank/webhook"))
    assert "open.bank-a.example" not in other and "尚未设置" in other


@pytest.mark.parametrize("url, message", [
    ("", "请输入Webhook 地址"),
    ("ftp://bank.example/hook", "http:// 或 https://"),
    ("javascript:alert(1)", "http:// 或 https://"),
    ("https://user:pw@bank.example/hook", "不能包含用户名或密码"),
    ("https:///hook", "缺少主机名"),
    ("https://bank.example/" + "a" * 500, "不能超过 500 个字符"),
    ("https://bank.example/a b", "不能包含空格"),
    ("https://bank.example:99999/hook", "格式不正确"),
])
@pytest.mark.sqlite_only
def test_bad_webhook_addresses_get_a_message(app, people, url, message):
    admin = as_user(app, people["admin_a"])
    response = submit(admin, "/bank/webhook", webhook_form(url=url))
    assert response.status_code == 422
    assert any(message in m for m in field_errors(response, "url")), field_errors(response,
                                                                                  "url")
    assert db.session.scalar(sa.select(BankWebhook)) is None


@pytest.mark.sqlite_only
def test_webhook_kinds_must_be_bank_kinds(app, people):
    admin = as_user(app, people["admin_a"])
    response = submit(admin, "/bank/webhook", webhook_form(kinds=["claim_received"]))
    assert response.status_code == 422 and "未知的通知类型" in text(response)
    response = submit(admin, "/bank/webhook", webhook_form(kinds=[]))
    assert response.status_code == 422 and "至少选择一种通知类型" in text(response)
    # Inactive, it may subscribe to nothing for now.
    assert submit(admin, "/bank/webhook", webhook_form(kinds=[], active="")).status_code == 200


def test_only_a_bank_admin_has_the_webhook_pages(app, people):
    paths = ("/bank/webhook", "/bank/webhook/deliveries")
    anonymous = app.test_client()
    for path in paths:
        response = anonymous.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    for key in ("owner", "manager_a", "office", "admin"):
        client = as_user(app, people[key])
        for path in paths:
            assert client.get(path).status_code == 403, (key, path)
        response = submit(client, "/bank/webhook", webhook_form(), form_page="/")
        assert response.status_code == 403, key
    assert db.session.scalar(sa.select(BankWebhook)) is None
    admin = as_user(app, people["admin_a"])
    for path in paths:
        assert admin.get(path).status_code == 200, path


# --- 投递记录 ------------------------------------------------------------------------------------


def failed_delivery(make, people) -> Delivery:
    """Bank A's webhook points nowhere; a new need makes a delivery that fails; it is given up."""
    configure_webhook(people["bank_a"], people["admin_a"].user, DEAD_URL, ["new_lead"], True)
    need = make.need(people["owner"])
    db.session.expire_all()
    delivery = db.session.scalar(sa.select(Delivery).where(Delivery.bank_id ==
                                                           people["bank_a"].id))
    assert delivery is not None and delivery.need_id == need.id
    assert delivery.status == "pending" and len(delivery.log) == 1  # tried once, will retry
    delivery.status, delivery.lease_until = "failed", None
    db.session.commit()
    return delivery


def test_deliveries_show_attempts_and_a_failed_one_is_sent_again(app, make, people):
    delivery = failed_delivery(make, people)
    admin = as_user(app, people["admin_a"])
    page = text(admin.get("/bank/webhook/deliveries"))
    assert f'id="delivery-{delivery.id}"' in page and "失败" in page and "新的匹配需求" in page
    assert f'action="/bank/webhook/deliveries/{delivery.id}/retry"' in page
    assert "无响应" in page and "Error" in page  # connection refused, no status code
    detail = text(admin.get(f"/bank/webhook/deliveries/{delivery.id}"))
    assert DEAD_URL in detail and '"event": "new_lead"' in detail
    assert f'"delivery_id": {delivery.id}' in detail and "失败" in detail
    assert text(admin.get("/bank/webhook/deliveries?status=sent")).count('id="delivery-') == 0
    assert text(admin.get("/bank/webhook/deliveries?status=failed")).count('id="delivery-') == 1

    response = submit(admin, f"/bank/webhook/deliveries/{delivery.id}/retry",
                      {"next": "/bank/webhook/deliveries"},
                      form_page="/bank/webhook/deliveries", follow_redirects=True)
    assert f"已重新发送投递 #{delivery.id}" in text(response)
    db.session.expire_all()
    delivery = db.session.get(Delivery, delivery.id)
    assert delivery.status == "pending" and delivery.attempts == 1  # tried again at once
    assert len(delivery.log) == 2
    assert db.session.scalar(sa.select(AuditLog).where(
        AuditLog.action == "delivery.retried")).actor_id == people["admin_a"].user.id
    # Only a failed delivery is sent again.
    response = submit(admin, f"/bank/webhook/deliveries/{delivery.id}/retry", {},
                      form_page="/bank/webhook/deliveries", follow_redirects=True)
    assert "只有发送失败的投递可以重新发送" in text(response)


def test_a_bank_admin_never_sees_another_banks_deliveries(app, make, people):
    delivery = failed_delivery(make, people)
    other = as_user(app, people["admin_b"])
    assert f'id="delivery-{delivery.id}"' not in text(other.get("/bank/webhook/deliveries"))
    assert other.get(f"/bank/webhook/deliveries/{delivery.id}").status_code == 404
    response = submit(other, f"/bank/webhook/deliveries/{delivery.id}/retry", {},
                      form_page="/bank/webhook/deliveries")
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Delivery, delivery.id).status == "failed"
    manager = as_user(app, people["manager_a"])
    assert manager.get(f"/bank/webhook/deliveries/{delivery.id}").status_code == 403
    token = csrf_token(manager, "/")
    assert manager.post(f"/bank/webhook/deliveries/{delivery.id}/retry",
                        data={"csrf_token": token}).status_code == 403


def test_a_stopped_webhook_is_not_sent_again(app, make, people):
    delivery = failed_delivery(make, people)
    configure_webhook(people["bank_a"], people["admin_a"].user, DEAD_URL, ["new_lead"], False)
    admin = as_user(app, people["admin_a"])
    response = submit(admin, f"/bank/webhook/deliveries/{delivery.id}/retry", {},
                      form_page="/bank/webhook/deliveries", follow_redirects=True)
    assert "已停用" in text(response)
    db.session.expire_all()
    assert db.session.get(Delivery, delivery.id).status == "failed"
