"""Real Chromium, under the strict Content-Security-Policy: a manager has the 通知中心 open; an
enterprise posts a matching need; within the polling interval the bell's badge shows 1, without
reloading the page. Opening the notification goes to the need and the badge is gone."""

from __future__ import annotations

import re

import pytest

from tests.browser import log_in, watch
from tests.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]


def test_the_badge_follows_new_notifications(strict_app, live_server, page, make):
    strict_app.config["NOTIFICATION_POLL_SECONDS"] = 1
    problems = watch(page)
    bank = make.bank(name="浙江安吉农村商业银行")
    make.product(bank, make.bank_user(bank, role="bank_admin"), name="安吉福林贷")
    manager = make.bank_user(bank)
    _, owner = make.enterprise(region_code="330523", name="安吉竹海生态农业有限公司")

    log_in(page, live_server, manager)
    page.goto(f"{live_server}/notifications")
    badge = page.locator("[data-gm-unread-badge]")
    assert page.get_by_text("还没有通知").is_visible()
    assert badge.is_hidden()
    assert page.locator("[data-gm-unread-url]").get_attribute("data-gm-poll-seconds") == "1"

    need = make.need(owner, title="香榧林下经济基地扩建")
    # Within the polling interval (1 s here; 30 s by default), with no reload.
    badge.wait_for(state="visible", timeout=5000)
    assert page.locator("[data-gm-unread-count]").inner_text() == "1"
    assert page.get_by_text("还没有通知").is_visible()  # the list itself was not reloaded
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "notifications-badge.png"))

    page.reload()
    row = page.locator(".gm-notification-unread").filter(has_text="香榧林下经济基地扩建")
    row.get_by_role("button", name="查看需求").click()
    page.wait_for_url(f"{live_server}/needs/{need.id}")
    assert page.locator("[data-gm-unread-badge]").is_hidden()
    page.goto(f"{live_server}/notifications")
    assert page.locator(".gm-notification-unread").count() == 0
    assert re.search("香榧林下经济基地扩建", page.locator(".gm-notifications").inner_text())
    page.screenshot(path=str(ARTIFACTS / "notifications-inbox.png"), full_page=True)
    assert problems == []


def test_the_webhook_page_shows_the_secret_once(strict_app, live_server, page, make):
    problems = watch(page)
    bank = make.bank(name="湖州吴兴农村商业银行")
    admin = make.bank_user(bank, role="bank_admin")
    log_in(page, live_server, admin)
    page.goto(f"{live_server}/bank/webhook")
    page.get_by_label("Webhook 地址").fill("https://open.bank.example/greenmatch")
    page.get_by_label("新的匹配需求").check()
    page.get_by_role("button", name="保存", exact=True).click()
    page.wait_for_load_state()
    secret = page.locator("#webhook-secret").input_value()
    assert len(secret) >= 40
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "notifications-webhook.png"), full_page=True)
    page.goto(f"{live_server}/bank/webhook")
    assert page.locator("#webhook-secret").count() == 0
    assert page.get_by_label("新的匹配需求").is_checked()
    assert problems == []
