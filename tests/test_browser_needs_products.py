"""Real Chromium, under the strict Content-Security-Policy production will send: an enterprise
posts a need with the category picker and finds it in 我的融资需求; a bank admin publishes a
product from a template and it appears in the public catalogue."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from matchmaker.extensions import db
from matchmaker.needs.models import Need
from matchmaker.products.models import Product
from tests.browser import chosen, log_in, watch
from tests.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]


def visible_options(page, select: str) -> list[str]:
    return page.eval_on_selector(
        select, "s => Array.from(s.options).filter(o => !o.hidden && o.value).map(o => o.value)")


def test_enterprise_posts_a_need_and_finds_it_in_the_list(strict_app, live_server, page, make):
    problems = watch(page)
    enterprise, account = make.enterprise(region_code="330523", name="安吉竹海生态农业有限公司")
    log_in(page, live_server, account)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="发布需求").click()
    page.wait_for_url(f"{live_server}/needs/new")

    page.fill("#title", "毛竹林碳汇提升项目")
    page.select_option("#purpose", "project")
    page.fill("#amount_wan", "80")
    page.fill("#term_months", "36")

    # The category picker: typing filters the catalog (the match keeps its ancestors), Enter
    # chooses the match and the form is not submitted.
    search = page.get_by_label("输入名称或编号筛选，如 林业、光伏、4.1")
    search.fill("森林资源")
    assert visible_options(page, "#green_category") == ["4", "4.1", "4.1.4"]
    assert page.locator("#green_category optgroup:not([hidden])").count() == 1
    assert "找到 1 项" in page.locator(".gm-picker-status").first.inner_text()
    search.press("Enter")
    assert page.url == f"{live_server}/needs/new"
    assert chosen(page, "#green_category") == ["4.1.4"]
    assert "4.1.4 森林资源培育产业" in page.locator(".gm-picker-summary").first.inner_text()
    # By code, too.
    search.fill("4.1.1")
    assert set(visible_options(page, "#green_category")) == {"4", "4.1", "4.1.1", "4.1.10",
                                                             "4.1.11"}
    search.fill("")
    assert len(visible_options(page, "#green_category")) == 247

    page.get_by_label("林权").check()
    page.get_by_label("保证").check()
    # The project's region defaults to the enterprise's, shown in the cascade.
    assert page.locator("#region_code").input_value() == "330523"
    page.wait_for_function("document.querySelectorAll('[data-region-picker] select')[2].value"
                           " === '330523'")
    page.fill("#rate_cap", "4.2")
    page.get_by_role("button", name="发布", exact=True).click()
    page.wait_for_url(f"{live_server}/needs/*")

    need = db.session.scalar(sa.select(Need).where(Need.enterprise_id == enterprise.id))
    assert (need.status, need.green_category_code) == ("open", "4.1.4")
    assert need.collateral == ["guarantee", "forest_rights"] and need.region_code == "330523"
    assert page.get_by_text("需求已发布").is_visible()
    assert page.get_by_text("4.1.4 森林资源培育产业").is_visible()

    page.get_by_role("navigation", name="主导航").get_by_role("link", name="我的融资需求").click()
    page.wait_for_url(f"{live_server}/needs/mine")
    row = page.get_by_role("row").filter(has_text="毛竹林碳汇提升项目")
    assert row.get_by_text("待抢单").is_visible()
    assert row.get_by_text("80.00 万元").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "needs-mine.png"), full_page=True)
    assert problems == []


def test_a_bad_need_shows_messages_and_keeps_the_picker_choice(strict_app, live_server, page,
                                                                make):
    problems = watch(page)
    _enterprise, account = make.enterprise()
    log_in(page, live_server, account)
    page.goto(f"{live_server}/needs/new")
    page.fill("#title", "光伏屋顶")
    page.fill("#amount_wan", "-5")
    page.get_by_label("输入名称或编号筛选，如 林业、光伏、4.1").fill("太阳能")
    page.select_option("#green_category", visible_options(page, "#green_category")[-1])
    choice = chosen(page, "#green_category")
    page.get_by_role("button", name="保存草稿").click()
    page.wait_for_load_state()
    assert page.locator("#amount_wan-errors").inner_text() == "融资金额必须大于 0"
    assert page.locator("#term_months-errors").inner_text() == "请输入融资期限"
    assert page.locator("#collateral-errors").inner_text() == "请至少选择一项担保方式"
    assert page.locator("#title").input_value() == "光伏屋顶"
    assert chosen(page, "#green_category") == choice
    assert page.locator(".gm-picker-summary").first.inner_text().startswith("已选：")
    assert problems == []


def test_bank_admin_publishes_a_product_from_a_template(strict_app, live_server, page, browser,
                                                       make):
    problems = watch(page)
    bank = make.bank(name="浙江安吉农村商业银行", region_codes=("330523",))
    admin = make.bank_user(bank, role="bank_admin")
    log_in(page, live_server, admin)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="产品管理").click()
    page.get_by_role("link", name="从模板创建").first.click()
    page.wait_for_url(f"{live_server}/bank/products/templates")
    page.get_by_role("link", name="使用模板 福林贷").click()
    page.wait_for_url(f"{live_server}/bank/products/new?template=fulindai")

    assert page.locator("#name").input_value() == "福林贷"
    assert chosen(page, "#green_categories") == ["4.1.4", "4.1.5", "4.1.6", "4.1.10"]
    assert chosen(page, "#region_codes") == ["330523"]
    assert page.get_by_label("林权").is_checked()
    # A click adds one more category without Ctrl and keeps the others.
    page.get_by_label("输入名称或编号筛选，如 林业、光伏、4.1").fill("基因")
    page.locator('#green_categories option[value="4.1.7"]').click()
    assert chosen(page, "#green_categories") == ["4.1.4", "4.1.5", "4.1.6", "4.1.7", "4.1.10"]
    summary = page.locator(".gm-picker-summary").first
    assert "已选 5 项" in summary.inner_text()
    # …and a chip's × takes one away.
    summary.get_by_role("button", name="移除 4.1.10 森林游憩和康养产业").click()
    assert chosen(page, "#green_categories") == ["4.1.4", "4.1.5", "4.1.6", "4.1.7"]
    page.fill("#name", "安吉福林贷")
    page.get_by_role("button", name="发布产品").click()
    page.wait_for_url(f"{live_server}/bank/products/*")
    assert page.get_by_text("已发布产品：安吉福林贷").is_visible()
    product = db.session.scalar(sa.select(Product).where(Product.name == "安吉福林贷"))
    assert product.bank_id == bank.id and product.active
    assert sorted(product.category_codes) == ["4.1.4", "4.1.5", "4.1.6", "4.1.7"]

    # Anyone, logged in or not, finds it in the catalogue by category.
    visitor = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai").new_page()
    problems += watch(visitor)
    visitor.goto(f"{live_server}/products")
    visitor.get_by_label("输入名称或编号筛选分类，如 林业、4.1").fill("林业基因")
    visitor.get_by_label("输入名称或编号筛选分类，如 林业、4.1").press("Enter")
    assert chosen(visitor, "#category") == ["4.1.7"]
    visitor.get_by_role("button", name="筛选").click()
    visitor.wait_for_url(f"{live_server}/products?*")
    card = visitor.locator("article").filter(has_text="安吉福林贷")
    assert card.get_by_text("浙江安吉农村商业银行").is_visible()
    assert "符合条件的产品 1 个" in visitor.get_by_role("status").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    visitor.screenshot(path=str(ARTIFACTS / "product-catalogue.png"), full_page=True)
    card.get_by_role("link", name="安吉福林贷").click()
    visitor.wait_for_url(f"{live_server}/products/{product.id}")
    assert visitor.get_by_text("4.1.7 林业基因资源保护").is_visible()
    visitor.screenshot(path=str(ARTIFACTS / "product-detail.png"), full_page=True)
    visitor.context.close()
    assert problems == []
