"""Every page refuses the roles it is not for: 403 when logged in, the login page when not."""

from __future__ import annotations

from urllib.parse import quote

import sqlalchemy as sa

from matchmaker.banks.models import Bank
from matchmaker.extensions import db
from tests.factories import login
from tests.webutil import submit

ROLES = ("enterprise", "bank_manager", "bank_admin", "office", "admin")
OFFICE = {"office", "admin"}
BANK = {"bank_manager", "bank_admin"}


def pages(bank_id: int, manager_id: int) -> dict[str, set[str]]:
    """Each page and the roles that may see it."""
    return {
        "/enterprise": {"enterprise"},
        "/account/password": set(ROLES),
        "/office/": OFFICE,
        "/office/banks": OFFICE,
        "/office/banks/new": OFFICE,
        f"/office/banks/{bank_id}": OFFICE,
        f"/office/banks/{bank_id}/users/new": OFFICE,
        "/office/users": OFFICE,
        "/office/users/new": OFFICE,
        "/office/audit": OFFICE,
        "/office/audit/export.csv": OFFICE,
        "/bank/": BANK,
        "/bank/users": {"bank_admin"},
        "/bank/users/new": {"bank_admin"},
        f"/bank/users/{manager_id}": {"bank_admin"},
    }


def test_role_matrix(app, make):
    bank = make.bank()
    manager = make.bank_user(bank, role="bank_manager")
    accounts = {
        "enterprise": make.enterprise()[1],
        "bank_manager": manager,
        "bank_admin": make.bank_user(bank, role="bank_admin"),
        "office": make.office(),
        "admin": make.platform_admin(),
    }
    matrix = pages(bank.id, manager.user.id)

    anonymous = app.test_client()
    for path in matrix:
        response = anonymous.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == f"/login?next={quote(path, safe='')}", path

    for role, account in accounts.items():
        client = app.test_client()
        login(client, account)
        for path, allowed in matrix.items():
            status = client.get(path).status_code
            expected = 200 if role in allowed else 403
            assert status == expected, f"{role} GET {path}: {status}, expected {expected}"


def test_wrong_roles_cannot_post_to_office_forms(app, make):
    bank_admin = make.bank_user(make.bank(), role="bank_admin")
    for account in (make.enterprise()[1], bank_admin):
        client = app.test_client()
        login(client, account)
        response = submit(client, "/office/banks/new",
                          {"name": "冒名银行", "kind": "other", "region_codes": "330500"},
                          form_page="/")
        assert response.status_code == 403
        response = submit(client, "/office/users/new",
                          {"name": "冒名", "email": "fake@office.example",
                           "password": "correct-horse-42", "confirm": "correct-horse-42"},
                          form_page="/")
        assert response.status_code == 403
    assert db.session.scalar(sa.select(Bank).where(Bank.name == "冒名银行")) is None


def test_home_links_follow_the_role(app, make):
    bank = make.bank()
    expectations = {
        "enterprise": (make.enterprise()[1], ['href="/enterprise"'], ['href="/office/']),
        "bank_manager": (make.bank_user(bank), ['href="/bank/"'],
                         ['href="/bank/users"', 'href="/office/']),
        "bank_admin": (make.bank_user(bank, role="bank_admin"),
                       ['href="/bank/"', 'href="/bank/users"'], ['href="/office/']),
        "office": (make.office(), ['href="/office/banks"', 'href="/office/users"'],
                   ['href="/bank/', 'href="/enterprise"']),
    }
    for role, (account, present, absent) in expectations.items():
        client = app.test_client()
        login(client, account)
        page = client.get("/").get_data(as_text=True)
        for link in present:
            assert link in page, f"{role} misses {link}"
        for link in absent:
            assert link not in page, f"{role} sees {link}"
        assert 'href="/register"' not in page  # no registration link once logged in
