"""洗绿 consistency flags: the industry table, the four checks, and who sees them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from matchmaker.demo.data import NEED_TEMPLATES, SECTORS
from matchmaker.green import catalog, classifier, flags
from matchmaker.reference import codes
from tests.factories import login
from tests.webutil import text


def kinds(need) -> list[str]:
    return [flag.kind for flag in flags.flags_for(need)]


def render(template: str) -> str:
    return template.format(place="安吉县", q=120, amount=150, term=36, collateral="林权抵押")


# --- the data ----------------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_industry_table_names_real_industries_and_categories(app):
    table = flags.industry_table()
    assert "*" in table and set("ABCDEFGHIJKLMNOPQRST") <= set(table)
    for industry, categories in table.items():
        assert industry == "*" or codes.industry_section(industry), industry
        for code in categories:
            assert code in catalog.items(), (industry, code)


@pytest.mark.sqlite_only
def test_every_demo_sector_posts_categories_its_industry_makes_plausible(app):
    """The demo enterprises are honest: none of their needs raises the industry flag."""
    templates = {t.key: t for t in NEED_TEMPLATES}
    for sector in SECTORS:
        for key in sector.needs:
            category = templates[key].category
            assert flags.category_plausible(category, sector.industry_code), (sector.key, key)


def test_every_demo_need_template_mentions_its_category():
    model = classifier.model()
    for template in NEED_TEMPLATES:
        for title in template.titles:
            body = render(title) + "\n" + render(template.description)
            leaves = catalog.leaves_under(template.category)
            assert model.evidence(body, leaves), (template.key, title)


# --- the checks on real needs -----------------------------------------------------------------


@pytest.mark.sqlite_only
def test_an_honest_need_has_no_flag(make):
    _enterprise, account = make.enterprise(industry_code="02", env_credit="green")
    need = make.need(account, title="毛竹林抚育和低产林改造",
                     description="经营毛竹林800亩，开展竹林抚育和林道修建，以林权抵押",
                     green_category="4.1.4", co2_reduction_t="150.00")
    assert flags.flags_for(need) == []


@pytest.mark.sqlite_only
def test_a_category_unusual_for_the_industry_is_flagged_with_the_usual_ones(make):
    _enterprise, account = make.enterprise(industry_code="65")  # 软件和信息技术服务业
    need = make.need(account, title="核电站主泵扩产",
                     description="为核电站配套生产核级主泵和压力容器",
                     green_category="3.1.5", co2_reduction_t=None)
    flag = next(f for f in flags.flags_for(need) if f.kind == "industry")
    assert "3.1.5 核电装备制造" in flag.detail and "65 软件和信息技术服务业" in flag.detail
    assert "通常申报" in flag.detail
    # A rooftop plant is plausible for anyone; a branch covering a plausible item too.
    assert flags.category_plausible("3.2.2", "65") and flags.category_plausible("6", "65")
    assert not flags.category_plausible("4.1.9", "65")


@pytest.mark.sqlite_only
@pytest.mark.parametrize("colour, label", [("red", "红"), ("black", "黑")])
def test_red_and_black_environmental_credit_is_flagged(make, colour, label):
    _enterprise, account = make.enterprise(industry_code="02", env_credit=colour)
    need = make.need(account, title="毛竹林抚育", description="毛竹林抚育和林道修建",
                     green_category="4.1.4")
    flag = flags.flags_for(need)[0]
    assert flag.kind == "env_credit" and flag.severity == "danger"
    assert label in flag.title and "环发〔2013〕150号" in flag.detail


@pytest.mark.sqlite_only
def test_yellow_credit_is_not_flagged(make):
    _enterprise, account = make.enterprise(industry_code="02", env_credit="yellow")
    need = make.need(account, green_category="4.1.4", description="林下种植，以林权抵押")
    assert "env_credit" not in kinds(need)


@pytest.mark.sqlite_only
def test_a_description_with_nothing_of_its_category_is_flagged(make):
    _enterprise, account = make.enterprise(industry_code="02")
    need = make.need(account, title="厂房屋顶光伏电站",
                     description="在厂房屋顶建设分布式光伏，自发自用", green_category="4.1.4")
    flag = next(f for f in flags.flags_for(need) if f.kind == "description")
    assert "4.1.4 森林资源培育产业" in flag.detail
    assert "3.2.2 太阳能利用设施建设和运营" in flag.detail  # what the text does suggest
    vague = make.need(account, title="补充流动资金", description="购买原材料，支付工资",
                      green_category="4.1.4")
    assert "description" in kinds(vague)


def test_co2_outlier_against_peers_of_the_category(make, db_backend):
    """Against 8 published rooftop-solar needs at about 0.2 t per 万元, 30 t per 万元 is
    flagged and 0.3 is not (SQL on both backends)."""
    _enterprise, account = make.enterprise(industry_code="44")
    for n in range(8):
        make.need(account, title=f"屋顶分布式光伏{n}", description="厂房屋顶分布式光伏电站",
                  green_category="3.2.2", amount_wan="500.00",
                  co2_reduction_t=str(Decimal("90.00") + n * 5))
    make.need(account, publish=False, title="草稿不算", description="屋顶光伏",
              green_category="3.2.2", amount_wan="1.00", co2_reduction_t="99999.00")
    boast = make.need(account, title="屋顶光伏电站", description="厂房屋顶分布式光伏电站",
                      green_category="3.2.2", amount_wan="100.00", co2_reduction_t="3000.00")
    flag = next(f for f in flags.flags_for(boast) if f.kind == "co2_outlier")
    assert "8 笔" in flag.detail and "3.2.2" in flag.detail and "30.00 吨" in flag.detail
    modest = make.need(account, title="屋顶光伏电站", description="厂房屋顶分布式光伏电站",
                       green_category="3.2.2", amount_wan="100.00", co2_reduction_t="30.00")
    assert "co2_outlier" not in kinds(modest)
    low = make.need(account, title="屋顶光伏电站", description="厂房屋顶分布式光伏电站",
                    green_category="3.2.2", amount_wan="100.00", co2_reduction_t="0.50")
    assert "co2_outlier" not in kinds(low)  # under-claiming is no greenwashing


@pytest.mark.sqlite_only
def test_the_peers_of_a_need_are_read_through_the_category_index(make):
    """Every need page asks for the peers of the need's category and of its parent: both
    queries must use the index on the category, not read every need (as a LIKE on the prefix
    did: 50 ms a page at province scale). SQLite's plan says so on a small table; PostgreSQL
    plans by the table's statistics, which a test's few rows do not give."""
    import sqlalchemy as sa

    from matchmaker.extensions import db

    _enterprise, account = make.enterprise(industry_code="44")
    need = make.need(account, title="屋顶光伏电站", description="厂房屋顶分布式光伏电站",
                     green_category="3.2.2", amount_wan="100.00", co2_reduction_t="30.00")
    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "co2_reduction_t >" in statement:
            captured.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        flags.co2_flag(need)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)
    assert len(captured) == 2  # the leaf 3.2.2, then its parent 3.2 (no peers in either)
    with db.engine.connect() as conn:
        for statement, parameters in captured:
            plan = "\n".join(str(row[-1]) for row in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, parameters))
            assert "ix_needs_green_category_code" in plan, plan


@pytest.mark.sqlite_only
def test_co2_without_peers_is_checked_against_an_absolute_ceiling(make):
    _enterprise, account = make.enterprise(industry_code="44")
    need = make.need(account, title="屋顶光伏电站", description="厂房屋顶分布式光伏电站",
                     green_category="3.2.2", amount_wan="10.00", co2_reduction_t="500.00")
    flag = next(f for f in flags.flags_for(need) if f.kind == "co2_outlier")
    assert "不足 8 笔" in flag.detail
    fine = make.need(account, title="屋顶光伏电站", description="厂房屋顶分布式光伏电站",
                     green_category="3.2.2", amount_wan="10.00", co2_reduction_t="150.00")
    assert "co2_outlier" not in kinds(fine)


# --- who sees them -----------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_banks_and_the_office_see_the_flags_the_enterprise_does_not(app, make):
    _enterprise, account = make.enterprise(industry_code="65", env_credit="red")
    need = make.need(account, title="核电站主泵扩产", description="为核电站配套生产核级主泵",
                     green_category="3.1.5", co2_reduction_t=None)
    bank = make.bank()
    for viewer in (make.bank_user(bank), make.bank_user(bank, role="bank_admin"), make.office()):
        client = app.test_client()
        login(client, viewer)
        page = text(client.get(f"/needs/{need.id}"))
        assert "洗绿风险提示" in page and "企业环境信用评价为红" in page, viewer.email
        assert "分类与企业所属行业不常见" in page
    client = app.test_client()
    login(client, account)
    page = text(client.get(f"/needs/{need.id}"))
    assert "洗绿风险提示" not in page and "企业环境信用评价为红" not in page


@pytest.mark.sqlite_only
def test_the_api_lists_a_need_s_flags_for_banks_and_the_office(client, make):
    from tests.factories import api_token, errors_of

    _enterprise, account = make.enterprise(industry_code="65", env_credit="black")
    need = make.need(account, title="核电站主泵扩产", description="为核电站配套生产核级主泵",
                     green_category="3.1.5", co2_reduction_t=None)
    url = f"/api/v1/needs/{need.id}/flags"
    for viewer in (make.bank_user(make.bank()), make.office()):
        response = client.get(url, headers=api_token(client, viewer))
        assert response.status_code == 200
        items = response.get_json()["items"]
        assert [i["kind"] for i in items] == ["env_credit", "industry"]
        assert set(items[0]) == {"kind", "title", "detail", "severity"}
        assert items[0]["severity"] == "danger" and "黑" in items[0]["title"]
    errors_of(client.get(url, headers=api_token(client, account)), 403)
    errors_of(client.get("/api/v1/needs/999999/flags",
                         headers=api_token(client, make.office())), 404)
