"""Enterprise self-registration through the form, and the enterprise's profile page."""

from __future__ import annotations

import sqlalchemy as sa

from matchmaker.enterprises.models import Enterprise
from matchmaker.extensions import db
from tests.factories import PASSWORD, login
from tests.webutil import (
    field_errors,
    input_value,
    is_logged_in,
    selected,
    submit,
    text,
)

VALID_USCC = "9144030071526726XG"
BAD_CHECK_USCC = "9144030071526726XA"  # the same code with a wrong check character


def registration(**overrides) -> dict:
    data = {
        "uscc": VALID_USCC, "name": "深圳市绿源环保科技有限公司", "region_code": "330502",
        "industry_code": "77", "size": "small", "env_credit": "green",
        "address": "湖州市吴兴区龙溪街道 1 号", "contact_name": "李四", "phone": "0572-2345678",
        "email": "li.si@example.com", "password": PASSWORD, "confirm": PASSWORD,
    }
    data.update(overrides)
    return data


def enterprise_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Enterprise.id)))


def test_registration_page(client):
    response = client.get("/register")
    page = text(response)
    assert response.status_code == 200
    for label in ("统一社会信用代码", "企业名称", "所在地区", "所属行业", "企业规模",
                  "环境信用评价等级", "联系人", "联系电话", "电子邮箱", "确认密码"):
        assert label in page, label
    # GB/T 4754 sections and divisions, grouped; the enumerations with their Chinese labels.
    assert '<optgroup label="C 制造业">' in page
    assert ">C38 电气机械和器材制造业<" in page
    assert ">微型<" in page and ">绿<" in page
    # The province → city → county picker is built by app.js; the code field works without it.
    assert "data-region-picker" in page and 'data-url="/api/v1/regions"' in page
    assert 'name="region_code"' in page


def test_registration_creates_the_enterprise_and_logs_in(client):
    response = submit(client, "/register", registration())
    assert response.status_code == 302
    assert response.headers["Location"] == "/enterprise"
    enterprise = db.session.scalar(sa.select(Enterprise).where(Enterprise.uscc == VALID_USCC))
    assert enterprise.name == "深圳市绿源环保科技有限公司"
    assert (enterprise.region_code, enterprise.industry_code) == ("330502", "77")
    assert (enterprise.size, enterprise.env_credit) == ("small", "green")
    assert enterprise.users[0].email == "li.si@example.com"
    assert enterprise.users[0].role == "enterprise"

    profile = client.get("/enterprise")
    page = text(profile)
    assert profile.status_code == 200
    assert "深圳市绿源环保科技有限公司" in page and VALID_USCC in page
    assert "浙江省湖州市吴兴区" in page  # the region's name, not only its code
    assert "小型" in page and "环境信用：绿" in page  # enumerations shown in Chinese
    assert "注册成功" in page


def test_bad_check_character_is_shown_beside_the_field_and_keeps_the_input(client):
    response = submit(client, "/register", registration(uscc=BAD_CHECK_USCC))
    assert response.status_code == 422
    assert field_errors(response, "uscc") == ["统一社会信用代码校验位不正确，请核对"]
    assert 'class="form-control font-monospace text-uppercase is-invalid"' in text(response)
    # Everything typed is still there (the passwords excepted), selects included.
    assert input_value(response, "uscc") == BAD_CHECK_USCC
    assert input_value(response, "name") == "深圳市绿源环保科技有限公司"
    assert input_value(response, "region_code") == "330502"
    assert input_value(response, "address") == "湖州市吴兴区龙溪街道 1 号"
    assert input_value(response, "phone") == "0572-2345678"
    assert input_value(response, "email") == "li.si@example.com"
    assert selected(response, "industry_code") == "77"
    assert selected(response, "size") == "small"
    assert selected(response, "env_credit") == "green"
    assert not input_value(response, "password")
    assert enterprise_count() == 0
    assert not is_logged_in(client)


def test_several_problems_at_once(client):
    response = submit(client, "/register", registration(
        uscc="123", region_code="999999", email="not-an-email", password="short", confirm="short"))
    assert response.status_code == 422
    assert field_errors(response, "uscc") == ["统一社会信用代码应为 18 位"]
    assert field_errors(response, "region_code") == ["行政区划代码不存在"]
    assert field_errors(response, "email") == ["电子邮箱格式不正确"]
    assert any("至少" in m for m in field_errors(response, "password"))
    assert enterprise_count() == 0


def test_empty_form_and_mismatched_confirmation(client):
    response = submit(client, "/register", registration(
        uscc=BAD_CHECK_USCC, name="", size="", industry_code="", confirm="something-else-9"))
    assert response.status_code == 422
    # The code's check runs in the same round as the form's own checks.
    assert field_errors(response, "uscc") == ["统一社会信用代码校验位不正确，请核对"]
    assert field_errors(response, "name") == ["请输入企业名称"]
    assert field_errors(response, "size") == ["请选择企业规模"]
    assert field_errors(response, "industry_code") == ["请选择所属行业"]
    assert field_errors(response, "confirm") == ["两次输入的密码不一致"]
    assert enterprise_count() == 0


def test_duplicate_code_is_a_conflict_beside_the_field(client, make):
    make.enterprise(uscc=VALID_USCC)
    response = submit(client, "/register", registration(email="another@example.com"))
    assert response.status_code == 422
    assert field_errors(response, "uscc") == ["该统一社会信用代码已注册"]
    assert input_value(response, "name") == "深圳市绿源环保科技有限公司"
    assert enterprise_count() == 1


def test_duplicate_email_is_shown_beside_the_email(client, make):
    _, account = make.enterprise()
    response = submit(client, "/register", registration(email=account.email.upper()))
    assert field_errors(response, "email") == ["该邮箱已注册"]
    assert enterprise_count() == 1


def test_logged_in_users_are_not_offered_registration(client, make):
    _, account = make.enterprise()
    login(client, account)
    response = client.get("/register")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_profile_is_the_enterprises_own(client, make):
    enterprise, account = make.enterprise()
    other, _ = make.enterprise()
    login(client, account)
    page = text(client.get("/enterprise"))
    assert enterprise.name in page and other.name not in page
    assert enterprise.uscc in page
