"""Real Chromium: registration with the region cascade, under a strict Content-Security-Policy."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from matchmaker.enterprises.models import Enterprise
from matchmaker.extensions import db
from tests.browser import watch
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]



@pytest.fixture
def problems(page):
    return watch(page)


def test_register_with_the_region_cascade(strict_app, live_server, page, problems):
    page.goto(f"{live_server}/register")
    picker = page.locator("[data-region-picker] select")
    picker.nth(0).select_option("330000")
    picker.nth(1).select_option("330500")
    picker.nth(2).select_option("330523")
    assert page.locator("#region_code").input_value() == "330523"

    page.fill("#uscc", "9144030071526726XA")  # wrong check character first
    page.fill("#name", "安吉竹产业绿色发展有限公司")
    page.select_option("#industry_code", "20")
    page.select_option("#size", "medium")
    page.select_option("#env_credit", "blue")
    page.fill("#contact_name", "陈经理")
    page.fill("#phone", "0572-5123456")
    page.fill("#email", "chen@example.com")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.get_by_role("button", name="提交注册").click()
    page.wait_for_load_state()

    assert page.locator("#uscc-errors").inner_text() == "统一社会信用代码校验位不正确，请核对"
    assert page.locator("#uscc").evaluate("el => el.classList.contains('is-invalid')")
    # The cascade shows the chosen county again after the round trip.
    page.wait_for_function("document.querySelectorAll('[data-region-picker] select')[2].value"
                           " === '330523'")
    assert page.locator("#name").input_value() == "安吉竹产业绿色发展有限公司"

    page.fill("#uscc", "9144030071526726XG")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.get_by_role("button", name="提交注册").click()
    page.wait_for_url(f"{live_server}/enterprise")
    assert page.get_by_text("安吉竹产业绿色发展有限公司").first.is_visible()
    assert page.get_by_text("浙江省湖州市安吉县").first.is_visible()
    enterprise = db.session.scalar(sa.select(Enterprise).where(Enterprise.uscc ==
                                                               "9144030071526726XG"))
    assert enterprise.region_code == "330523" and enterprise.industry_code == "20"
    assert problems == []


def test_bank_regions_are_added_with_the_picker(strict_app, live_server, page, problems, make):
    office = make.office()
    page.goto(f"{live_server}/login")
    page.get_by_label("电子邮箱").fill(office.email)
    page.get_by_label("密码").fill(office.password)
    page.get_by_role("button", name="登录").click()
    page.goto(f"{live_server}/office/banks/new")
    page.fill("#name", "长兴县农村信用合作联社")
    page.select_option("#kind", "rural_commercial")
    page.fill("#region_codes", "")
    picker = page.locator("[data-region-picker] select")
    picker.nth(0).select_option("330000")
    picker.nth(1).select_option("330500")
    picker.nth(2).select_option("330522")
    page.get_by_role("button", name="添加所选地区").click()
    picker.nth(2).select_option("330523")
    page.get_by_role("button", name="添加所选地区").click()
    assert page.locator("#region_codes").input_value() == "330522 330523"
    page.get_by_role("button", name="创建银行").click()
    page.wait_for_load_state()
    assert page.get_by_text("已创建银行").is_visible()
    assert page.get_by_text("浙江省湖州市长兴县").first.is_visible()
    assert problems == []
