"""The notification API: the caller's notifications (list, unread filter, mark read), channel
preferences, and a bank's webhook with its deliveries — for every role, with bad input answered
422 naming the field and other people's objects 404."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import sqlalchemy as sa

from matchmaker.extensions import db
from matchmaker.notifications.delivery import verify
from matchmaker.notifications.models import (
    BankWebhook,
    Delivery,
    Notification,
    NotificationPreference,
)
from matchmaker.notifications.settings import configure_webhook
from tests.factories import errors_of

DEAD_URL = "http://127.0.0.1:9/greenmatch"


@pytest.fixture
def people(make):
    """Banks A and B sell 福林贷; each has a manager and an admin. An enterprise owns the needs;
    the office and the platform admin look on."""
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


def inbox(account) -> list[Notification]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Notification).where(
        Notification.user_id == account.user.id).order_by(Notification.id)))


# --- the caller's notifications ------------------------------------------------------------------


def test_the_list_is_the_callers_own_newest_first(client, make, people, tokens):
    first = make.need(people["owner"])
    second = make.need(people["owner"], title="屋顶光伏林业配套")
    response = client.get("/api/v1/notifications", headers=tokens("manager_a"))
    assert response.status_code == 200
    body = response.get_json()
    assert (body["total"], body["page"], body["per_page"], body["unread"]) == (2, 1, 20, 2)
    assert [item["need_id"] for item in body["items"]] == [second.id, first.id]
    item = body["items"][0]
    assert set(item) == {"id", "kind", "kind_label", "need_id", "title", "body", "read",
                         "read_at", "created_at"}
    assert (item["kind"], item["kind_label"], item["read"]) == ("new_lead", "新的匹配需求", False)
    assert "屋顶光伏林业配套" in item["title"] and item["created_at"].endswith("+00:00")
    mine = {n.id for n in inbox(people["manager_a"])}
    assert {i["id"] for i in body["items"]} == mine
    assert not mine & {n.id for n in inbox(people["manager_b"])}

    # Mark one read; ?unread=true lists the other.
    response = client.post(f"/api/v1/notifications/{item['id']}/read",
                           headers=tokens("manager_a"))
    assert response.status_code == 200
    assert response.get_json()["read"] is True and response.get_json()["read_at"]
    body = client.get("/api/v1/notifications?unread=true", headers=tokens("manager_a")).get_json()
    assert [i["need_id"] for i in body["items"]] == [first.id] and body["unread"] == 1
    # Marking it again is harmless.
    assert client.post(f"/api/v1/notifications/{item['id']}/read",
                       headers=tokens("manager_a")).status_code == 200

    response = client.post("/api/v1/notifications/read-all", headers=tokens("manager_a"))
    assert response.get_json() == {"marked": 1, "unread": 0}
    assert all(n.read_at is not None for n in inbox(people["manager_a"]))
    assert all(n.read_at is None for n in inbox(people["manager_b"]))


def test_paging_and_bad_queries(client, people, tokens):
    db.session.add_all([Notification(user_id=people["office"].user.id, kind="escalated",
                                     title=f"通知{i}", body="", dedupe_key=f"t:{i}")
                        for i in range(5)])
    db.session.commit()
    body = client.get("/api/v1/notifications?per_page=2&page=3",
                      headers=tokens("office")).get_json()
    assert (body["total"], len(body["items"]), body["unread"]) == (5, 1, 5)
    for query, field in (("unread=maybe", "unread"), ("per_page=0", "per_page"),
                         ("page=x", "page")):
        assert field in errors_of(client.get(f"/api/v1/notifications?{query}",
                                             headers=tokens("office"))), query


def test_nobody_reads_or_marks_another_users_notifications(client, make, people, tokens):
    make.need(people["owner"])
    [theirs] = inbox(people["manager_b"])
    for path in (f"/api/v1/notifications/{theirs.id}/read", "/api/v1/notifications/99999/read"):
        errors_of(client.post(path, headers=tokens("manager_a")), 404)
    assert inbox(people["manager_b"])[0].read_at is None


def test_every_role_has_notifications_and_anonymous_callers_do_not(client, people, tokens):
    for path, method in (("/api/v1/notifications", "GET"),
                         ("/api/v1/notifications/read-all", "POST"),
                         ("/api/v1/notifications/1/read", "POST"),
                         ("/api/v1/notifications/preferences", "GET"),
                         ("/api/v1/notifications/preferences", "PUT")):
        errors_of(client.open(path, method=method, json={}), 401)
    for key in ("owner", "manager_a", "admin_a", "office", "admin"):
        response = client.get("/api/v1/notifications", headers=tokens(key))
        assert response.status_code == 200 and response.get_json()["items"] == [], key
        assert client.get("/api/v1/notifications/preferences",
                          headers=tokens(key)).status_code == 200, key


# --- preferences ---------------------------------------------------------------------------------


def test_preferences_are_the_roles_kinds_with_defaults(client, people, tokens):
    body = client.get("/api/v1/notifications/preferences", headers=tokens("manager_a")).get_json()
    assert body["mail_enabled"] is False
    grid = {(p["kind"], p["channel"]): p["enabled"] for p in body["preferences"]}
    assert grid[("new_lead", "in_app")] is True and grid[("new_lead", "email")] is False
    assert grid[("digest", "email")] is True and ("claim_received", "in_app") not in grid
    assert len(grid) == 2 * 8  # the manager's eight kinds × two channels
    owner = client.get("/api/v1/notifications/preferences", headers=tokens("owner")).get_json()
    assert {p["kind"] for p in owner["preferences"]} == {
        "claim_received", "claim_progress", "deadline_reminder", "lapsed", "escalated",
        "need_expired"}
    admin = client.get("/api/v1/notifications/preferences", headers=tokens("admin_a")).get_json()
    assert admin["preferences"] == []


def test_saving_preferences(client, make, people, tokens):
    response = client.put("/api/v1/notifications/preferences", headers=tokens("manager_a"),
                          json={"preferences": [
                              {"kind": "new_lead", "channel": "in_app", "enabled": False},
                              {"kind": "digest", "channel": "email", "enabled": False}]})
    assert response.status_code == 200
    grid = {(p["kind"], p["channel"]): p["enabled"] for p in response.get_json()["preferences"]}
    assert grid[("new_lead", "in_app")] is False and grid[("digest", "email")] is False
    assert grid[("selected", "in_app")] is True  # not listed: unchanged
    stored = db.session.scalars(sa.select(NotificationPreference).where(
        NotificationPreference.user_id == people["manager_a"].user.id)).all()
    assert {(p.kind, p.channel, p.enabled) for p in stored} == {
        ("new_lead", "in_app", False), ("digest", "email", False)}
    # Turned back on: the same row, updated.
    client.put("/api/v1/notifications/preferences", headers=tokens("manager_a"),
               json={"preferences": [{"kind": "new_lead", "channel": "in_app",
                                      "enabled": True}]})
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(NotificationPreference.id))) == 2
    make.need(people["owner"])
    assert len(inbox(people["manager_a"])) == 1


@pytest.mark.parametrize("item, message", [
    ({"kind": "claim_received", "channel": "in_app", "enabled": False},
     "通知类型 claim_received（银行抢单）不适用于银行客户经理"),
    ({"kind": "bogus", "channel": "in_app", "enabled": False}, "kind"),
    ({"kind": "new_lead", "channel": "sms", "enabled": False}, "channel"),
    ({"kind": "new_lead", "channel": "in_app", "enabled": "no"}, "enabled"),
    ({"kind": "new_lead", "channel": "in_app"}, "enabled"),
    ("new_lead", "JSON 对象"),
])
@pytest.mark.sqlite_only
def test_bad_preferences_are_refused_naming_the_field(client, people, tokens, item, message):
    ok = {"kind": "new_lead", "channel": "in_app", "enabled": False}
    errors = errors_of(client.put("/api/v1/notifications/preferences",
                                  headers=tokens("manager_a"),
                                  json={"preferences": [ok, item]}))
    assert list(errors) == ["preferences"]
    assert any(message in m for m in errors["preferences"]), errors
    assert db.session.scalar(sa.select(NotificationPreference)) is None
    for body in ({}, {"preferences": []}, {"preferences": "new_lead"}):
        assert "preferences" in errors_of(client.put(
            "/api/v1/notifications/preferences", headers=tokens("manager_a"), json=body))


# --- a bank's webhook ----------------------------------------------------------------------------


def webhook_url(bank) -> str:
    return f"/api/v1/banks/{bank.id}/webhook"


HOOK = {"url": "https://open.bank-a.example/greenmatch", "kinds": ["new_lead", "selected"]}


def test_the_bank_admin_sets_the_webhook_and_gets_the_secret_once(client, people, tokens):
    url = webhook_url(people["bank_a"])
    body = client.get(url, headers=tokens("admin_a")).get_json()
    assert body["configured"] is False and body["url"] is None and "secret" not in body

    response = client.put(url, headers=tokens("admin_a"), json=HOOK)
    assert response.status_code == 200
    body = response.get_json()
    secret = body["secret"]
    assert body["configured"] is True and body["active"] is True and body["id"]
    assert (body["url"], body["kinds"]) == (HOOK["url"], HOOK["kinds"])
    assert body["signature_header"] == "X-GreenMatch-Signature"
    assert db.session.scalar(sa.select(BankWebhook)).secret == secret

    body = client.get(url, headers=tokens("admin_a")).get_json()
    assert "secret" not in body and body["url"] == HOOK["url"]
    response = client.put(url, headers=tokens("admin_a"),
                          json=HOOK | {"kinds": ["lapsed"], "active": False})
    assert "secret" not in response.get_json() and response.get_json()["active"] is False
    response = client.put(url, headers=tokens("admin_a"), json=HOOK | {"regenerate_secret": True})
    assert response.get_json()["secret"] not in (None, secret)


def test_only_the_banks_admin_reaches_its_webhook(client, people, tokens):
    bank = people["bank_a"]
    for key in ("admin_b", "manager_a", "owner", "office", "admin"):
        for path in (webhook_url(bank), webhook_url(bank) + "/deliveries"):
            errors_of(client.get(path, headers=tokens(key)), 403)
        errors_of(client.put(webhook_url(bank), headers=tokens(key), json=HOOK), 403)
    errors_of(client.get("/api/v1/banks/999999/webhook", headers=tokens("admin_a")), 404)
    errors_of(client.get(webhook_url(bank)), 401)
    assert db.session.scalar(sa.select(BankWebhook)) is None


@pytest.mark.parametrize("body, field, message", [
    (HOOK | {"url": "ftp://bank.example/hook"}, "url", "http:// 或 https://"),
    (HOOK | {"url": "https://u:p@bank.example/hook"}, "url", "用户名或密码"),
    (HOOK | {"url": "https://bank.example/" + "a" * 500}, "url", "500"),
    (HOOK | {"kinds": ["claim_received"]}, "kinds", "取值应为以下之一"),
    (HOOK | {"kinds": []}, "kinds", "至少选择一种"),
    (HOOK | {"active": "yes"}, "active", "true 或 false"),
    ({"kinds": ["new_lead"]}, "url", "缺少必填字段"),
])
@pytest.mark.sqlite_only
def test_bad_webhooks_are_refused_naming_the_field(client, people, tokens, body, field, message):
    errors = errors_of(client.put(webhook_url(people["bank_a"]), headers=tokens("admin_a"),
                                  json=body))
    assert any(message in m for m in errors[field]), errors
    assert db.session.scalar(sa.select(BankWebhook)) is None


class Receiver(BaseHTTPRequestHandler):
    """A bank's endpoint: keeps what it got, answers 204."""

    received: list = []  # noqa: RUF012

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers, body))  # case-insensitive
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/greenmatch", Receiver.received
    server.shutdown()
    thread.join(timeout=5)


def test_a_signed_call_reaches_the_bank_and_is_logged(client, make, people, tokens, receiver):
    address, received = receiver
    secret = client.put(webhook_url(people["bank_a"]), headers=tokens("admin_a"),
                        json={"url": address, "kinds": ["new_lead"]}).get_json()["secret"]
    need = make.need(people["owner"])
    [(headers, body)] = received
    assert verify(secret, headers["X-GreenMatch-Signature"], body)
    payload = json.loads(body)
    assert (payload["event"], payload["need_id"], payload["bank_id"]) == (
        "new_lead", need.id, people["bank_a"].id)
    assert headers["X-GreenMatch-Event"] == "new_lead"

    page = client.get(webhook_url(people["bank_a"]) + "/deliveries",
                      headers=tokens("admin_a")).get_json()
    [delivery] = page["items"]
    assert (delivery["id"], delivery["status"], delivery["attempts"]) == (
        payload["delivery_id"], "sent", 1)
    assert delivery["target"] == address and delivery["sent_at"]
    assert [(a["ok"], a["status_code"]) for a in delivery["log"]] == [(True, 204)]
    # Bank B's list is its own (empty).
    assert client.get(webhook_url(people["bank_b"]) + "/deliveries",
                      headers=tokens("admin_b")).get_json()["items"] == []


def failed_delivery(make, people) -> Delivery:
    configure_webhook(people["bank_a"], people["admin_a"].user, DEAD_URL, ["new_lead"], True)
    make.need(people["owner"])
    db.session.expire_all()
    delivery = db.session.scalar(sa.select(Delivery).where(Delivery.bank_id ==
                                                           people["bank_a"].id))
    delivery.status, delivery.lease_until = "failed", None
    db.session.commit()
    return delivery


def test_deliveries_list_attempts_and_a_failed_one_is_sent_again(client, make, people, tokens):
    delivery = failed_delivery(make, people)
    base = webhook_url(people["bank_a"]) + "/deliveries"
    body = client.get(base, headers=tokens("admin_a")).get_json()
    [item] = body["items"]
    assert (item["id"], item["status"], item["kind"]) == (delivery.id, "failed", "new_lead")
    [attempt] = item["log"]
    assert attempt["ok"] is False and attempt["status_code"] is None and attempt["error"]
    assert client.get(base + "?status=sent", headers=tokens("admin_a")).get_json()["total"] == 0
    assert "status" in errors_of(client.get(base + "?status=lost", headers=tokens("admin_a")))

    # Through another bank's path, or by another bank's admin: not found / forbidden.
    errors_of(client.post(f"{webhook_url(people['bank_b'])}/deliveries/{delivery.id}/retry",
                          headers=tokens("admin_b")), 404)
    errors_of(client.post(f"{base}/{delivery.id}/retry", headers=tokens("admin_b")), 403)
    errors_of(client.post(f"{base}/999999/retry", headers=tokens("admin_a")), 404)

    response = client.post(f"{base}/{delivery.id}/retry", headers=tokens("admin_a"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "pending" and len(body["log"]) == 2  # tried again at once
    errors_of(client.post(f"{base}/{delivery.id}/retry", headers=tokens("admin_a")), 409)


def test_a_failed_delivery_is_sent_again_to_the_corrected_address(client, make, people, tokens,
                                                                  receiver):
    address, received = receiver
    delivery = failed_delivery(make, people)
    secret = client.put(webhook_url(people["bank_a"]), headers=tokens("admin_a"),
                        json={"url": address, "kinds": ["new_lead"],
                              "regenerate_secret": True}).get_json()["secret"]
    response = client.post(f"{webhook_url(people['bank_a'])}/deliveries/{delivery.id}/retry",
                           headers=tokens("admin_a"))
    body = response.get_json()
    assert (body["status"], body["target"], body["attempts"]) == ("sent", address, 1)
    assert [a["ok"] for a in body["log"]] == [False, True]
    [(headers, raw)] = received
    assert verify(secret, headers["X-GreenMatch-Signature"], raw)
    assert json.loads(raw)["delivery_id"] == delivery.id


def test_the_openapi_document_lists_the_notification_operations(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    expected = {
        "/api/v1/notifications": {"get"},
        "/api/v1/notifications/{notification_id}/read": {"post"},
        "/api/v1/notifications/read-all": {"post"},
        "/api/v1/notifications/preferences": {"get", "put"},
        "/api/v1/banks/{bank_id}/webhook": {"get", "put"},
        "/api/v1/banks/{bank_id}/webhook/deliveries": {"get"},
        "/api/v1/banks/{bank_id}/webhook/deliveries/{delivery_id}/retry": {"post"},
    }
    for path, methods in expected.items():
        assert set(spec["paths"][path]) & {"get", "put", "post"} == methods, path
        for method in methods:
            operation = spec["paths"][path][method]
            assert operation["security"] == [{"bearerAuth": []}] and operation["summary"]
    assert spec["paths"]["/api/v1/banks/{bank_id}/webhook"]["put"]["x-roles"] == ["bank_admin"]
