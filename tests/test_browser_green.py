"""Real Chromium under the strict Content-Security-Policy: the need form suggests green
categories as the enterprise types, and one click fills the category select."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from matchmaker.extensions import db
from matchmaker.needs.models import Need
from tests.browser import chosen, log_in, watch

pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]


def test_typing_a_description_suggests_categories_and_a_click_applies_one(
        strict_app, live_server, page, make):
    problems = watch(page)
    _enterprise, account = make.enterprise(region_code="330522")
    log_in(page, live_server, account)
    page.goto(f"{live_server}/needs/new")

    box = page.locator("[data-gm-category-suggest]")
    assert box.is_visible()
    assert "填写需求标题和描述后" in box.inner_text()
    page.fill("#title", "厂房屋顶光伏项目")
    page.fill("#description", "在公司厂房屋顶建设2000千瓦分布式光伏电站，自发自用、余电上网。")
    first = box.locator("button.gm-suggestion").first
    first.wait_for()
    assert first.get_attribute("data-code") == "3.2.2"
    assert "太阳能利用设施建设和运营" in first.inner_text()
    assert "依据：" in first.inner_text() and "分布式光伏" in first.inner_text()
    assert box.locator("button.gm-suggestion").count() <= 5
    assert chosen(page, "#green_category") == []

    first.click()
    assert chosen(page, "#green_category") == ["3.2.2"]
    assert first.get_attribute("aria-pressed") == "true"
    assert "3.2.2 太阳能利用设施建设和运营" in page.locator(".gm-picker-summary").first.inner_text()

    # A different description brings other suggestions; the choice stays until another click.
    page.fill("#title", "燃煤锅炉节能改造")
    page.fill("#description", "将两台燃煤锅炉改造为高效燃气锅炉，并加装烟气余热回收装置。")
    page.wait_for_function(
        "() => document.querySelector('button.gm-suggestion')?.dataset.code === '1.5.1'")
    assert chosen(page, "#green_category") == ["3.2.2"]

    page.fill("#title", "屋顶光伏电站")
    page.fill("#description", "")
    page.wait_for_function(
        "() => document.querySelector('button.gm-suggestion')?.dataset.code === '3.2.2'")
    page.select_option("#purpose", "project")
    page.fill("#amount_wan", "600")
    page.fill("#term_months", "60")
    page.check("#collateral-0")
    page.get_by_role("button", name="发布").click()
    page.wait_for_url(f"{live_server}/needs/*")
    need = db.session.scalar(sa.select(Need).where(Need.title == "屋顶光伏电站"))
    assert need is not None and need.green_category_code == "3.2.2"
    assert not problems, problems


def test_no_clue_says_so_and_offers_nothing(strict_app, live_server, page, make):
    problems = watch(page)
    log_in(page, live_server, make.enterprise()[1])
    page.goto(f"{live_server}/needs/new")
    page.fill("#title", "补充流动资金")
    status = page.locator("[data-gm-suggest-status]")
    page.wait_for_function(
        "() => document.querySelector('[data-gm-suggest-status]').textContent.includes('暂无建议')")
    assert page.locator("button.gm-suggestion").count() == 0
    assert "屋顶光伏" in status.inner_text()
    assert not problems, problems


def test_the_benefit_estimator_fills_the_co2_and_coal_fields(strict_app, live_server, page, make):
    problems = watch(page)
    log_in(page, live_server, make.enterprise()[1])
    page.goto(f"{live_server}/needs/new")
    page.fill("#amount_wan", "300")
    page.fill("#project_investment_wan", "400")
    helper = page.locator("[data-gm-benefit]")
    helper.locator("summary").click()
    page.select_option("#benefit-type", "boiler")
    assert page.locator("#benefit-solar-annual_kwh").is_hidden()
    page.fill("#benefit-boiler-fuel_before", "1000")
    page.fill("#benefit-boiler-efficiency_before", "70")
    page.fill("#benefit-boiler-efficiency_after", "70")
    helper.get_by_role("button", name="测算").click()
    error = helper.locator(".gm-benefit-error")
    error.wait_for()
    assert "改造后热效率应高于改造前" in error.inner_text()

    page.fill("#benefit-boiler-efficiency_after", "87.5")
    page.locator("#benefit-boiler-efficiency_after").press("Enter")  # estimates, never submits
    result = helper.locator(".gm-benefit-result")
    result.wait_for()
    assert page.url == f"{live_server}/needs/new"
    assert "年节约标准煤 142.86 吨，年减排二氧化碳 396.01 吨" in result.inner_text()
    assert "份额 75.00%" in result.inner_text()
    assert helper.locator(".gm-benefit-error").count() == 0
    helper.locator("summary", has_text="所用系数及来源").click()
    assert "GB/T 2589-2020" in result.inner_text()
    result.get_by_role("button", name="填入预计年减排量和节约标准煤").click()
    assert page.input_value("#co2_reduction_t") == "396.01"
    assert page.input_value("#coal_saving_tce") == "142.86"
    assert not problems, problems
