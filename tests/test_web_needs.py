"""An enterprise's financing needs through the real forms: post (draft or publish), list, view,
edit with revision history, withdraw; who may see what."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from matchmaker.claims.models import Claim
from matchmaker.extensions import db
from matchmaker.needs.models import Need, NeedRevision
from matchmaker.needs.services import withdraw_need
from tests.factories import login
from tests.webutil import field_errors, input_value, selected, submit, text


def need_form(**overrides) -> dict:
    """The fields as a browser posts them (text, lists for the check boxes)."""
    data = {
        "title": "安吉竹林碳汇项目贷款", "purpose": "project",
        "description": "扩建毛竹林下经济基地\n以林权抵押", "amount_wan": "150.50",
        "term_months": "36", "green_category": "4.1.4",
        "collateral": ["forest_rights", "guarantee"], "region_code": "330523",
        "rate_cap": "4.50", "co2_reduction_t": "120.5", "project_investment_wan": "300",
        "deadline": "",
    }
    data.update(overrides)
    return data


PUBLISH = {"publish": "y"}
DRAFT = {"save_draft": "y"}


def needs_of(enterprise) -> list[Need]:
    return list(db.session.scalars(sa.select(Need).where(Need.enterprise_id == enterprise.id)
                                   .order_by(Need.id)))


def checked(response, name: str) -> list[str]:
    """The values of the checked check boxes called `name`."""
    page = response.get_data(as_text=True)
    tags = re.findall(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', page)
    return [re.search(r'value="([^"]*)"', t).group(1) for t in tags if re.search(r"\bchecked\b", t)]


@pytest.fixture
def enterprise(make):
    return make.enterprise(region_code="330521", contact_name="钱多多", phone="0572-7654321",
                           email="qian.duoduo@example.com")


# --- the form ----------------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_the_need_form(client, enterprise):
    _enterprise, account = enterprise
    login(client, account)
    response = client.get("/needs/new")
    page = text(response)
    assert response.status_code == 200
    for label in ("需求标题", "资金用途", "融资金额（万元）", "融资期限（月）", "绿色产业分类",
                  "可提供的担保方式", "项目所在地区", "可接受的年利率上限", "预计年二氧化碳减排量",
                  "项目总投资", "需求截止日期"):
        assert label in page, label
    # The catalog of 2019 as a tree: six groups, 6 + 30 + 211 options after the placeholder.
    category = re.search(r'<select[^>]*name="green_category"[^>]*>(.*?)</select>', page, re.S)
    assert category and "data-gm-picker" in category.group(0)
    assert category.group(1).count("<optgroup") == 6
    assert len(re.findall(r"<option ", category.group(1))) == 1 + 6 + 30 + 211
    assert '<optgroup label="4 生态环境产业">' in page
    assert re.search(r'<option data-parent="4.1" value="4.1.4">\u3000\u30004.1.4 ', page)
    assert ">4 生态环境产业（整个大类）<" in page
    # Chinese labels for the enumerations; check boxes for collateral.
    assert ">项目建设<" in page and ">林权</label>" in page and ">碳排放权/CCER</label>" in page
    assert 'type="checkbox"' in page
    # The region defaults to the enterprise's own, with the province → city → county picker.
    assert input_value(response, "region_code") == "330521"
    assert "data-region-picker" in page
    assert 'type="date"' in page and 'name="deadline"' in page
    assert ">保存草稿<" in page and ">发布<" in page


def test_publish_a_need(client, enterprise):
    ent, account = enterprise
    login(client, account)
    response = submit(client, "/needs/new", need_form() | PUBLISH)
    [need] = needs_of(ent)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/needs/{need.id}"
    assert need.status == "open" and need.published_at is not None
    assert need.amount_wan == Decimal("150.50") and need.term_months == 36
    assert need.green_category_code == "4.1.4" and need.region_code == "330523"
    assert need.collateral == ["guarantee", "forest_rights"]  # in the catalogue's order
    assert need.rate_cap == Decimal("4.50") and need.co2_reduction_t == Decimal("120.50")
    assert need.project_investment_wan == Decimal("300.00") and need.deadline is None

    page = text(client.get(f"/needs/{need.id}"))
    assert "需求已发布" in page  # the flash message
    assert "待抢单" in page
    assert "150.50 万元" in page and "300.00 万元" in page and "36 个月" in page
    assert "项目建设" in page and "保证、林权" in page
    assert "4.1.4 " in page and "浙江省湖州市安吉县" in page  # category_label, region_label
    assert "4.50%" in page and "120.50 吨" in page
    assert "扩建毛竹林下经济基地\n以林权抵押" in page
    # Times in Beijing time.
    shanghai = need.published_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"发布于 {shanghai.strftime('%Y-%m-%d %H:%M')}" in page
    assert "暂无银行抢单" in page
    assert "暂无符合条件的产品" in page  # no bank has published a product yet


@pytest.mark.sqlite_only
def test_save_a_draft_then_publish_it(client, enterprise):
    ent, account = enterprise
    login(client, account)
    deadline = (date.today() + timedelta(days=30)).isoformat()
    response = submit(client, "/needs/new", need_form(deadline=deadline) | DRAFT)
    [need] = needs_of(ent)
    assert response.status_code == 302
    assert need.status == "draft" and need.published_at is None
    assert need.deadline.isoformat() == deadline
    page = text(client.get(f"/needs/{need.id}"))
    assert "草稿已保存" in page and "草稿" in page
    assert f'action="/needs/{need.id}/publish"' in page

    response = submit(client, f"/needs/{need.id}/publish", {}, form_page=f"/needs/{need.id}")
    assert response.status_code == 302
    db.session.refresh(need)
    assert need.status == "open" and need.published_at is not None


@pytest.mark.sqlite_only
def test_pressing_enter_saves_a_draft_not_a_publication(client, enterprise):
    """With neither button named (Enter in a field submits the first button: 保存草稿)."""
    ent, account = enterprise
    login(client, account)
    page = text(client.get("/needs/new"))
    assert page.index('name="save_draft"') < page.index('name="publish"')
    submit(client, "/needs/new", need_form())
    assert [n.status for n in needs_of(ent)] == ["draft"]


BAD_INPUT = [
    # field, typed value, the service's message beside the field
    ("title", "", "请输入需求标题"),
    ("purpose", "", "请选择资金用途"),
    ("amount_wan", "-1", "融资金额必须大于 0"),
    ("amount_wan", "0", "融资金额必须大于 0"),
    ("amount_wan", "12.345", "融资金额最多保留 2 位小数"),
    ("amount_wan", "一百万", "融资金额应为数字"),
    ("amount_wan", "", "请输入融资金额"),
    ("amount_wan", "1e1000000", "融资金额数值过大"),  # beyond Decimal's exponents: no 500
    ("term_months", "0", "融资期限应在 1 到 360 之间"),
    ("term_months", "361", "融资期限应在 1 到 360 之间"),
    ("term_months", "12.5", "融资期限应为整数"),
    ("term_months", "9e999999999", "融资期限应在 1 到 360 之间"),  # no billion-digit int
    ("green_category", "", "请选择绿色产业分类"),
    ("green_category", "9.9", "绿色产业分类代码不存在：9.9"),
    ("collateral", [], "请至少选择一项担保方式"),
    ("collateral", ["gold"], "未知的担保方式：gold"),
    ("region_code", "999999", "行政区划代码不存在：999999"),
    ("region_code", "", "请选择地区"),
    ("rate_cap", "abc", "可接受年利率上限应为数字"),
    ("rate_cap", "40", "可接受年利率上限不能大于 36"),
    ("co2_reduction_t", "-5", "预计年减排量不能小于 0"),
    ("project_investment_wan", "0", "项目总投资必须大于 0"),
    ("project_investment_wan", "50", "项目总投资明显小于融资金额，请核对"),
    ("deadline", "2000-01-01", "截止日期不能早于今天"),
    ("deadline", "2026-13-01", "日期格式应为 YYYY-MM-DD"),
]


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("field", "value", "message"), BAD_INPUT,
                         ids=[f"{f}={v!r}" for f, v, _m in BAD_INPUT])
def test_each_rule_shows_its_message_beside_the_field(client, enterprise, field, value, message):
    ent, account = enterprise
    login(client, account)
    response = submit(client, "/needs/new", need_form(**{field: value}) | PUBLISH)
    assert response.status_code == 422
    assert field_errors(response, field) == [message]
    assert 'class="alert alert-danger"' in text(response)
    assert needs_of(ent) == []


@pytest.mark.sqlite_only
def test_every_problem_at_once_and_the_typed_values_survive(client, enterprise):
    ent, account = enterprise
    login(client, account)
    typed = need_form(title="  竹林碳汇  ", amount_wan="abc", term_months="400",
                      collateral=["forest_rights", "receivables"], region_code="330503",
                      rate_cap="-1", deadline="2000-01-01", description="说明<b>加粗</b>")
    response = submit(client, "/needs/new", typed | PUBLISH)
    assert response.status_code == 422
    assert field_errors(response, "amount_wan") == ["融资金额应为数字"]
    assert field_errors(response, "term_months") == ["融资期限应在 1 到 360 之间"]
    assert field_errors(response, "rate_cap") == ["可接受年利率上限必须大于 0"]
    assert field_errors(response, "deadline") == ["截止日期不能早于今天"]
    assert field_errors(response, "title") == []
    # Everything typed is there again (the title trimmed), escaped.
    assert input_value(response, "title") == "竹林碳汇"
    assert input_value(response, "amount_wan") == "abc"
    assert input_value(response, "term_months") == "400"
    assert input_value(response, "region_code") == "330503"
    assert input_value(response, "rate_cap") == "-1"
    assert input_value(response, "deadline") == "2000-01-01"
    assert input_value(response, "co2_reduction_t") == "120.5"
    assert selected(response, "purpose") == "project"
    assert selected(response, "green_category") == "4.1.4"
    assert checked(response, "collateral") == ["forest_rights", "receivables"]
    assert "说明&lt;b&gt;加粗&lt;/b&gt;" in response.get_data(as_text=True)
    assert needs_of(ent) == []


# --- edit, history, withdraw -------------------------------------------------------------------


def test_edit_an_open_need_keeps_its_history(client, make, enterprise):
    _ent, account = enterprise
    need = make.need(account)
    login(client, account)
    form = client.get(f"/needs/{need.id}/edit")
    assert form.status_code == 200
    assert input_value(form, "amount_wan") == "150.50"
    assert selected(form, "green_category") == "4.1.4"
    assert checked(form, "collateral") == ["forest_rights"]
    assert ">保存修改<" in text(form) and 'name="publish"' not in text(form)

    response = submit(client, f"/needs/{need.id}/edit",
                      need_form(amount_wan="200", term_months="48", green_category="4.1",
                                collateral=["forest_rights", "carbon_allowance"]) | DRAFT)
    assert response.status_code == 302
    db.session.refresh(need)
    assert need.status == "open"  # editing an open need keeps it open
    assert need.amount_wan == Decimal("200.00") and need.green_category_code == "4.1"
    [revision] = db.session.scalars(sa.select(NeedRevision).where(NeedRevision.need_id == need.id))
    assert revision.changes["amount_wan"] == ["150.50", "200.00"]

    page = text(client.get(f"/needs/{need.id}"))
    assert "修改已保存" in page
    history = page[page.index("修改记录"):]
    for before, after in (("150.50 万元", "200.00 万元"), ("36 个月", "48 个月"),
                          ("林权", "林权、碳排放权/CCER")):
        assert before in history and after in history
    assert "融资金额" in history and "绿色产业分类" in history and "4.1 " in history
    assert account.user.name in history


@pytest.mark.sqlite_only
def test_a_failed_edit_loses_nothing(client, make, enterprise):
    _ent, account = enterprise
    need = make.need(account)
    login(client, account)
    response = submit(client, f"/needs/{need.id}/edit",
                      need_form(title="新的标题", amount_wan="abc", term_months="0") | DRAFT)
    assert response.status_code == 422
    assert field_errors(response, "amount_wan") == ["融资金额应为数字"]
    assert field_errors(response, "term_months") == ["融资期限应在 1 到 360 之间"]
    assert input_value(response, "title") == "新的标题"  # what was typed, not what was saved
    db.session.refresh(need)
    assert (need.title, need.amount_wan, need.term_months) == \
        ("林下经济基地扩建", Decimal("150.50"), 36)
    assert db.session.scalar(sa.select(sa.func.count(NeedRevision.id))) == 0


@pytest.mark.sqlite_only
def test_edit_a_draft_and_publish_it(client, make, enterprise):
    _ent, account = enterprise
    need = make.need(account, publish=False)
    login(client, account)
    form = text(client.get(f"/needs/{need.id}/edit"))
    assert ">保存草稿<" in form and ">发布<" in form
    response = submit(client, f"/needs/{need.id}/edit", need_form(title="改过的草稿") | DRAFT)
    assert response.status_code == 302
    db.session.refresh(need)
    assert (need.status, need.title) == ("draft", "改过的草稿")
    submit(client, f"/needs/{need.id}/edit", need_form(title="正式发布") | PUBLISH)
    db.session.refresh(need)
    assert (need.status, need.title) == ("open", "正式发布")
    # Edits of a draft are not revisions.
    assert db.session.scalar(sa.select(sa.func.count(NeedRevision.id))) == 0


@pytest.mark.sqlite_only
def test_a_draft_that_cannot_be_published_says_why(client, make, enterprise):
    _ent, account = enterprise
    need = make.need(account, publish=False)
    need.deadline = date(2000, 1, 1)  # saved long ago; now in the past
    db.session.commit()
    login(client, account)
    response = submit(client, f"/needs/{need.id}/publish", {}, form_page=f"/needs/{need.id}")
    assert response.headers["Location"] == f"/needs/{need.id}/edit"
    assert "截止日期不能早于今天" in text(client.get(response.headers["Location"]))
    db.session.refresh(need)
    assert need.status == "draft"


def test_withdraw_needs_a_reason(client, make, enterprise):
    _ent, account = enterprise
    need = make.need(account)
    login(client, account)
    page = text(client.get(f"/needs/{need.id}"))
    assert f'action="/needs/{need.id}/withdraw"' in page and "撤回原因" in page

    response = submit(client, f"/needs/{need.id}/withdraw", {"reason": "  "},
                      form_page=f"/needs/{need.id}")
    assert response.status_code == 422
    assert field_errors(response, "reason") == ["请输入撤回原因"]
    assert "<details open>" in text(response)
    db.session.refresh(need)
    assert need.status == "open"

    response = submit(client, f"/needs/{need.id}/withdraw", {"reason": "已获得其他银行贷款"},
                      form_page=f"/needs/{need.id}")
    assert response.status_code == 302
    db.session.refresh(need)
    assert (need.status, need.withdraw_reason) == ("withdrawn", "已获得其他银行贷款")
    page = text(client.get(f"/needs/{need.id}"))
    assert "需求已撤回" in page and "撤回原因：已获得其他银行贷款" in page
    assert f'action="/needs/{need.id}/withdraw"' not in page  # no second withdrawal
    assert f'href="/needs/{need.id}/edit"' not in page
    # A withdrawn need is not edited any more.
    response = client.get(f"/needs/{need.id}/edit")
    assert response.status_code == 302 and response.headers["Location"] == f"/needs/{need.id}"
    assert "不能再修改" in text(client.get(f"/needs/{need.id}"))


@pytest.mark.sqlite_only
def test_withdraw_without_the_csrf_token_is_refused(client, make, enterprise):
    _ent, account = enterprise
    need = make.need(account)
    login(client, account)
    response = client.post(f"/needs/{need.id}/withdraw", data={"reason": "不需要了"})
    assert response.status_code == 400
    assert "页面已过期" in text(response)
    db.session.refresh(need)
    assert need.status == "open"


# --- the list ----------------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_my_needs_with_status_filter(client, make, enterprise):
    _ent, account = enterprise
    make.need(account, title="草稿甲", publish=False)
    make.need(account, title="已发布乙")
    make.need(account, title="已发布丙")
    withdraw_need(make.need(account, title="已撤回丁"), "不需要了", account.user)
    _other, stranger = make.enterprise()
    make.need(stranger, title="别家的需求")
    login(client, account)

    page = text(client.get("/needs/mine"))
    for title in ("草稿甲", "已发布乙", "已发布丙", "已撤回丁"):
        assert title in page
    assert "别家的需求" not in page
    assert re.search(r"全部 <span[^>]*>4</span>", page)
    assert re.search(r"待抢单 <span[^>]*>2</span>", page)
    assert 'gm-status-draft' in page and 'gm-status-withdrawn' in page

    drafts = text(client.get("/needs/mine?status=draft"))
    assert "草稿甲" in drafts and "已发布乙" not in drafts and "已撤回丁" not in drafts
    opened = text(client.get("/needs/mine?status=open"))
    assert "已发布乙" in opened and "已发布丙" in opened and "草稿甲" not in opened
    assert "没有“已授信”状态的需求" in text(client.get("/needs/mine?status=credit_approved"))
    # An unknown status lists everything.
    assert "草稿甲" in text(client.get("/needs/mine?status=nonsense"))


@pytest.mark.sqlite_only
def test_an_empty_list_invites_the_first_need(client, enterprise):
    login(client, enterprise[1])
    page = text(client.get("/needs/mine"))
    assert "您还没有发布融资需求" in page and 'href="/needs/new"' in page


# --- who sees what -----------------------------------------------------------------------------


def test_who_may_open_which_page(app, make, enterprise):
    _ent, owner = enterprise
    open_need = make.need(owner)
    draft = make.need(owner, publish=False)
    bank = make.bank()
    accounts = {
        "enterprise_a": owner,
        "enterprise_b": make.enterprise()[1],
        "bank_manager": make.bank_user(bank, role="bank_manager"),
        "bank_admin": make.bank_user(bank, role="bank_admin"),
        "office": make.office(),
        "admin": make.platform_admin(),
    }
    o, d = open_need.id, draft.id
    expected = {
        #               new  mine  open draft edit-open edit-draft
        "enterprise_a": (200, 200, 200, 200, 200, 200),
        "enterprise_b": (200, 200, 404, 404, 404, 404),
        "bank_manager": (403, 403, 200, 404, 403, 403),
        "bank_admin": (403, 403, 200, 404, 403, 403),
        "office": (403, 403, 200, 404, 403, 403),  # drafts only to their owner
        "admin": (403, 403, 200, 404, 403, 403),
    }
    paths = ["/needs/new", "/needs/mine", f"/needs/{o}", f"/needs/{d}", f"/needs/{o}/edit",
             f"/needs/{d}/edit"]

    anonymous = app.test_client()
    for path in paths:
        response = anonymous.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == f"/login?next={quote(path, safe='')}", path
    assert anonymous.get("/needs/999999").status_code == 302

    for role, account in accounts.items():
        client = app.test_client()
        login(client, account)
        statuses = tuple(client.get(path).status_code for path in paths)
        assert statuses == expected[role], role
        assert client.get("/needs/999999").status_code == 404
        # Nobody but the owner can post to the need's forms.
        if role != "enterprise_a":
            for action, data in (("withdraw", {"reason": "冒名撤回"}), ("publish", {}),
                                 ("edit", need_form(title="冒名修改") | PUBLISH)):
                status = submit(client, f"/needs/{d}/{action}", data, form_page="/").status_code
                assert status == (404 if role == "enterprise_b" else 403), (role, action)
    db.session.refresh(draft)
    assert (draft.status, draft.title) == ("draft", "林下经济基地扩建")

    # Once withdrawn, a need is its owner's and the office's only.
    withdraw_need(open_need, "项目取消", owner.user)
    for role, status in (("enterprise_a", 200), ("office", 200), ("bank_manager", 404),
                         ("bank_admin", 404), ("enterprise_b", 404)):
        client = app.test_client()
        login(client, accounts[role])
        assert client.get(f"/needs/{o}").status_code == status, role


def test_bank_users_never_see_the_enterprises_contact_details(app, make, enterprise):
    ent, owner = enterprise
    need = make.need(owner)
    secrets = (ent.contact_name, ent.phone, ent.email, ent.uscc)
    bank = make.bank()
    for account in (make.bank_user(bank, role="bank_manager"),
                    make.bank_user(bank, role="bank_admin")):
        client = app.test_client()
        login(client, account)
        response = client.get(f"/needs/{need.id}")
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        assert need.title in page and "150.50 万元" in page and ent.name in page
        for secret in secrets:
            assert secret not in page, secret
        assert "企业联系方式仅向抢单的银行展示" in page
        assert "修改记录" not in page and 'action="/needs/' not in page
    for account in (owner, make.office()):
        client = app.test_client()
        login(client, account)
        page = client.get(f"/needs/{need.id}").get_data(as_text=True)
        for secret in secrets:
            assert secret in page, secret


@pytest.mark.sqlite_only
def test_claims_and_matches_sections(client, make, enterprise):
    _ent, owner = enterprise
    need = make.need(owner)
    bank = make.bank(name="湖州吴兴农村商业银行")
    make.product(bank, name="竹林福贷")  # covers 4.1 in 330500: an eligible match
    login(client, owner)
    response = client.get(f"/needs/{need.id}")
    page = text(response)
    assert "抢单银行" in page and "暂无银行抢单" in page
    assert "匹配产品" in page and "竹林福贷" in page and "湖州吴兴农村商业银行" in page
    # And a link to browse the catalogue for the need's category and region.
    assert 'href="/products?category=4.1.4&amp;region=330523"' in response.get_data(as_text=True)

    db.session.add(Claim(need_id=need.id, bank_id=bank.id, slot=1, status="claimed"))
    db.session.commit()
    page = text(client.get(f"/needs/{need.id}"))
    assert "湖州吴兴农村商业银行" in page and "已抢单" in page and "暂无银行抢单" not in page


@pytest.mark.sqlite_only
def test_navigation_follows_the_role(app, make):
    bank = make.bank()
    expectations = {
        "enterprise": (make.enterprise()[1],
                       ['href="/needs/new"', 'href="/needs/mine"', 'href="/products"'],
                       ['href="/bank/products"']),
        "bank_admin": (make.bank_user(bank, role="bank_admin"),
                       ['href="/bank/products"', 'href="/products"', ">产品管理<"],
                       ['href="/needs/new"', 'href="/needs/mine"']),
        "bank_manager": (make.bank_user(bank), ['href="/bank/products"', 'href="/products"'],
                         [">产品管理<", 'href="/needs/new"']),
        "office": (make.office(), ['href="/products"'],
                   ['href="/needs/new"', 'href="/bank/products"']),
    }
    for role, (account, present, absent) in expectations.items():
        client = app.test_client()
        login(client, account)
        page = client.get("/").get_data(as_text=True)
        for link in present:
            assert link in page, f"{role} misses {link}"
        for link in absent:
            assert link not in page, f"{role} sees {link}"
    anonymous = app.test_client().get("/products").get_data(as_text=True)
    assert 'href="/products"' in anonymous and 'aria-current="page">产品目录' in anonymous


@pytest.mark.sqlite_only
def test_need_page_shows_ranked_matching_products_with_reasons(app, client, make):
    from matchmaker.needs.services import create_need
    from matchmaker.products.services import create_product
    from tests.factories import NEED, PRODUCT, login

    bank = make.bank(name="湖州匹配测试银行")
    admin = make.bank_user(bank, role="bank_admin")
    create_product(bank, PRODUCT | {"name": "林权按揭贷"}, admin.user)
    create_product(bank, PRODUCT | {"name": "不合适的贷款", "max_amount_wan": "50"}, admin.user)
    _, owner = make.enterprise()
    need = create_need(owner.user, NEED)
    login(client, owner)
    page = client.get(f"/needs/{need.id}").get_data(as_text=True)
    assert "林权按揭贷" in page and "湖州匹配测试银行" in page
    assert "绿色分类匹配" in page  # a reason label
    assert "不合适的贷款" not in page  # ineligible: amount above its range
