"""Hostile text is stored verbatim and shown as text: a need titled <script>…</script>, a
description that looks like SQL, a contact name with an <img onerror>, on every page and answer
that shows them, to each role that sees them."""

from __future__ import annotations

import logging

import pytest

from matchmaker.claims.services import grab
from tests import factories
from tests.webutil import text

TITLE = "<script>alert(1)</script>光伏"
DESCRIPTION = "'; DROP TABLE needs; -- \" OR 1=1 /* 屋顶光伏 */"
CONTACT = "<img src=x onerror=alert(2)>王"
MARKUP = ("<script>alert(1)</script>", "<img src=x onerror=alert(2)>")


@pytest.fixture
def world(make):
    bank = make.bank()
    admin = make.bank_user(bank, role="bank_admin")
    manager = make.bank_user(bank)
    make.product(bank, admin)
    _, owner = make.enterprise(contact_name=CONTACT)
    need = make.need(owner, title=TITLE, description=DESCRIPTION)
    grab(need.id, manager.user)
    return {"owner": owner, "manager": manager, "admin": admin, "office": make.office(),
            "need": need}


def pages(need_id: int) -> dict[str, list[str]]:
    return {
        "owner": ["/needs/mine", f"/needs/{need_id}", "/notifications"],
        "manager": ["/bank/leads", f"/needs/{need_id}", "/claims/mine", "/notifications"],
        "admin": ["/claims/mine", f"/needs/{need_id}"],
        "office": ["/office/queue", f"/needs/{need_id}", f"/office/needs/{need_id}/trail"],
    }


def test_markup_is_shown_as_text_on_every_page(app, world):
    shown = 0
    for role, paths in pages(world["need"].id).items():
        client = app.test_client()
        factories.login(client, world[role])
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, f"{role} {path}"
            raw = response.get_data(as_text=True)
            for markup in MARKUP:
                assert markup not in raw, f"{role} {path} renders {markup} as markup"
            page = text(response)
            if TITLE in page:
                shown += 1
                assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
            if DESCRIPTION in page or CONTACT in page:
                shown += 1
    # The hostile strings did appear (escaped) on most of these pages: the test looked at them.
    assert shown >= 8


def test_the_api_returns_them_verbatim(app, client, world):
    need_id = world["need"].id
    for role in ("owner", "manager", "office"):
        headers = factories.api_token(client, world[role])
        need = client.get(f"/api/v1/needs/{need_id}", headers=headers).get_json()
        assert need["title"] == TITLE and need["description"] == DESCRIPTION, role
    claims = client.get("/api/v1/claims", headers=factories.api_token(client, world["manager"]))
    assert claims.get_json()["items"][0]["contact"]["contact_name"] == CONTACT
    # JSON is served as JSON (never sniffed as HTML), with no markup interpreted by the browser.
    response = client.get(f"/api/v1/needs/{need_id}", headers=factories.api_token(
        client, world["owner"]))
    assert response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_search_for_sql_finds_text_and_breaks_nothing(app, client, world):
    headers = factories.api_token(client, world["office"])
    response = client.get("/api/v1/needs", headers=headers,
                          query_string={"q": "'; DROP TABLE needs; --"})
    assert response.status_code in (200, 422)
    assert client.get(f"/api/v1/needs/{world['need'].id}", headers=headers).status_code == 200


@pytest.mark.sqlite_only
def test_passwords_and_tokens_never_reach_the_logs(app, client, make, caplog):
    """Log in (right and wrong), take and use a token, change the password, set a webhook: no
    password, token or webhook secret in any log record, at any level."""
    from matchmaker.notifications.settings import configure_webhook

    caplog.set_level(logging.DEBUG)
    _, account = make.enterprise()
    bank = make.bank()
    admin = make.bank_user(bank, role="bank_admin")
    factories.login(app.test_client(), account)
    factories.login(app.test_client(), factories.Account(account.user, account.email,
                                                         "wrong-password-77"))
    token = client.post("/api/v1/tokens", json={"email": account.email,
                                                "password": account.password}).get_json()
    client.get("/api/v1/me", headers={"Authorization": f"Bearer {token['token']}"})
    client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-real-token-value"})
    web = app.test_client()
    factories.login(web, account)
    from tests.webutil import submit

    submit(web, "/account/password", {"current_password": account.password,
                                      "new_password": "a-new-password-2026",
                                      "confirm": "a-new-password-2026"})
    secret = configure_webhook(bank, admin.user, "https://hooks.bank.example.com/gm",
                               ["new_lead"], True).secret
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for value in (account.password, "wrong-password-77", token["token"],
                  "not-a-real-token-value", "a-new-password-2026", secret):
        assert value not in logged
