"""Real Chromium: the login page renders and every role can log in and out."""

import pytest

from tests.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]


def test_login_page_renders_in_chinese(live_server, page):
    page.goto(f"{live_server}/login")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_role("button", name="登录").is_visible()
    # Bootstrap is served from this site (offline networks): the stylesheet really applied.
    button = page.get_by_role("button", name="登录")
    assert button.evaluate("el => getComputedStyle(el).borderRadius") != "0px"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "login.png"), full_page=True)


def test_each_role_logs_in_and_out(live_server, page, make):
    bank = make.bank()
    accounts = {
        "enterprise": make.enterprise()[1],
        "bank_manager": make.bank_user(bank, role="bank_manager"),
        "bank_admin": make.bank_user(bank, role="bank_admin"),
        "office": make.office(),
        "admin": make.platform_admin(),
    }
    for role, account in accounts.items():
        page.goto(f"{live_server}/login")
        page.get_by_label("电子邮箱").fill(account.email)
        page.get_by_label("密码").fill(account.password)
        page.get_by_role("button", name="登录").click()
        page.wait_for_load_state()
        assert "/login" not in page.url, f"{role} stayed on the login page"
        assert page.get_by_text(account.user.name).first.is_visible(), role
        page.get_by_role("button", name="退出").click()
        page.wait_for_load_state()
        page.goto(f"{live_server}/account/password")
        assert "/login" in page.url, f"{role} still logged in after logout"
