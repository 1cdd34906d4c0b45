"""API tokens: issue, use, expire, revoke; 401 and 403 as JSON; no session cookie, no CSRF."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from matchmaker.accounts.models import ApiToken
from matchmaker.api.auth import token_required
from matchmaker.audit.models import AuditLog
from matchmaker.audit.services import current_actor
from matchmaker.database import utcnow
from matchmaker.extensions import db
from tests.factories import PASSWORD, api_token


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def issue(client, email: str, password: str = PASSWORD):
    return client.post("/api/v1/tokens", json={"email": email, "password": password})


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["errors"], dict)
    return body


# --- issuing ---------------------------------------------------------------------------------


def test_token_is_issued_for_good_credentials_and_authenticates(app, client, make):
    _, account = make.enterprise()
    before = utcnow()
    response = issue(client, account.email)
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"token", "expires_at"}
    assert len(body["token"]) >= 32
    expires = datetime.fromisoformat(body["expires_at"])
    assert expires.utcoffset() == timedelta(0)
    ttl = timedelta(hours=app.config["API_TOKEN_TTL_HOURS"])
    assert before + ttl - timedelta(minutes=1) <= expires <= utcnow() + ttl + timedelta(minutes=1)

    me = client.get("/api/v1/me", headers=bearer(body["token"]))
    assert me.status_code == 200
    assert me.get_json()["email"] == account.email
    # Only a digest is stored, never the token itself.
    stored = db.session.scalars(sa.select(ApiToken.token_hash)).all()
    assert body["token"] not in stored and len(stored) == 1


def test_token_email_is_case_insensitive(client, make):
    _, account = make.enterprise()
    assert issue(client, "  " + account.email.upper()).status_code == 201


def test_bad_credentials_get_the_same_401(client, make):
    _, account = make.enterprise()
    wrong_password = assert_error(issue(client, account.email, "not-the-password-1"), 401)
    unknown_email = assert_error(issue(client, "nobody@example.com"), 401)
    assert wrong_password == unknown_email
    assert wrong_password["errors"] == {}
    assert db.session.scalar(sa.select(sa.func.count(ApiToken.id))) == 0


def test_inactive_user_gets_no_token_and_loses_existing_ones(client, make):
    _, account = make.enterprise()
    headers = api_token(client, account)
    account.user.active = False
    db.session.commit()
    assert_error(issue(client, account.email), 401)
    assert_error(client.get("/api/v1/me", headers=headers), 401)


@pytest.mark.parametrize("body, fields", [
    ({}, {"email", "password"}),
    ({"email": "a@example.com"}, {"password"}),
    ({"email": 42, "password": ["x"]}, {"email", "password"}),
    ({"email": "", "password": PASSWORD}, {"email"}),
    ({"email": "a@example.com", "password": "x" * 100_000}, {"password"}),
])
def test_token_request_validation(client, body, fields):
    errors = assert_error(client.post("/api/v1/tokens", json=body), 422)["errors"]
    assert set(errors) == fields


def test_token_request_with_malformed_json_is_400(client):
    response = client.post("/api/v1/tokens", data='{"email": "a@example.com",',
                           content_type="application/json")
    assert_error(response, 400)


# --- expiry and revocation ---------------------------------------------------------------------


def test_token_expires_after_the_configured_ttl(app, client, make):
    _, account = make.enterprise()
    app.config["API_TOKEN_TTL_HOURS"] = 0  # expires the moment it is issued
    token = issue(client, account.email).get_json()["token"]
    body = assert_error(client.get("/api/v1/me", headers=bearer(token)), 401)
    assert "过期" in body["error"]


def test_token_stops_working_once_expires_at_passes(client, make):
    _, account = make.enterprise()
    headers = api_token(client, account)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    db.session.execute(sa.update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert_error(client.get("/api/v1/me", headers=headers), 401)


def test_delete_revokes_only_the_presented_token(client, make):
    _, account = make.enterprise()
    first, second = api_token(client, account), api_token(client, account)

    response = client.delete("/api/v1/tokens", headers=first)
    assert response.status_code == 204
    assert response.get_data() == b""
    revoked = db.session.scalars(sa.select(ApiToken).where(ApiToken.revoked_at.is_not(None)))
    assert len(revoked.all()) == 1

    assert_error(client.get("/api/v1/me", headers=first), 401)
    assert_error(client.delete("/api/v1/tokens", headers=first), 401)
    assert client.get("/api/v1/me", headers=second).status_code == 200


def test_delete_without_a_token_is_401(client):
    assert_error(client.delete("/api/v1/tokens"), 401)


# --- 401 shapes ------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    "Bearer not-a-real-token",
    "Bearer two words",
    "Bearer " + "x" * 5000,
])
@pytest.mark.sqlite_only  # input validation: the same on every backend
def test_missing_or_bad_authorization_is_401_json(client, make, header):
    make.enterprise()
    headers = {} if header is None else {"Authorization": header}
    response = client.get("/api/v1/me", headers=headers)
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_bearer_scheme_is_case_insensitive(client, make):
    _, account = make.enterprise()
    token = issue(client, account.email).get_json()["token"]
    response = client.get("/api/v1/me", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200


def test_session_cookie_does_not_authenticate_the_api(app, client, make):
    """A logged-in browser calling the (CSRF-exempt) API is still anonymous there."""
    from flask_login import current_user

    office = make.office()
    app.add_url_rule("/_probe/whoami", "probe_whoami",
                     lambda: current_user.email if current_user.is_authenticated else "anonymous")
    with client.session_transaction() as session:
        session["_user_id"] = office.user.session_token
        session["_fresh"] = True
    # The cookie does log the user in on a web page…
    assert client.get("/_probe/whoami").get_data(as_text=True) == office.email
    # …but not in the API.
    assert_error(client.get("/api/v1/me"), 401)
    response = client.post("/api/v1/banks", json={"name": "会话银行", "kind": "village",
                                                  "region_codes": ["330500"]})
    assert_error(response, 401)


def test_api_posts_need_no_csrf_token(app, client, make):
    assert app.config.get("WTF_CSRF_ENABLED", True), "CSRF must be on for this test to mean much"
    office = make.office()
    # A web form POST without a CSRF token is refused…
    app.add_url_rule("/_probe/form", "probe_form", lambda: "ok", methods=["POST"])
    assert client.post("/_probe/form", data={"x": "1"}).status_code == 400
    # …an API POST without one is not.
    headers = api_token(client, office)
    response = client.post("/api/v1/banks", headers=headers,
                           json={"name": "无 CSRF 银行", "kind": "village",
                                 "region_codes": ["330500"]})
    assert response.status_code == 201, response.get_json()


# --- the decorator itself ---------------------------------------------------------------------


def test_token_required_sets_the_audit_actor_and_checks_roles(app, client, make):
    _, enterprise = make.enterprise()
    office = make.office()

    @token_required("office")
    def office_only():
        return {"actor": current_actor().id}

    app.add_url_rule("/api/v1/_probe/office", "probe_office", office_only)
    ok = client.get("/api/v1/_probe/office", headers=api_token(client, office))
    assert ok.status_code == 200
    assert ok.get_json() == {"actor": office.user.id}

    body = assert_error(client.get("/api/v1/_probe/office", headers=api_token(client, enterprise)),
                        403)
    assert body["errors"] == {}
    assert_error(client.get("/api/v1/_probe/office"), 401)


def test_actions_through_the_api_are_audited_with_the_token_user(client, make):
    office = make.office()
    response = client.post("/api/v1/banks", headers=api_token(client, office),
                           json={"name": "审计银行", "kind": "village",
                                 "region_codes": ["330500"]})
    assert response.status_code == 201
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "bank.created"))
    assert entry.actor_id == office.user.id
    assert entry.object_id == str(response.get_json()["id"])


# --- /me ---------------------------------------------------------------------------------------


def test_me_for_an_enterprise_user(client, make):
    enterprise, account = make.enterprise()
    body = client.get("/api/v1/me", headers=api_token(client, account)).get_json()
    assert body == {
        "id": account.user.id, "email": account.email, "name": account.user.name,
        "role": "enterprise", "enterprise_id": enterprise.id, "bank_id": None,
        "office_id": None, "region_codes": [],
        "organisation": {"type": "enterprise", "id": enterprise.id, "name": enterprise.name},
    }


def test_me_for_a_bank_manager_lists_its_regions(client, make):
    bank = make.bank(region_codes=["330500"])
    manager = make.bank_user(bank, region_codes=["330502", "330503"])
    body = client.get("/api/v1/me", headers=api_token(client, manager)).get_json()
    assert body["role"] == "bank_manager"
    assert body["bank_id"] == bank.id
    assert body["region_codes"] == ["330502", "330503"]
    assert body["organisation"] == {"type": "bank", "id": bank.id, "name": bank.name}


def test_me_for_office_and_platform_admin(client, make):
    office = make.office()
    body = client.get("/api/v1/me", headers=api_token(client, office)).get_json()
    assert body["organisation"]["type"] == "office"
    assert body["organisation"]["id"] == body["office_id"] == office.user.office_id

    admin = make.platform_admin()
    body = client.get("/api/v1/me", headers=api_token(client, admin)).get_json()
    assert body["role"] == "admin"
    assert body["organisation"] == {"type": "platform", "id": None, "name": "GreenMatch"}
