"""Log in, log out, password change, the health check and the pages every visitor sees."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from matchmaker import create_app
from matchmaker.accounts.models import User
from matchmaker.extensions import db
from matchmaker.web.redirects import safe_next
from tests.conftest import base_config
from tests.factories import PASSWORD, login
from tests.webutil import (
    csrf_token,
    field_errors,
    input_value,
    is_logged_in,
    submit,
    text,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.sqlite_only
def test_login_page(client):
    response = client.get("/login")
    page = text(response)
    assert response.status_code == 200
    assert '<html lang="zh-CN">' in page
    assert 'name="csrf_token"' in page
    assert "/static/vendor/bootstrap/css/bootstrap.min.css" in page
    assert "企业注册" in page  # anonymous navigation


def test_login_success_records_the_login(client, make):
    _, account = make.enterprise()
    response = login(client, account, follow=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = text(client.get("/"))
    assert account.user.name in home and account.user.enterprise.name in home
    assert db.session.get(User, account.user.id).last_login_at is not None
    assert is_logged_in(client)


@pytest.mark.parametrize("email, password", [
    ("nobody@example.com", PASSWORD),  # unknown e-mail
    (None, "wrong-password-1"),  # known e-mail, wrong password
])
def test_login_failure_is_generic(client, make, email, password):
    _, account = make.enterprise()
    response = submit(client, "/login", {"email": email or account.email, "password": password})
    assert response.status_code == 200
    page = text(response)
    assert "邮箱或密码不正确" in page
    assert "该邮箱" not in page  # never tells which part was wrong
    assert input_value(response, "email") == (email or account.email)  # the e-mail stays
    assert not input_value(response, "password")  # the password never comes back
    assert not is_logged_in(client)


def test_login_with_empty_fields_shows_field_messages(client):
    response = submit(client, "/login", {"email": "", "password": ""})
    assert field_errors(response, "email") == ["请输入电子邮箱"]
    assert field_errors(response, "password") == ["请输入密码"]


def test_login_follows_a_relative_next(client, make):
    _, account = make.enterprise()
    response = client.get("/enterprise")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fenterprise"
    token = csrf_token(client, "/login")
    response = client.post("/login?next=%2Fenterprise",
                           data={"email": account.email, "password": PASSWORD,
                                 "csrf_token": token})
    assert response.headers["Location"] == "/enterprise"


OPEN_REDIRECTS = [
    "//evil.example", "https://evil.example/", "http:evil.example", "/\\evil.example",
    "\\\\evil.example", "/\t/evil.example", "javascript:alert(1)", "evil.example",
    "///evil.example", " //evil.example", "/%0a/evil.example\n",
]


@pytest.mark.sqlite_only
def test_login_refuses_open_redirects(app, make):
    _, account = make.enterprise()
    for target in OPEN_REDIRECTS:
        client = app.test_client()
        token = csrf_token(client, "/login")
        response = client.post("/login", query_string={"next": target},
                               data={"email": account.email, "password": PASSWORD,
                                     "csrf_token": token})
        assert response.status_code == 302, target
        assert response.headers["Location"] == "/", target
        # Once logged in, /login?next=… sends the user on: home, not to the bad target.
        assert client.get("/login", query_string={"next": target}).headers["Location"] == "/"
        # The login page does not carry the bad target into its form either.
        assert "evil" not in text(app.test_client().get("/login", query_string={"next": target}))


def test_safe_next():
    assert safe_next("/office/banks?page=2") == "/office/banks?page=2"
    for bad in (None, "", "//x", "/\\x", "https://x", "x", "/\r\n/x", "/ok\x00"):
        assert safe_next(bad) is None


def test_logout_requires_post(client, make):
    _, account = make.enterprise()
    login(client, account)
    assert client.get("/logout").status_code == 405
    assert is_logged_in(client)


def test_logout_requires_the_csrf_token(client, make):
    _, account = make.enterprise()
    login(client, account)
    refused = client.post("/logout")
    assert refused.status_code == 400
    assert "安全令牌" in text(refused)
    assert is_logged_in(client)
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert is_logged_in(client)

    token = csrf_token(client, "/")  # the navbar's logout form
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert not is_logged_in(client)


def test_navbar_logout_is_a_post_form(client, make):
    _, account = make.enterprise()
    login(client, account)
    page = client.get("/").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/logout"[^>]*>(.*?)</form>', page, re.S)
    assert form and 'name="csrf_token"' in form.group(1)
    assert 'href="/logout"' not in page


def test_password_change_ends_other_sessions(app, client, make):
    _, account = make.enterprise()
    other = app.test_client()
    login(client, account)
    login(other, account)
    assert is_logged_in(other)

    response = submit(client, "/account/password",
                      {"current_password": PASSWORD, "new_password": "brand-new-pass-7",
                       "confirm": "brand-new-pass-7"})
    assert response.status_code == 302
    assert is_logged_in(client)  # this session carries on under the new token
    assert not is_logged_in(other)  # every other session has ended
    assert other.get("/enterprise").headers["Location"].startswith("/login")

    client.post("/logout", data={"csrf_token": csrf_token(client)})
    account.password = "brand-new-pass-7"
    login(client, account)
    assert is_logged_in(client)


def test_password_change_errors_beside_the_fields(client, make):
    _, account = make.enterprise()
    login(client, account)
    token_before = db.session.scalar(
        sa.select(User.session_token).where(User.id == account.user.id))
    response = submit(client, "/account/password",
                      {"current_password": "not-my-password", "new_password": "short",
                       "confirm": "short"})
    assert response.status_code == 422
    assert field_errors(response, "current_password") == ["当前密码不正确"]
    assert any("至少" in m for m in field_errors(response, "new_password"))
    mismatch = submit(client, "/account/password",
                      {"current_password": PASSWORD, "new_password": "brand-new-pass-7",
                       "confirm": "brand-new-pass-8"})
    assert field_errors(mismatch, "confirm") == ["两次输入的新密码不一致"]
    db.session.expire_all()
    assert db.session.get(User, account.user.id).session_token == token_before
    assert is_logged_in(client)


@pytest.mark.sqlite_only
def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


@pytest.mark.sqlite_only
def test_healthz_when_the_database_is_down(tmp_path, db_backend):
    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path}/missing-dir/none.db"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "error"
    # A page that needs the database says so in Chinese instead of a traceback, also to a
    # logged-in user (the error page must not need the database to show who is logged in).
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "a-session-token"
        session["_fresh"] = True
    page = client.get("/register")
    assert page.status_code == 503
    assert "服务暂时不可用" in text(page) and 'href="/"' in text(page)


@pytest.mark.sqlite_only
def test_landing_page_for_visitors(client):
    page = text(client.get("/"))
    assert "绿色金融银企对接平台" in page
    assert 'href="/register"' in page and 'href="/login"' in page


@pytest.mark.sqlite_only
def test_error_pages_are_chinese(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "页面或对象不存在" in text(response) and 'href="/"' in text(response)


def test_no_cdn_and_no_inline_scripts_styles_or_handlers():
    """A strict Content-Security-Policy and offline networks: everything comes from /static."""
    for path in (ROOT / "templates").rglob("*.html"):
        source = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT)
        assert not re.search(r"https?://", source), f"{name} links off-site"
        for tag in re.findall(r"<script\b[^>]*>", source):
            assert "src=" in tag, f"{name} has an inline <script>"
        assert not re.search(r"\son[a-z]+\s*=", source), f"{name} has an inline event handler"
        assert not re.search(r"\sstyle\s*=", source), f"{name} has an inline style"
    vendor = ROOT / "static" / "vendor" / "bootstrap"
    for asset in ("css/bootstrap.min.css", "js/bootstrap.bundle.min.js", "LICENSE"):
        assert (vendor / asset).is_file(), asset
    assert "v5.3." in (vendor / "css" / "bootstrap.min.css").read_text(encoding="utf-8")[:200]


@pytest.mark.sqlite_only
def test_static_assets_are_served(client):
    for path in ("/static/vendor/bootstrap/css/bootstrap.min.css",
                 "/static/vendor/bootstrap/js/bootstrap.bundle.min.js",
                 "/static/css/app.css", "/static/js/app.js"):
        response = client.get(path)
        assert response.status_code == 200, path
        response.close()


# --- 停用 / 启用 an account from the pages ----------------------------------------------------


def bank_staff(make):
    """(bank, its admin's account, a manager's account)"""
    office = make.office().user
    bank = make.bank(actor=office)
    admin = make.bank_user(bank, role="bank_admin", actor=office)
    manager = make.bank_user(bank, actor=office)
    db.session.commit()
    return bank, admin, manager


def switch(client, user_id: int, form_page: str, **data):
    return submit(client, f"/users/{user_id}/active", data, form_page=form_page)


def test_a_bank_admin_deactivates_a_manager_who_is_shut_out_at_once(app, client, make):
    from matchmaker.audit.models import AuditLog
    from matchmaker.claims.services import grab
    from tests.factories import api_token

    bank, admin, manager = bank_staff(make)
    make.product(bank, admin)
    _, owner = make.enterprise()
    grab(make.need(owner).id, manager.user)  # a lead in hand, to hand over
    managers_browser = app.test_client()
    login(managers_browser, manager)
    token = api_token(app.test_client(), manager)
    page_path = f"/bank/users/{manager.user.id}"

    login(client, admin)
    assert 'name="reason"' in text(client.get(page_path))
    response = switch(client, manager.user.id, page_path, active="0", reason="已离职",
                      back="bank_user")
    assert response.status_code == 302 and response.headers["Location"] == page_path
    page = text(client.get(page_path))
    assert "已停用" in page and "登录会话和 API 令牌已全部失效" in page
    assert "其名下还有 1 条在办线索" in page
    assert not is_logged_in(managers_browser)
    assert app.test_client().get("/api/v1/claims", headers=token).status_code == 401
    returning = app.test_client()
    login(returning, manager)
    assert not is_logged_in(returning)  # the login form refuses a deactivated account
    entry = db.session.scalars(sa.select(AuditLog).where(
        AuditLog.action == "user.deactivated",
        AuditLog.object_id == str(manager.user.id))).one()
    assert entry.actor_id == admin.user.id and entry.after["reason"] == "已离职"
    assert entry.after["tokens_revoked"] == 1

    switch(client, manager.user.id, page_path, active="1", back="bank_user")
    assert "其可重新登录" in text(client.get(page_path))
    login(managers_browser, manager)
    assert is_logged_in(managers_browser)


def test_who_may_switch_which_account(app, client, make):
    _, admin, manager = bank_staff(make)
    _, other_admin, other_manager = bank_staff(make)
    office = make.office()
    login(client, admin)
    # Another bank's manager and the office's accounts do not exist for a bank admin; its own
    # account is refused (nobody could switch it back on); a manager has no switch at all.
    assert switch(client, other_manager.user.id, "/bank/users", active="0").status_code == 404
    assert switch(client, office.user.id, "/bank/users", active="0").status_code == 404
    assert switch(client, admin.user.id, "/bank/users", active="0").status_code == 403
    managers_client = app.test_client()
    login(managers_client, manager)
    assert switch(managers_client, admin.user.id, "/account/password",
                  active="0").status_code == 403
    assert switch(client, manager.user.id, "/bank/users", active="maybe").status_code == 400
    db.session.expire_all()
    assert all(account.user.active for account in (admin, manager, other_admin, other_manager,
                                                   office))
    # The switch is shown where it works: on the manager's page, not on the admin's own.
    assert 'name="active"' in text(client.get(f"/bank/users/{manager.user.id}"))


def test_a_reason_too_long_is_refused_with_a_message_and_changes_nothing(client, make):
    _, admin, manager = bank_staff(make)
    login(client, admin)
    page_path = f"/bank/users/{manager.user.id}"
    response = switch(client, manager.user.id, page_path, active="0", reason="长" * 201,
                      back="bank_user")
    assert response.status_code == 302
    assert "停用原因最多 200 字" in text(client.get(page_path))
    db.session.expire_all()
    assert db.session.get(User, manager.user.id).active


def test_the_office_switches_accounts_from_its_lists(app, client, make):
    bank, _admin, manager = bank_staff(make)
    office, colleague = make.office(), make.office()
    login(client, office)
    office_users = db.session.scalar(sa.select(sa.func.count(User.id))
                                     .where(User.role.in_(("office", "admin"))))
    users_page = text(client.get("/office/users"))
    assert users_page.count('name="active"') == office_users - 1  # every row but its own
    response = switch(client, colleague.user.id, "/office/users", active="0",
                      back="office_users")
    assert response.headers["Location"] == "/office/users"
    response = switch(client, manager.user.id, f"/office/banks/{bank.id}", active="0",
                      back="office_bank")
    assert response.headers["Location"] == f"/office/banks/{bank.id}"
    assert "已停用" in text(client.get(f"/office/banks/{bank.id}"))
    db.session.expire_all()
    assert not db.session.get(User, colleague.user.id).active
    assert not db.session.get(User, manager.user.id).active
