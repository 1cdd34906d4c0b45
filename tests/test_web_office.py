"""The finance office's pages: banks, bank users and office users, through the real forms."""

from __future__ import annotations

import sqlalchemy as sa

from matchmaker.accounts.models import User
from matchmaker.banks.models import Bank
from matchmaker.extensions import db
from tests.factories import PASSWORD, login
from tests.webutil import (
    field_errors,
    input_value,
    selected,
    submit,
    text,
)


def bank_named(name: str) -> Bank | None:
    return db.session.scalar(sa.select(Bank).where(Bank.name == name))


def test_office_home_and_bank_list(client, make):
    bank = make.bank(name="湖州银行")
    make.bank_user(bank)
    login(client, make.office())
    home = text(client.get("/office/"))
    assert "金融办首页" in home and "入驻银行" in home
    listing = client.get("/office/banks")
    page = text(listing)
    assert listing.status_code == 200
    assert "湖州银行" in page and "农村商业银行" in page and "浙江省湖州市" in page
    assert f'href="/office/banks/{bank.id}"' in page


def test_office_creates_a_bank(client, make):
    login(client, make.office())
    form = client.get("/office/banks/new")
    assert input_value(form, "region_codes") == "330500"  # the default
    response = submit(client, "/office/banks/new",
                      {"name": "浙江安吉农村商业银行", "kind": "rural_commercial",
                       "region_codes": "330523，330522"})
    bank = bank_named("浙江安吉农村商业银行")
    assert bank is not None
    assert response.status_code == 302
    assert response.headers["Location"] == f"/office/banks/{bank.id}"
    assert bank.kind == "rural_commercial"
    assert bank.region_codes == ["330522", "330523"]
    detail = text(client.get(f"/office/banks/{bank.id}"))
    assert "浙江安吉农村商业银行" in detail and "浙江省湖州市安吉县" in detail
    assert "已创建银行" in detail


def test_bank_form_errors_keep_the_input(client, make):
    make.bank(name="湖州银行")
    login(client, make.office())
    response = submit(client, "/office/banks/new",
                      {"name": "湖州银行", "kind": "city_commercial", "region_codes": "330500"})
    assert response.status_code == 422
    assert field_errors(response, "name") == ["该银行已存在"]
    assert selected(response, "kind") == "city_commercial"

    response = submit(client, "/office/banks/new",
                      {"name": "新银行", "kind": "", "region_codes": "330500 999999"})
    assert response.status_code == 422
    assert field_errors(response, "kind") == ["请选择银行类型"]
    assert input_value(response, "region_codes") == "330500 999999"
    assert bank_named("新银行") is None

    response = submit(client, "/office/banks/new",
                      {"name": "新银行", "kind": "village", "region_codes": "330500 999999"})
    assert field_errors(response, "region_codes") == ["行政区划代码不存在：999999"]
    assert input_value(response, "name") == "新银行"
    assert bank_named("新银行") is None


def test_office_creates_bank_users(client, make):
    bank = make.bank(region_codes=("330500",))
    login(client, make.office())
    form = client.get(f"/office/banks/{bank.id}/users/new")
    assert form.status_code == 200
    assert input_value(form, "region_codes") == "330500"  # the bank's regions, prefilled

    response = submit(client, f"/office/banks/{bank.id}/users/new",
                      {"role": "bank_admin", "name": "赵行长", "email": "Zhao@Bank.example",
                       "phone": "13800000000", "region_codes": "", "password": PASSWORD,
                       "confirm": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/office/banks/{bank.id}"
    admin = db.session.scalar(sa.select(User).where(User.email == "zhao@bank.example"))
    assert (admin.role, admin.bank_id, admin.phone) == ("bank_admin", bank.id, "13800000000")

    response = submit(client, f"/office/banks/{bank.id}/users/new",
                      {"role": "bank_manager", "name": "钱经理", "email": "qian@bank.example",
                       "region_codes": "330502 330503", "password": PASSWORD,
                       "confirm": PASSWORD})
    assert response.status_code == 302
    manager = db.session.scalar(sa.select(User).where(User.email == "qian@bank.example"))
    assert manager.role == "bank_manager" and manager.region_codes == ["330502", "330503"]

    detail = text(client.get(f"/office/banks/{bank.id}"))
    assert "赵行长" in detail and "银行管理员" in detail
    assert "钱经理" in detail and "浙江省湖州市吴兴区" in detail


def test_bank_user_errors(client, make):
    bank = make.bank(region_codes=("330500",))
    taken = make.office()
    login(client, make.office())
    response = submit(client, f"/office/banks/{bank.id}/users/new",
                      {"role": "bank_manager", "name": "孙经理", "email": "sun@bank.example",
                       "region_codes": "330100", "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 422
    assert field_errors(response, "region_codes") == ["浙江省杭州市 不在所属银行的服务地区内"]
    assert input_value(response, "name") == "孙经理"

    response = submit(client, f"/office/banks/{bank.id}/users/new",
                      {"role": "bank_manager", "name": "孙经理", "email": taken.email,
                       "region_codes": "330502", "password": PASSWORD, "confirm": PASSWORD})
    assert field_errors(response, "email") == ["该邮箱已注册"]

    response = submit(client, f"/office/banks/{bank.id}/users/new",
                      {"role": "enterprise", "name": "孙经理", "email": "sun@bank.example",
                       "region_codes": "330502", "password": PASSWORD, "confirm": PASSWORD})
    assert field_errors(response, "role") == ["不是有效的选择。"]
    assert db.session.scalar(sa.select(User).where(User.email == "sun@bank.example")) is None


def test_unknown_bank_is_404(client, make):
    login(client, make.office())
    assert client.get("/office/banks/999999").status_code == 404
    assert client.get("/office/banks/999999/users/new").status_code == 404


def test_office_users(client, make):
    office = make.office(name="金融办 王五")
    login(client, office)
    assert "金融办 王五" in text(client.get("/office/users"))
    response = submit(client, "/office/users/new",
                      {"name": "金融办 赵六", "email": "zhao6@office.example",
                       "password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/office/users"
    created = db.session.scalar(sa.select(User).where(User.email == "zhao6@office.example"))
    assert created.role == "office" and created.office_id == office.user.office_id
    assert "金融办 赵六" in text(client.get("/office/users"))

    response = submit(client, "/office/users/new",
                      {"name": "", "email": "zhao6@office.example", "password": "short",
                       "confirm": "short"})
    assert response.status_code == 422
    assert field_errors(response, "name") == ["请输入姓名"]
    assert any("至少" in m for m in field_errors(response, "password"))


def test_platform_admin_uses_the_office_pages(client, make):
    login(client, make.platform_admin())
    assert client.get("/office/banks").status_code == 200
    response = submit(client, "/office/banks/new",
                      {"name": "运维测试银行", "kind": "other", "region_codes": "330000"})
    assert response.status_code == 302
    assert bank_named("运维测试银行") is not None
