"""The 2024 catalog's top level, the 2019 → 2024 mapping, and reports grouped by it."""

from __future__ import annotations

import pytest

from matchmaker.green import catalog, catalog2024
from matchmaker.office import stats
from tests.factories import api_token, login
from tests.webutil import text

TOPS_2024 = ["节能降碳产业", "环境保护产业", "资源循环利用产业", "能源绿色低碳转型",
             "生态保护修复和利用", "基础设施绿色升级", "绿色服务"]


def test_the_2024_top_level_has_its_seven_items():
    assert list(catalog2024.tops()) == ["1", "2", "3", "4", "5", "6", "7"]
    assert list(catalog2024.tops().values()) == TOPS_2024


def test_every_2019_item_maps_to_one_2024_top_level_and_each_receives_some():
    mapping = catalog2024.leaf_map()
    assert set(mapping) == set(catalog.leaves())
    assert set(mapping.values()) == set(catalog2024.tops())
    rows = catalog.read_tsv("catalog_2019_to_2024.tsv")
    assert all(row["code_2019"] in catalog.items() for row in rows)
    assert all(row["code_2024"] in catalog2024.tops() and row["note"] for row in rows)


@pytest.mark.parametrize("code, top", [
    ("3", "4"), ("4", "5"), ("5", "6"), ("6", "7"), ("1.5", "1"), ("1.6.3", "2"),
    ("1.7.2", "3"), ("2.1.1", "3"), ("2.1.3", "2"), ("3.2.2", "4"), ("4.1.4", "5"),
    ("5.3.1", "6"), ("6.2.2", "7"), ("1", None), ("2", None), ("2.1", None), ("9.9", None),
])
def test_a_2019_code_of_any_level_maps_when_its_items_agree(code, top):
    assert catalog2024.top_2024(code) == top


def test_report_keys_and_labels():
    assert catalog2024.report_key("3.2.2") == "4"
    assert catalog2024.label("4") == "4 能源绿色低碳转型"
    assert catalog2024.report_key("1") == "2019:1"
    assert "1 节能环保产业" in catalog2024.label("2019:1")


def test_the_office_reports_by_the_2024_top_level(app, make, client, db_backend):
    _enterprise, account = make.enterprise(industry_code="44")
    for category, amount in (("3.2.2", "100.00"), ("3.4.2", "50.00"), ("1.5.1", "80.00"),
                             ("1", "30.00"), ("2.1.1", "20.00")):
        make.need(account, green_category=category, amount_wan=amount,
                  description="厂房屋顶光伏和节能改造")
    rows = {r["key"]: r for r in stats.breakdown(stats.Filters(), "category2024")}
    assert set(rows) == {"1", "3", "4", "2019:1"}
    assert rows["4"]["needs_posted"] == 2 and str(rows["4"]["amount_requested_wan"]) == "150.00"
    assert rows["4"]["label"] == "4 能源绿色低碳转型"
    assert rows["1"]["needs_posted"] == 1 and rows["3"]["needs_posted"] == 1
    assert rows["2019:1"]["needs_posted"] == 1 and rows["4"]["claim_rate"] == 0
    assert sum(r["needs_posted"] for r in rows.values()) == 5
    # The same through the API and on the dashboard.
    office = make.office()
    response = client.get("/api/v1/stats/breakdown?by=category2024",
                          headers=api_token(client, office))
    assert response.status_code == 200
    assert {i["key"] for i in response.get_json()["items"]} == set(rows)
    login(client, office)
    page = text(client.get("/office/dashboard"))
    assert "按绿色低碳转型产业大类（2024 目录" in page and "4 能源绿色低碳转型" in page
    csv = client.get("/office/dashboard/breakdown_category2024.csv")
    assert csv.status_code == 200 and "2024 目录大类" in csv.get_data(as_text=True)
