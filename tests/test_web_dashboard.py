"""The office dashboard page and its exports: the same numbers as the statistics functions."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from matchmaker.office import reports, stats
from tests.factories import login
from tests.test_office_stats import history  # noqa: F401  (fixture)


@pytest.fixture
def office_client(client, make):
    login(client, make.office())
    return client


def test_the_page_shows_the_kpis_tables_and_chart_data(office_client, history):  # noqa: F811
    page = office_client.get("/office/dashboard?start=2026-04-01&end=2026-06-30")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    want = stats.summary(stats.Filters(start=date(2026, 4, 1), end=date(2026, 6, 30)))
    assert reports.display(want["claim_rate"], "rate") in html
    assert reports.display(want["amount_approved_wan"], "money") in html
    assert 'id="gm-chart-data"' in html and "echarts.common.min.js" in html
    for heading in ("按月趋势", "按绿色产业大类", "按地区", "按国民经济行业门类", "银行排行"):
        assert heading in html
    assert "<script>" not in html  # no inline script: a strict CSP forbids it


def test_the_bank_ranking_sorts_by_any_column(office_client, history):  # noqa: F811
    rows = stats.banks(stats.Filters())
    page = office_client.get("/office/dashboard?sort=bank_name&dir=asc").get_data(as_text=True)
    names = sorted(r["bank_name"] for r in rows)
    positions = [page.index(name, page.index("banks-heading")) for name in names]
    assert positions == sorted(positions)
    page = office_client.get("/office/dashboard?sort=grabs&dir=asc").get_data(as_text=True)
    by_grabs = [r["bank_name"] for r in sorted(rows, key=lambda r: r["grabs"])]
    positions = [page.index(name, page.index("banks-heading")) for name in by_grabs]
    assert positions == sorted(positions)
    assert office_client.get("/office/dashboard?sort=__class__").status_code == 200


def test_bad_filters_get_a_chinese_message_not_a_500(office_client, history):  # noqa: F811
    page = office_client.get("/office/dashboard?start=2026-05-01&end=2026-04-01")
    assert page.status_code == 422
    assert "结束日期不能早于开始日期" in page.get_data(as_text=True)
    page = office_client.get("/office/dashboard?start=yesterday")
    assert page.status_code == 422 and "日期" in page.get_data(as_text=True)
    assert office_client.get("/office/dashboard?region_code=999999").status_code == 422
    assert office_client.get("/office/dashboard/export.xlsx?bank_id=x").status_code == 422
    assert office_client.get("/office/dashboard/nothing.csv").status_code == 404


def test_the_workbook_has_one_sheet_per_table_with_the_same_numbers(office_client,
                                                                   history):  # noqa: F811
    response = office_client.get("/office/dashboard/export.xlsx?region_code=330500")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["关键指标", "按绿色产业大类", "按地区", "按月份",
                               "按国民经济行业门类", "按绿色低碳转型产业大类（2024）", "银行排行"]
    f = stats.Filters(region_code="330500")
    summary = stats.summary(f)
    values = {row[0].value: row[1] for row in book["关键指标"].iter_rows(min_row=3)}
    cell = values["对接率（获抢单需求 ÷ 发布需求）"]
    assert Decimal(str(cell.value)) == summary["claim_rate"] and cell.number_format == "0.00%"
    cell = values["放款金额（万元）"]
    assert Decimal(str(cell.value)) == summary["amount_disbursed_wan"]
    assert cell.number_format == "#,##0.00"
    banks = list(book["银行排行"].iter_rows(min_row=3, values_only=True))
    assert [(r[0], r[1]) for r in banks] == [(b["bank_name"], b["grabs"])
                                           for b in stats.banks(f)]
    assert "湖州市" in book["关键指标"]["A1"].value  # the filters are written on every sheet


def test_each_table_downloads_as_csv(office_client, history):  # noqa: F811
    response = office_client.get("/office/dashboard/breakdown_category.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["绿色产业大类", "发布需求数", "申请金额（万元）"]
    want = stats.breakdown(stats.Filters(), "category")
    assert [(r[0], int(r[1]), Decimal(r[2])) for r in rows[1:]] == [
        (w["label"], w["needs_posted"], w["amount_requested_wan"]) for w in want]


@pytest.mark.parametrize("role", ["anonymous", "enterprise", "bank_manager", "bank_admin"])
def test_only_the_office_sees_the_dashboard(client, make, role):
    if role != "anonymous":
        if role == "enterprise":
            _, account = make.enterprise()
        else:
            account = make.bank_user(make.bank(), role=role)
        login(client, account)
    for url in ("/office/dashboard", "/office/dashboard/export.xlsx",
                "/office/dashboard/banks.csv"):
        response = client.get(url)
        assert response.status_code in (302, 403), url
        if role == "anonymous":
            assert "/login" in response.headers["Location"]
