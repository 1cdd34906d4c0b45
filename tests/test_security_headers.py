"""Every answer — pages, the API, static files, errors — carries the security headers; HSTS only
in production."""

from __future__ import annotations

import pytest

from matchmaker import create_app
from matchmaker.web.security import CONTENT_SECURITY_POLICY

PATHS = ["/", "/login", "/products", "/api/v1/openapi.json", "/api/v1/me", "/no-such-page",
         "/static/css/app.css"]


@pytest.mark.sqlite_only
@pytest.mark.parametrize("path", PATHS)
def test_every_answer_carries_the_headers(client, path):
    response = client.get(path)
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY  # no 'unsafe-inline' anywhere
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # development: plain HTTP


@pytest.mark.sqlite_only
def test_production_adds_hsts(app_config):
    app = create_app(app_config | {"ENV_NAME": "production"})
    response = app.test_client().get("/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY



def session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "no session cookie was set"
    return cookies[0]


@pytest.mark.sqlite_only
def test_the_session_cookie_is_httponly_and_samesite(client):
    cookie = session_cookie(client.get("/login"))  # the form's CSRF secret starts a session
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development runs on plain HTTP


@pytest.mark.sqlite_only
def test_production_cookies_are_secure(app_config, monkeypatch):
    monkeypatch.setenv("MATCHMAKER_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "k" * 16 + "-a-strong-random-production-secret")
    overrides = {k: v for k, v in app_config.items() if k != "SECRET_KEY"}
    app = create_app(overrides)
    cookie = session_cookie(app.test_client().get("/login"))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
