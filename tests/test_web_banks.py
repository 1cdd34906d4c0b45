"""Bank users' pages: a bank admin manages its own bank's 客户经理 and nobody else's."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from matchmaker.accounts.models import User
from matchmaker.extensions import db
from tests.factories import PASSWORD, login
from tests.webutil import (
    field_errors,
    input_value,
    submit,
    text,
)


def manager_form(**overrides) -> dict:
    data = {"name": "周经理", "email": "zhou@bank.example", "phone": "13900000000",
            "region_codes": "330502", "password": PASSWORD, "confirm": PASSWORD}
    data.update(overrides)
    return data


def test_bank_home_shows_the_bank_and_coverage(client, make):
    bank = make.bank(name="湖州农商银行", region_codes=("330500",))
    manager = make.bank_user(bank, region_codes=["330502"])
    login(client, manager)
    page = text(client.get("/bank/"))
    assert "湖州农商银行" in page and "农村商业银行" in page
    assert "浙江省湖州市" in page and "浙江省湖州市吴兴区" in page
    assert 'href="/bank/users"' not in page  # managers do not manage users


def test_bank_admin_creates_a_manager_for_its_own_bank(client, make):
    bank = make.bank(region_codes=("330500",))
    other_bank = make.bank()
    admin = make.bank_user(bank, role="bank_admin")
    login(client, admin)
    form = client.get("/bank/users/new")
    assert input_value(form, "region_codes") == "330500"
    assert 'name="role"' not in text(form)  # a bank admin creates 客户经理 only

    # A bank_id smuggled into the form changes nothing: the bank is the admin's own.
    response = submit(client, "/bank/users/new", manager_form(bank_id=str(other_bank.id),
                                                              role="bank_admin"))
    assert response.status_code == 302
    manager = db.session.scalar(sa.select(User).where(User.email == "zhou@bank.example"))
    assert (manager.bank_id, manager.role) == (bank.id, "bank_manager")
    assert manager.region_codes == ["330502"]
    assert response.headers["Location"] == f"/bank/users/{manager.id}"

    listing = text(client.get("/bank/users"))
    assert "周经理" in listing and "浙江省湖州市吴兴区" in listing
    detail = client.get(f"/bank/users/{manager.id}")
    assert detail.status_code == 200 and "zhou@bank.example" in text(detail)


def test_bank_admin_form_errors(client, make):
    bank = make.bank(region_codes=("330500",))
    login(client, make.bank_user(bank, role="bank_admin"))
    response = submit(client, "/bank/users/new", manager_form(region_codes="330100"))
    assert response.status_code == 422
    assert field_errors(response, "region_codes") == ["浙江省杭州市 不在所属银行的服务地区内"]
    assert input_value(response, "email") == "zhou@bank.example"
    response = submit(client, "/bank/users/new", manager_form(region_codes=""))
    assert field_errors(response, "region_codes") == ["请至少选择一个地区"]
    assert db.session.scalar(sa.select(User).where(User.email == "zhou@bank.example")) is None


def test_bank_admin_never_sees_or_touches_another_banks_users(client, make):
    bank = make.bank()
    other_bank = make.bank()
    stranger = make.bank_user(other_bank, role="bank_manager")
    admin = make.bank_user(bank, role="bank_admin")
    login(client, admin)

    assert stranger.user.name not in text(client.get("/bank/users"))
    assert client.get(f"/bank/users/{stranger.user.id}").status_code == 404
    # The office's pages for banks are closed to bank admins, for their own bank too.
    for bank_id in (other_bank.id, bank.id):
        assert client.get(f"/office/banks/{bank_id}").status_code == 403
        assert client.get(f"/office/banks/{bank_id}/users/new").status_code == 403
        response = submit(client, f"/office/banks/{bank_id}/users/new",
                          {**manager_form(email=f"sneaky{bank_id}@bank.example"),
                           "role": "bank_admin"}, form_page="/bank/users/new")
        assert response.status_code == 403
    assert db.session.scalar(
        sa.select(sa.func.count(User.id)).where(User.email.like("sneaky%"))) == 0


def test_bank_manager_cannot_manage_users(client, make):
    bank = make.bank()
    colleague = make.bank_user(bank)
    login(client, make.bank_user(bank))
    assert client.get("/bank/users").status_code == 403
    assert client.get("/bank/users/new").status_code == 403
    assert client.get(f"/bank/users/{colleague.user.id}").status_code == 403
    response = submit(client, "/bank/users/new", manager_form(), form_page="/bank/")
    assert response.status_code == 403
    assert db.session.scalar(sa.select(User).where(User.email == "zhou@bank.example")) is None


@pytest.mark.sqlite_only
def test_lead_inbox_lists_eligible_open_needs_for_bank_users_only(app, client, make):
    from matchmaker.needs.services import create_need
    from matchmaker.products.services import create_product
    from tests.factories import NEED, PRODUCT, login

    bank = make.bank()
    admin = make.bank_user(bank, role="bank_admin")
    manager = make.bank_user(bank)
    create_product(bank, PRODUCT, admin.user)
    _, owner = make.enterprise()
    create_need(owner.user, NEED)
    create_need(owner.user, NEED | {"title": "超出额度的大项目", "amount_wan": "5000"})
    login(client, manager)
    page = client.get("/bank/leads").get_data(as_text=True)
    assert NEED["title"] in page and "可抢单" in page
    assert "超出额度的大项目" not in page
    other = client.get("/bank/leads?category=5").get_data(as_text=True)
    assert NEED["title"] not in other
    assert client.get("/bank/leads?page=abc").status_code == 200
    client.post("/logout")
    enterprise_client = app.test_client()
    login(enterprise_client, owner)
    assert enterprise_client.get("/bank/leads").status_code == 403
