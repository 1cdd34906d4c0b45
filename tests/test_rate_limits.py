"""Anti-automation: a locked account after repeated wrong passwords, and per-address limits on the
login form, the token endpoint and registration (in Redis when REDIS_URL is set)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from matchmaker import config as config_module
from matchmaker import create_app
from matchmaker.accounts.models import User
from matchmaker.audit.models import AuditLog
from matchmaker.database import utcnow
from matchmaker.extensions import db
from tests.conftest import base_config
from tests.factories import login
from tests.webutil import csrf_token, is_logged_in, text

DEFAULTS = config_module.load("/nonexistent")


def wrong(account):
    return type(account)(account.user, account.email, "not-the-password-1")


def locked(email: str) -> bool:
    until = db.session.scalar(sa.select(User.locked_until).where(User.email == email))
    return until is not None and until > utcnow()


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(app, make):
    _, account = make.enterprise()
    for attempt in range(1, 5):
        page = login(app.test_client(), wrong(account))
        assert "邮箱或密码不正确" in text(page), attempt
        assert not locked(account.email)
    page = login(app.test_client(), wrong(account))
    assert page.status_code == 429
    assert "登录失败次数过多，账户已临时锁定" in text(page)
    assert locked(account.email)

    client = app.test_client()
    page = login(client, account)  # the right password, during the lock
    assert page.status_code == 429 and "账户已临时锁定" in text(page)
    assert not is_logged_in(client)
    # The token endpoint shares the lock, and says when to come back.
    response = client.post("/api/v1/tokens", json={"email": account.email,
                                                   "password": account.password})
    assert response.status_code == 429
    assert "账户已临时锁定" in response.get_json()["error"]
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60 + 1

    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "user.locked"))
    assert entry.object_id == str(account.user.id) and entry.after["failures"] == 5


def test_the_lock_opens_by_itself(app, make):
    _, account = make.enterprise()
    for _ in range(5):
        login(app.test_client(), wrong(account))
    assert locked(account.email)
    db.session.execute(sa.update(User).where(User.email == account.email)
                       .values(locked_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    client = app.test_client()
    login(client, account)
    assert is_logged_in(client)
    user = db.session.scalar(sa.select(User).where(User.email == account.email))
    assert user.failed_logins == 0 and user.locked_until is None


def test_a_good_login_resets_the_count(app, make):
    _, account = make.enterprise()
    for _ in range(4):
        login(app.test_client(), wrong(account))
    client = app.test_client()
    login(client, account)
    assert is_logged_in(client)
    for _ in range(4):
        login(app.test_client(), wrong(account))
    assert not locked(account.email)


def test_unknown_emails_get_the_same_answer_and_lock_nothing(app):
    client = app.test_client()
    for _ in range(8):
        response = client.post("/api/v1/tokens", json={"email": "nobody@example.com",
                                                       "password": "whatever-123"})
        assert response.status_code == 401
        assert response.get_json()["error"] == "邮箱或密码不正确"


def limited_app(tmp_path, sqlite_template, **config):
    import shutil

    path = tmp_path / "limits.db"
    shutil.copyfile(sqlite_template, path)
    overrides = base_config(tmp_path, f"sqlite:///{path}")
    overrides.update(LOGIN_RATE_LIMIT=DEFAULTS["LOGIN_RATE_LIMIT"],
                     SIGNUP_RATE_LIMIT=DEFAULTS["SIGNUP_RATE_LIMIT"], **config)
    return create_app(overrides)


def per_minute(limit: str) -> int:
    first = limit.split(";")[0]
    assert first.endswith("per minute"), first
    return int(first.split()[0])


@pytest.mark.sqlite_only
def test_login_attempts_per_address_are_limited(tmp_path, sqlite_template, db_backend):
    app = limited_app(tmp_path, sqlite_template)
    allowed = per_minute(DEFAULTS["LOGIN_RATE_LIMIT"])
    client = app.test_client()
    body = {"email": "guess@example.com", "password": "guess-12345"}
    form = body | {"csrf_token": csrf_token(client, "/login")}
    # The form and the token endpoint count together.
    for i in range(allowed):
        if i % 2:
            assert client.post("/api/v1/tokens", json=body).status_code == 401
        else:
            assert "邮箱或密码不正确" in text(client.post("/login", data=form))
    page = client.post("/login", data=form)
    assert page.status_code == 429
    assert "请求过于频繁" in text(page) and int(page.headers["Retry-After"]) > 0
    answer = client.post("/api/v1/tokens", json=body)
    assert answer.status_code == 429 and answer.get_json()["error"]
    # Reading the form is not limited, and another address is not affected.
    assert client.get("/login").status_code == 200
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert other.post("/api/v1/tokens", json=body).status_code == 401


@pytest.mark.sqlite_only
def test_registrations_per_address_are_limited(tmp_path, sqlite_template, db_backend):
    app = limited_app(tmp_path, sqlite_template)
    allowed = per_minute(DEFAULTS["SIGNUP_RATE_LIMIT"])
    client = app.test_client()
    for _ in range(allowed):
        assert client.post("/api/v1/enterprises", json={}).status_code == 422
    response = client.post("/api/v1/enterprises", json={})
    assert response.status_code == 429


@pytest.mark.sqlite_only
@pytest.mark.redis
def test_limits_are_kept_in_redis_across_processes(tmp_path, sqlite_template, db_backend,
                                                   redis_url):
    """Counted in Redis, the limit holds for every web process: a new app (a new process) sees
    the attempts the first one counted."""
    from redis import Redis

    body = {"email": "guess@example.com", "password": "guess-12345"}
    allowed = per_minute(DEFAULTS["LOGIN_RATE_LIMIT"])
    first = limited_app(tmp_path, sqlite_template, REDIS_URL=redis_url)
    for _ in range(allowed):
        assert first.test_client().post("/api/v1/tokens", json=body).status_code == 401
    assert Redis.from_url(redis_url).keys("*greenmatch-limits*")
    second = limited_app(tmp_path, sqlite_template, REDIS_URL=redis_url)
    assert second.test_client().post("/api/v1/tokens", json=body).status_code == 429


@pytest.mark.sqlite_only
def test_logins_still_work_and_are_limited_when_redis_is_down(tmp_path, sqlite_template,
                                                              db_backend):
    app = limited_app(tmp_path, sqlite_template, RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0")
    body = {"email": "guess@example.com", "password": "guess-12345"}
    client = app.test_client()
    for _ in range(per_minute(DEFAULTS["LOGIN_RATE_LIMIT"])):
        assert client.post("/api/v1/tokens", json=body).status_code == 401
    assert client.post("/api/v1/tokens", json=body).status_code == 429


@pytest.mark.sqlite_only
def test_behind_a_proxy_the_forwarded_address_counts(tmp_path, sqlite_template, db_backend):
    app = limited_app(tmp_path, sqlite_template, PROXY_COUNT=1)
    body = {"email": "guess@example.com", "password": "guess-12345"}
    allowed = per_minute(DEFAULTS["LOGIN_RATE_LIMIT"])
    client = app.test_client()
    spoofer = {"X-Forwarded-For": "203.0.113.9"}
    for _ in range(allowed):
        client.post("/api/v1/tokens", json=body, headers=spoofer)
    assert client.post("/api/v1/tokens", json=body, headers=spoofer).status_code == 429
    # Another client behind the same proxy (the proxy's own address is the same).
    assert client.post("/api/v1/tokens", json=body,
                       headers={"X-Forwarded-For": "203.0.113.10"}).status_code == 401
