"""Loan products through the real forms: a bank admin publishes (also from a template), edits,
takes off sale and puts back; the public catalogue filters by category and region, covering both
ways, and shows only what is on sale."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from matchmaker.demo.data import PRODUCT_TEMPLATES, PRODUCT_TEMPLATES_BY_KEY
from matchmaker.extensions import db
from matchmaker.products.models import Product
from tests.factories import login
from tests.webutil import field_errors, input_value, selected, submit, text


def product_form(**overrides) -> dict:
    data = {
        "name": "竹林碳汇贷", "description": "以竹林碳汇收益权质押\n最长 5 年",
        "green_categories": ["4.1.4", "4.1.5"], "collateral": ["forest_rights", "guarantee"],
        "min_amount_wan": "10", "max_amount_wan": "500.00", "min_term_months": "12",
        "max_term_months": "60", "rate_min": "3.65", "rate_max": "6.5",
        "region_codes": ["330522", "330523"], "enterprise_sizes": ["micro", "small"],
        "min_env_credit": "blue", "active": "y",
    }
    data.update(overrides)
    return data


def product_named(name: str) -> Product | None:
    return db.session.scalar(sa.select(Product).where(Product.name == name))


def selected_all(response, name: str) -> list[str]:
    page = response.get_data(as_text=True)
    select = re.search(rf'<select[^>]*\bname="{re.escape(name)}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no select {name}"
    return [re.search(r'value="([^"]*)"', tag).group(1)
            for tag in re.findall(r"<option\b[^>]*>", select.group(1))
            if re.search(r"\sselected\b", tag)]


def option_values(response, name: str) -> list[str]:
    page = response.get_data(as_text=True)
    select = re.search(rf'<select[^>]*\bname="{re.escape(name)}"[^>]*>(.*?)</select>', page, re.S)
    return re.findall(r'<option[^>]*value="([^"]*)"', select.group(1))


def checked(response, name: str) -> list[str]:
    page = response.get_data(as_text=True)
    tags = re.findall(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', page)
    return [re.search(r'value="([^"]*)"', t).group(1) for t in tags if re.search(r"\bchecked\b", t)]


@pytest.fixture
def bank(make):
    return make.bank(name="浙江长兴农村商业银行", region_codes=("330522", "330523"))


@pytest.fixture
def admin(make, bank):
    return make.bank_user(bank, role="bank_admin")


# --- the form ----------------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_the_product_form(client, admin):
    login(client, admin)
    response = client.get("/bank/products/new")
    page = text(response)
    assert response.status_code == 200
    for label in ("产品名称", "产品介绍", "支持的绿色产业分类", "接受的担保方式",
                  "最低金额（万元）", "最高金额（万元）", "最短期限（月）", "最长期限（月）",
                  "最低年利率（%）", "最高年利率（%）", "服务地区", "服务的企业规模",
                  "最低环境信用等级", "上架销售"):
        assert label in page, label
    # The same category picker as the need form, as a multiple choice without a placeholder.
    assert option_values(response, "green_categories")[:3] == ["1", "1.1", "1.1.1"]
    assert len(option_values(response, "green_categories")) == 6 + 30 + 211
    assert re.search(r'<select[^>]*data-gm-picker[^>]*multiple[^>]*name="green_categories"|'
                     r'<select[^>]*multiple[^>]*name="green_categories"', page)
    # Regions: only the bank's own (two counties of 湖州), preselected.
    assert option_values(response, "region_codes") == ["330522", "330523"]
    assert selected_all(response, "region_codes") == ["330522", "330523"]
    # Environmental credit from best to worst, 黄 by default; on sale by default.
    assert option_values(response, "min_env_credit") == ["green", "blue", "yellow", "red", "black"]
    assert selected(response, "min_env_credit") == "yellow"
    assert ">黄（接受绿、蓝、黄）<" in page
    assert checked(response, "active") == ["y"]
    assert ">信用</label>" in page and ">微型</label>" in page


@pytest.mark.sqlite_only
def test_a_city_bank_serves_the_city_and_its_counties(client, make):
    bank = make.bank(region_codes=("330500",))
    login(client, make.bank_user(bank, role="bank_admin"))
    response = client.get("/bank/products/new")
    assert option_values(response, "region_codes") == [
        "330500", "330502", "330503", "330521", "330522", "330523"]
    assert selected_all(response, "region_codes") == ["330500"]
    assert '<optgroup label="浙江省湖州市">' in response.get_data(as_text=True)
    assert ">浙江省湖州市（全市） 330500<" in text(response)


def test_publish_a_product(client, bank, admin):
    login(client, admin)
    response = submit(client, "/bank/products/new", product_form())
    product = product_named("竹林碳汇贷")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/bank/products/{product.id}"
    assert product.bank_id == bank.id and product.active
    assert product.category_codes == ["4.1.4", "4.1.5"]
    assert product.collateral == ["guarantee", "forest_rights"]
    assert (product.min_amount_wan, product.max_amount_wan) == (Decimal("10.00"),
                                                                Decimal("500.00"))
    assert (product.min_term_months, product.max_term_months) == (12, 60)
    assert (product.rate_min, product.rate_max) == (Decimal("3.65"), Decimal("6.50"))
    assert product.region_codes == ["330522", "330523"]
    assert product.enterprise_sizes == ["micro", "small"] and product.min_env_credit == "blue"

    page = text(client.get(response.headers["Location"]))
    assert "已发布产品：竹林碳汇贷" in page
    assert "10.00 万元 ～ 500.00 万元" in page and "12 ～ 60 个月" in page
    assert "3.65% ～ 6.50%" in page and "保证、林权" in page and "微型、小型" in page
    assert "浙江省湖州市长兴县、浙江省湖州市安吉县" in page and "蓝及以上" in page
    assert "4.1.4 " in page and "以竹林碳汇收益权质押\n最长 5 年" in page

    catalogue = text(client.get("/products"))
    assert "竹林碳汇贷" in catalogue and "浙江长兴农村商业银行" in catalogue


@pytest.mark.sqlite_only
def test_an_unchecked_active_box_saves_the_product_off_sale(client, admin):
    login(client, admin)
    form = product_form()
    del form["active"]
    submit(client, "/bank/products/new", form)
    product = product_named("竹林碳汇贷")
    assert product is not None and not product.active
    page = text(client.get(f"/bank/products/{product.id}"))
    assert "已保存产品：竹林碳汇贷（未上架）" in page and "已停售" in page
    assert f'href="/products/{product.id}"' not in text(client.get("/products"))


BAD_INPUT = [
    ("name", "", "请输入产品名称"),
    ("green_categories", [], "请至少选择一个绿色产业分类"),
    ("green_categories", ["9.9"], "绿色产业分类代码不存在：9.9"),
    ("collateral", [], "请至少选择一项担保方式"),
    ("min_amount_wan", "0", "最低金额必须大于 0"),
    ("max_amount_wan", "5", "最高金额不能小于最低金额"),
    ("max_amount_wan", "abc", "最高金额应为数字"),
    ("min_term_months", "0", "最短期限应在 1 到 360 之间"),
    ("max_term_months", "6", "最长期限不能小于最短期限"),
    ("rate_min", "-1", "最低年利率不能小于 0"),
    ("rate_max", "3.5", "最高利率不能小于最低利率"),
    ("rate_max", "6.555", "最高年利率最多保留 2 位小数"),
    ("region_codes", [], "请至少选择一个地区"),
    ("region_codes", ["330100"], "浙江省杭州市 不在所属银行的服务地区内"),
    ("enterprise_sizes", [], "请至少选择一项企业规模"),
    ("min_env_credit", "purple", "请选择最低环境信用等级"),
]


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("field", "value", "message"), BAD_INPUT,
                         ids=[f"{f}={v!r}" for f, v, _m in BAD_INPUT])
def test_each_rule_shows_its_message_beside_the_field(client, admin, field, value, message):
    login(client, admin)
    response = submit(client, "/bank/products/new", product_form(**{field: value}))
    assert response.status_code == 422
    assert field_errors(response, field) == [message]
    assert product_named("竹林碳汇贷") is None


@pytest.mark.sqlite_only
def test_the_typed_values_survive_a_failed_submission(client, admin):
    login(client, admin)
    response = submit(client, "/bank/products/new", product_form(
        max_amount_wan="5", rate_max="abc", region_codes=["330523", "330100"],
        collateral=["credit"], enterprise_sizes=["large"], min_env_credit="green", active=""))
    assert response.status_code == 422
    assert field_errors(response, "max_amount_wan") == ["最高金额不能小于最低金额"]
    assert field_errors(response, "rate_max") == ["最高年利率应为数字"]
    assert field_errors(response, "region_codes") == ["浙江省杭州市 不在所属银行的服务地区内"]
    assert input_value(response, "name") == "竹林碳汇贷"
    assert input_value(response, "max_amount_wan") == "5"
    assert input_value(response, "rate_max") == "abc"
    assert selected_all(response, "green_categories") == ["4.1.4", "4.1.5"]
    # The code outside the bank's regions stays chosen, so the user sees what to fix.
    assert selected_all(response, "region_codes") == ["330523", "330100"]
    assert ">浙江省杭州市 330100（不在本行服务地区内）<" in text(response)
    assert checked(response, "collateral") == ["credit"]
    assert checked(response, "enterprise_sizes") == ["large"]
    assert selected(response, "min_env_credit") == "green"
    assert checked(response, "active") == []
    assert "以竹林碳汇收益权质押\n最长 5 年" in text(response)


# --- templates ---------------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_the_templates_page(client, admin):
    login(client, admin)
    page = text(client.get("/bank/products/templates"))
    for template in PRODUCT_TEMPLATES:
        assert template.name in page and template.modelled_on in page
        assert f'href="/bank/products/new?template={template.key}"' in page
    assert PRODUCT_TEMPLATES_BY_KEY["fulindai"].description[:40] in page
    assert "适合农村商业银行" in page  # the bank's kind publishes some of them


def test_a_template_prefills_the_form(client, bank, admin):
    template = PRODUCT_TEMPLATES_BY_KEY["fulindai"]
    login(client, admin)
    response = client.get("/bank/products/new?template=fulindai")
    assert response.status_code == 200
    assert f"已按模板“{template.name}”" in text(response)
    assert input_value(response, "name") == template.name
    assert input_value(response, "min_amount_wan") == str(template.min_amount_wan)
    assert input_value(response, "max_term_months") == str(template.max_term_months)
    assert input_value(response, "rate_max") == str(template.rate_max)
    assert selected_all(response, "green_categories") == list(template.categories)
    assert sorted(checked(response, "collateral")) == sorted(template.collateral)
    assert checked(response, "enterprise_sizes") == list(template.enterprise_sizes)
    assert selected(response, "min_env_credit") == template.min_env_credit
    assert selected_all(response, "region_codes") == bank.region_codes  # the bank's regions
    assert template.description in text(response)

    # The admin reviews, changes the name and publishes.
    data = {
        "name": "长兴福林贷", "description": template.description,
        "green_categories": list(template.categories), "collateral": list(template.collateral),
        "min_amount_wan": str(template.min_amount_wan),
        "max_amount_wan": str(template.max_amount_wan),
        "min_term_months": str(template.min_term_months),
        "max_term_months": str(template.max_term_months),
        "rate_min": str(template.rate_min), "rate_max": str(template.rate_max),
        "region_codes": bank.region_codes, "enterprise_sizes": list(template.enterprise_sizes),
        "min_env_credit": template.min_env_credit, "active": "y",
    }
    response = submit(client, "/bank/products/new?template=fulindai", data)
    assert response.status_code == 302
    product = product_named("长兴福林贷")
    assert set(product.category_codes) == set(template.categories) and product.active
    page = text(client.get(f"/bank/products/{product.id}"))
    assert page.index("4.1.4 森林") < page.index("4.1.10 森林")  # the catalog's order
    assert "长兴福林贷" in text(client.get("/products?category=4.1.4"))


@pytest.mark.sqlite_only
def test_an_unknown_template_is_404(client, admin):
    login(client, admin)
    assert client.get("/bank/products/new?template=nonsense").status_code == 404


# --- the bank's list, edit, on sale / off sale -------------------------------------------------


def test_take_off_sale_and_put_back(client, make, bank, admin):
    product = make.product(bank, admin, name="林权抵押贷", region_codes=["330523"])
    login(client, admin)
    listing = text(client.get("/bank/products"))
    assert "林权抵押贷" in listing and "在售" in listing
    assert f'action="/bank/products/{product.id}/active"' in listing

    response = submit(client, f"/bank/products/{product.id}/active", {"active": "0"},
                      form_page="/bank/products")
    assert response.status_code == 302 and response.headers["Location"] == "/bank/products"
    db.session.refresh(product)
    assert not product.active
    assert "林权抵押贷 已停售" in text(client.get("/bank/products"))
    assert "林权抵押贷" not in text(client.get("/products"))
    anonymous = client.application.test_client()
    assert anonymous.get(f"/products/{product.id}").status_code == 404
    # The bank still sees it, marked.
    own = client.get(f"/bank/products/{product.id}")
    assert own.status_code == 200 and "已停售" in text(own)
    assert "不在产品目录中公开" in text(client.get(f"/products/{product.id}"))

    response = submit(client, f"/bank/products/{product.id}/active",
                      {"active": "1", "back": "detail"}, form_page="/bank/products")
    assert response.headers["Location"] == f"/bank/products/{product.id}"
    db.session.refresh(product)
    assert product.active
    assert "林权抵押贷" in text(anonymous.get("/products"))


@pytest.mark.sqlite_only
def test_toggle_needs_the_csrf_token_and_a_state(client, make, bank, admin):
    product = make.product(bank, admin, region_codes=["330523"])
    login(client, admin)
    assert client.post(f"/bank/products/{product.id}/active",
                       data={"active": "0"}).status_code == 400
    response = submit(client, f"/bank/products/{product.id}/active", {"active": "maybe"},
                      form_page="/bank/products")
    assert response.status_code == 400
    db.session.refresh(product)
    assert product.active


@pytest.mark.sqlite_only
def test_edit_a_product(client, make, bank, admin):
    product = make.product(bank, admin, name="林权抵押贷", region_codes=["330523"])
    login(client, admin)
    form = client.get(f"/bank/products/{product.id}/edit")
    assert input_value(form, "name") == "林权抵押贷"
    assert input_value(form, "rate_max") == "7.10"
    assert selected_all(form, "green_categories") == ["4.1"]
    assert selected_all(form, "region_codes") == ["330523"]
    assert checked(form, "active") == ["y"]

    # A failed edit loses nothing already saved.
    response = submit(client, f"/bank/products/{product.id}/edit",
                      product_form(name="新名字", rate_min="8", rate_max="7"))
    assert response.status_code == 422
    assert field_errors(response, "rate_max") == ["最高利率不能小于最低利率"]
    assert input_value(response, "name") == "新名字"
    db.session.refresh(product)
    assert (product.name, product.rate_min) == ("林权抵押贷", Decimal("3.50"))

    response = submit(client, f"/bank/products/{product.id}/edit",
                      product_form(name="林权抵押贷（2025 版）", rate_min="3.2"))
    assert response.status_code == 302
    db.session.refresh(product)
    assert (product.name, product.rate_min) == ("林权抵押贷（2025 版）", Decimal("3.20"))
    assert product.region_codes == ["330522", "330523"]
    assert "已保存修改" in text(client.get(response.headers["Location"]))


@pytest.mark.sqlite_only
def test_managers_see_their_banks_products_read_only(client, make, bank, admin):
    product = make.product(bank, admin, name="林权抵押贷", region_codes=["330523"])
    login(client, make.bank_user(bank, role="bank_manager"))
    listing = text(client.get("/bank/products"))
    assert "本行产品" in listing and "林权抵押贷" in listing
    assert "/edit" not in listing and "/active" not in listing and "从模板创建" not in listing
    detail = text(client.get(f"/bank/products/{product.id}"))
    assert "林权抵押贷" in detail and "/edit" not in detail and "/active" not in detail


# --- who may open which page -------------------------------------------------------------------


def test_who_may_open_which_page(app, make, bank, admin):
    product = make.product(bank, admin, region_codes=["330523"])
    other_bank = make.bank()
    accounts = {
        "enterprise": make.enterprise()[1],
        "manager": make.bank_user(bank, role="bank_manager"),
        "admin_a": admin,
        "admin_b": make.bank_user(other_bank, role="bank_admin"),
        "manager_b": make.bank_user(other_bank, role="bank_manager"),
        "office": make.office(),
        "platform": make.platform_admin(),
    }
    p = product.id
    paths = ["/bank/products", "/bank/products/templates", "/bank/products/new",
             f"/bank/products/{p}", f"/bank/products/{p}/edit", "/products", f"/products/{p}"]
    expected = {
        "enterprise": (403, 403, 403, 403, 403, 200, 200),
        "manager": (200, 403, 403, 200, 403, 200, 200),
        "admin_a": (200, 200, 200, 200, 200, 200, 200),
        "admin_b": (200, 200, 200, 404, 404, 200, 200),
        "manager_b": (200, 403, 403, 404, 403, 200, 200),
        "office": (403, 403, 403, 403, 403, 200, 200),
        "platform": (403, 403, 403, 403, 403, 200, 200),
    }
    anonymous = app.test_client()
    for path in paths[:5]:
        response = anonymous.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == f"/login?next={quote(path, safe='')}", path
    assert anonymous.get("/products").status_code == 200
    assert anonymous.get(f"/products/{p}").status_code == 200

    for role, account in accounts.items():
        client = app.test_client()
        login(client, account)
        statuses = tuple(client.get(path).status_code for path in paths)
        assert statuses == expected[role], role
        if role != "admin_a":
            toggle = submit(client, f"/bank/products/{p}/active", {"active": "0"}, form_page="/")
            edit = submit(client, f"/bank/products/{p}/edit", product_form(name="冒名修改"),
                          form_page="/")
            wanted = 404 if role == "admin_b" else 403
            assert (toggle.status_code, edit.status_code) == (wanted, wanted), role
        if role not in ("admin_a", "admin_b"):
            response = submit(client, "/bank/products/new", product_form(name="越权产品"),
                              form_page="/")
            assert response.status_code == 403, role
    # Another bank's admin cannot publish for this bank either: a bank is never chosen in a form.
    client = app.test_client()
    login(client, accounts["admin_b"])
    response = submit(client, "/bank/products/new",
                      product_form(name="他行产品", bank_id=str(bank.id), region_codes=["330500"]))
    assert response.status_code == 302
    assert product_named("他行产品").bank_id == other_bank.id
    assert product_named("越权产品") is None
    db.session.refresh(product)
    assert product.active and product.name == "福林贷"


# --- the public catalogue ----------------------------------------------------------------------


@pytest.fixture
def shelf(make):
    """Four products of a 湖州 bank (one off sale) and one of a bank that was deactivated."""
    bank = make.bank(name="湖州银行", kind="city_commercial", region_codes=("330500",))
    admin = make.bank_user(bank, role="bank_admin")
    forestry = make.product(bank, admin, name="林业贷", green_categories=["4.1"],
                            region_codes=["330500"])
    bamboo = make.product(bank, admin, name="竹林贷", green_categories=["4.1.4"],
                          region_codes=["330523"])
    energy = make.product(bank, admin, name="能效贷", green_categories=["1.5"],
                          region_codes=["330502"], description="节能改造")
    make.product(bank, admin, name="停售林业贷", green_categories=["4.1"], region_codes=["330500"],
                 active=False)
    gone = make.bank(name="已退出银行", region_codes=("330500",))
    make.product(gone, name="退出银行林业贷", green_categories=["4.1"], region_codes=["330500"])
    gone.active = False
    db.session.commit()
    return forestry, bamboo, energy


def listed(client, query: str = "") -> set[str]:
    response = client.get(f"/products{query}")
    assert response.status_code == 200, query
    page = response.get_data(as_text=True)
    return set(re.findall(r'class="stretched-link[^"]*" href="/products/\d+">([^<]+)</a>', page))


def test_catalogue_filters_cover_both_ways(client, shelf):
    everything = {"林业贷", "竹林贷", "能效贷"}
    assert listed(client) == everything  # never what is off sale or of an inactive bank
    # Category: 4.1 covers a chosen 4.1.4; a chosen 4 covers the 4.1.4 product.
    assert listed(client, "?category=4.1.4") == {"林业贷", "竹林贷"}
    assert listed(client, "?category=4") == {"林业贷", "竹林贷"}
    assert listed(client, "?category=4.1.5") == {"林业贷"}
    assert listed(client, "?category=1") == {"能效贷"}
    assert listed(client, "?category=2") == set()
    # Region: 330500 covers a chosen 330523; a chosen 330000 covers 330502 and 330523.
    assert listed(client, "?region=330523") == {"林业贷", "竹林贷"}
    assert listed(client, "?region=330502") == {"林业贷", "能效贷"}
    assert listed(client, "?region=330000") == everything
    assert listed(client, "?region=330100") == set()
    # Together, and with a keyword.
    assert listed(client, "?category=4.1.4&region=330502") == {"林业贷"}
    assert listed(client, "?q=节能") == {"能效贷"}
    assert listed(client, "?q=湖州银行") == everything


@pytest.mark.sqlite_only
def test_catalogue_filters_keep_their_values_and_report_bad_codes(client, shelf):
    response = client.get("/products?category=4.1.4&region=330523&q=贷")
    assert selected(response, "category") == "4.1.4"
    assert input_value(response, "region") == "330523"
    assert input_value(response, "q") == "贷"
    assert "符合条件的产品 2 个" in text(response)

    response = client.get("/products?category=9.9&region=123456")
    assert response.status_code == 422
    assert field_errors(response, "category") == ["绿色产业分类代码不存在"]
    assert field_errors(response, "region") == ["行政区划代码不存在"]
    assert "筛选条件有误" in text(response)


@pytest.mark.sqlite_only
def test_catalogue_pages(client, make):
    bank = make.bank()
    admin = make.bank_user(bank, role="bank_admin")
    for n in range(14):
        make.product(bank, admin, name=f"产品{n:02d}")
    first = text(client.get("/products"))
    assert "全部在售产品 14 个" in first and "产品13" in first and "产品01" not in first
    assert 'href="/products?page=2"' in first
    second = text(client.get("/products?page=2"))
    assert "产品01" in second and "产品00" in second and "产品13" not in second
    beyond = client.get("/products?page=99")
    assert beyond.status_code == 200 and "产品00" not in text(beyond)


@pytest.mark.sqlite_only
def test_public_product_page(app, make, shelf):
    forestry, _bamboo, _energy = shelf
    off = product_named("停售林业贷")
    page = text(app.test_client().get(f"/products/{forestry.id}"))
    assert "林业贷" in page and "湖州银行" in page and "城市商业银行" in page
    assert "4.1 " in page and "浙江省湖州市" in page and "1.00 万元 ～ 200.00 万元" in page
    assert "企业注册" in page
    inactive_bank_product = product_named("退出银行林业贷")
    for path in (f"/products/{off.id}", f"/products/{inactive_bank_product.id}",
                 "/products/999999"):
        assert app.test_client().get(path).status_code == 404, path
    for account in (make.enterprise()[1], make.bank_user(make.bank(), role="bank_admin")):
        client = app.test_client()
        login(client, account)
        assert client.get(f"/products/{off.id}").status_code == 404
    # The product's own bank and the finance office still see it.
    for account in (make.bank_user(off.bank, role="bank_manager"), make.office()):
        client = app.test_client()
        login(client, account)
        response = client.get(f"/products/{off.id}")
        assert response.status_code == 200 and "不在产品目录中公开" in text(response)
