import pytest
import sqlalchemy as sa

from matchmaker.extensions import db
from matchmaker.reference import codes
from matchmaker.reference.loader import sync_reference_data


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        ("330500", "330502", True),
        ("330000", "330502", True),
        ("330000", "330500", True),
        ("330502", "330502", True),
        ("330500", "330602", False),
        ("330502", "330500", False),
        ("350400", "350404", True),
        ("4.1", "4.1.4", True),
        ("4", "4.1.4", True),
        ("4.1.4", "4.1.4", True),
        ("4.1", "4.10.1", False),
        ("1.1", "1.10", False),
        ("4.1.4", "4.1", False),
    ],
)
def test_covers(outer, inner, expected):
    assert codes.covers(outer, inner) is expected


def test_ancestors():
    assert codes.region_ancestors("330502") == ["330502", "330500", "330000"]
    assert codes.region_ancestors("330000") == ["330000"]
    assert codes.category_ancestors("4.1.4") == ["4.1.4", "4.1", "4"]


def test_lookups(app):
    assert codes.region("330523").full_name == "浙江省湖州市安吉县"
    assert codes.category("6.2.2").name.startswith("合同能源管理")
    assert codes.industry_section("38") == "C"
    assert codes.industry_section("C") == "C"
    assert codes.normalize_industry_code("c38") == "38"
    huzhou = [r.code for r in codes.current_regions("330500")]
    assert {"330502", "330503", "330521", "330522", "330523"} <= set(huzhou)
    assert all(not codes.region(c).retired for c in huzhou)
    assert len(codes.current_regions()) >= 31  # provinces


def test_retired_regions_are_kept_and_marked(app):
    chongwen = codes.region("110103")  # 崇文区, merged into 东城区 in 2010
    assert chongwen is not None and chongwen.retired
    assert "110103" not in [r.code for r in codes.current_regions("110100")]


def test_sync_is_idempotent(app):
    with db.engine.begin() as conn:
        assert sync_reference_data(conn) == {"green_categories": 0, "industries": 0, "regions": 0}
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE green_categories SET name = 'x' WHERE code = '4.1.4'"))
        assert sync_reference_data(conn)["green_categories"] == 1
    codes.forget_cache()
    assert codes.category("4.1.4").name != "x"
