"""Public reference endpoints: the green catalog and the regions."""

from __future__ import annotations

import pytest


def items(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert list(body) == ["items"]
    return body["items"]


def numeric(code: str) -> tuple[int, ...]:
    return tuple(int(part) for part in code.split("."))


def test_green_catalog_lists_all_247_in_numeric_order(client):
    response = client.get("/api/v1/catalog/green")
    rows = items(response)
    assert len(rows) == 247
    assert [r["level"] for r in rows].count(1) == 6
    assert [r["level"] for r in rows].count(2) == 30
    assert [r["level"] for r in rows].count(3) == 211
    assert [r["code"] for r in rows] == sorted((r["code"] for r in rows), key=numeric)
    codes = [r["code"] for r in rows]
    assert codes.index("4.1.9") < codes.index("4.1.10")
    assert set(rows[0]) == {"code", "name", "level", "parent_code"}
    leaf = next(r for r in rows if r["code"] == "4.1.4")
    assert leaf["parent_code"] == "4.1" and leaf["level"] == 3 and leaf["name"]
    assert rows[0]["parent_code"] is None
    assert "max-age" in response.headers["Cache-Control"]


def test_green_catalog_filters(client):
    top = items(client.get("/api/v1/catalog/green?level=1"))
    assert [r["code"] for r in top] == ["1", "2", "3", "4", "5", "6"]
    children = items(client.get("/api/v1/catalog/green?parent=4.1"))
    assert [r["code"] for r in children][:2] == ["4.1.1", "4.1.2"]
    assert [r["code"] for r in children][-1] == "4.1.11"
    assert {r["parent_code"] for r in children} == {"4.1"}
    assert items(client.get("/api/v1/catalog/green?parent=4.1&level=2")) == []
    assert items(client.get("/api/v1/catalog/green?parent=4.1.4")) == []


@pytest.mark.parametrize("query, field", [
    ("level=abc", "level"),
    ("level=0", "level"),
    ("level=4", "level"),
    ("level=1.5", "level"),
    ("level=" + "9" * 100, "level"),
    ("parent=" + "4" * 1000, "parent"),
])
def test_green_catalog_bad_query_is_422(client, query, field):
    response = client.get(f"/api/v1/catalog/green?{query}")
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == [field]


def test_green_catalog_unknown_parent_is_404(client):
    response = client.get("/api/v1/catalog/green?parent=9.9")
    assert response.status_code == 404
    assert list(response.get_json()["errors"]) == ["parent"]


def test_regions_without_parent_are_the_provinces(client):
    rows = items(client.get("/api/v1/regions"))
    codes = [r["code"] for r in rows]
    assert "330000" in codes and "110000" in codes
    assert all(r["level"] == 1 and r["parent_code"] is None for r in rows)
    assert codes == sorted(codes)
    zhejiang = next(r for r in rows if r["code"] == "330000")
    assert zhejiang == {"code": "330000", "name": "浙江省", "full_name": "浙江省", "level": 1,
                        "parent_code": None}


def test_regions_under_a_parent_are_current_children_only(client):
    huzhou = items(client.get("/api/v1/regions?parent=330500"))
    assert {"330502", "330503", "330521", "330522", "330523"} <= {r["code"] for r in huzhou}
    wuxing = next(r for r in huzhou if r["code"] == "330502")
    assert wuxing == {"code": "330502", "name": "吴兴区", "full_name": "浙江省湖州市吴兴区",
                      "level": 3, "parent_code": "330500"}
    hangzhou = {r["code"] for r in items(client.get("/api/v1/regions?parent=330100"))}
    assert "330102" in hangzhou  # 上城区
    assert "330103" not in hangzhou  # 下城区, merged into 拱墅区 in 2021
    cities = items(client.get("/api/v1/regions?parent=330000"))
    assert "330500" in {r["code"] for r in cities}
    assert {r["level"] for r in cities} == {2}


@pytest.mark.parametrize("parent", ["999999", "abc", "132100"])  # 132100 邯郸地区: retired
def test_regions_unknown_parent_is_404_json(client, parent):
    response = client.get(f"/api/v1/regions?parent={parent}")
    assert response.status_code == 404
    body = response.get_json()
    assert body["error"] and list(body["errors"]) == ["parent"]


def test_reference_endpoints_need_no_token(client):
    assert client.get("/api/v1/regions").status_code == 200
    assert client.get("/api/v1/catalog/green").status_code == 200
