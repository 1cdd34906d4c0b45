"""Real Chromium, under the strict Content-Security-Policy: the whole lead workflow by hand — an
enterprise posts a need; two banks' managers grab it from their inboxes; the enterprise picks one;
the picked manager records contact, credit and disbursement; the enterprise rates the bank."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from matchmaker.claims.models import Claim, Rating
from matchmaker.extensions import db
from matchmaker.needs.models import Need
from tests.browser import log_in, watch
from tests.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]


def log_out(page) -> None:
    page.context.clear_cookies()


def test_post_grab_pick_progress_and_rate(strict_app, live_server, page, make):
    problems = watch(page)
    enterprise, owner = make.enterprise(region_code="330523", name="安吉竹海生态农业有限公司")
    banks, managers = [], []
    for name in ("湖州吴兴农村商业银行", "浙江安吉农村商业银行"):
        bank = make.bank(name=name)
        make.product(bank, make.bank_user(bank, role="bank_admin"), name=f"{name[:4]}福林贷")
        banks.append(bank)
        managers.append(make.bank_user(bank))

    # The enterprise posts a need.
    log_in(page, live_server, owner)
    page.goto(f"{live_server}/needs/new")
    page.fill("#title", "香榧林下经济基地扩建")
    page.select_option("#purpose", "project")
    page.fill("#amount_wan", "120")
    page.fill("#term_months", "36")
    page.get_by_label("输入名称或编号筛选，如 林业、光伏、4.1").fill("4.1.4")
    page.select_option("#green_category", "4.1.4")
    page.get_by_label("林权").check()
    page.get_by_role("button", name="发布", exact=True).click()
    page.wait_for_url(f"{live_server}/needs/*")
    need = db.session.scalar(sa.select(Need).where(Need.enterprise_id == enterprise.id))
    assert need.status == "open"
    need_url = f"{live_server}/needs/{need.id}"
    log_out(page)

    # Two managers grab it from their lead inboxes.
    for manager in managers:
        log_in(page, live_server, manager)
        page.goto(f"{live_server}/bank/leads")
        row = page.get_by_role("row").filter(has_text="香榧林下经济基地扩建")
        row.get_by_role("button", name="抢单").click()
        page.wait_for_url(f"{live_server}/claims/*")
        # The grabbing bank now sees how to reach the enterprise.
        assert page.get_by_text(enterprise.phone).first.is_visible()
        log_out(page)
    claims = db.session.scalars(sa.select(Claim).where(Claim.need_id == need.id)
                                .order_by(Claim.slot)).all()
    assert [c.bank_id for c in claims] == [b.id for b in banks]

    # The enterprise sees both banks and picks the second.
    log_in(page, live_server, owner)
    page.goto(need_url)
    assert page.locator(f"#claim-{claims[0].id}").get_by_text(banks[0].name).is_visible()
    page.locator(f"#claim-{claims[1].id}").get_by_role("button", name="选定这家银行").click()
    page.wait_for_url(need_url)
    assert page.get_by_text("剩余").first.is_visible()  # the contact deadline's countdown
    log_out(page)
    picked = db.session.get(Claim, claims[1].id)
    db.session.refresh(picked)
    assert picked.status == "selected"

    # The picked manager records contact, credit and disbursement on the claim page.
    log_in(page, live_server, managers[1])
    claim_url = f"{live_server}/claims/{picked.id}"
    page.goto(claim_url)
    page.get_by_role("button", name="登记已对接").click()
    page.wait_for_url(claim_url)
    page.fill("#credit_approved-amount_wan", "100")
    page.fill("#credit_approved-rate", "3.85")
    page.get_by_role("button", name="登记已授信").click()
    page.wait_for_url(claim_url)
    # More than approved: a message in Chinese beside the field, nothing saved.
    page.fill("#disbursed-amount_wan", "150")
    page.get_by_role("button", name="登记已放款").click()
    page.wait_for_load_state()
    assert page.get_by_text("放款金额不能大于 100.00").first.is_visible()
    page.fill("#disbursed-amount_wan", "100")
    page.get_by_role("button", name="登记已放款").click()
    page.wait_for_url(claim_url)
    log_out(page)
    db.session.expire_all()
    picked = db.session.get(Claim, claims[1].id)
    assert picked.status == "disbursed"
    assert picked.disbursed_amount_wan == Decimal("100.00")
    assert db.session.get(Need, need.id).status == "disbursed"

    # The enterprise rates the bank.
    log_in(page, live_server, owner)
    page.goto(need_url)
    page.select_option(f"#rating{picked.id}-stars", "5")
    page.fill(f"#rating{picked.id}-comment", "对接及时，放款很快")
    page.get_by_role("button", name="提交评价").click()
    page.wait_for_url(need_url)
    rating = db.session.scalar(sa.select(Rating).where(Rating.claim_id == picked.id))
    assert rating is not None and rating.stars == 5
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "claims-journey.png"), full_page=True)
    assert problems == []
