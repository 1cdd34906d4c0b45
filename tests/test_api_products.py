"""Loan products through the API: publishing by a bank's administrator, the public catalogue and
its two-way category/region filters, inactive products (404 to those who may not see them),
edits by the bank's own administrator only, audit rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from matchmaker.audit.models import AuditLog, OutboxEvent
from matchmaker.extensions import db
from matchmaker.products.models import Product
from tests.factories import PRODUCT, errors_of

URL = "/api/v1/products"



def product_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Product.id)))


def assert_timestamps(item: dict) -> None:
    for key in ("created_at", "updated_at"):
        assert datetime.fromisoformat(item[key]).utcoffset() == timedelta(0), item[key]
        assert item[key].endswith("+00:00")


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["id"] for item in response.get_json()["items"]]


@pytest.fixture
def people(make):
    bank_a = make.bank(region_codes=["330500"])
    bank_b = make.bank(region_codes=["330500", "330100"])
    _, enterprise = make.enterprise()
    return {
        "bank_a": bank_a, "bank_b": bank_b,
        "admin_a": make.bank_user(bank_a, role="bank_admin"),
        "manager_a": make.bank_user(bank_a),
        "admin_b": make.bank_user(bank_b, role="bank_admin"),
        "enterprise": enterprise, "office": make.office(), "platform_admin": make.platform_admin(),
    }


@pytest.fixture
def product_of(make, people):
    """product_of("a", **overrides): a product of bank A (or "b") made by its admin."""

    def build(bank: str = "a", **overrides) -> Product:
        return make.product(people[f"bank_{bank}"], people[f"admin_{bank}"], **overrides)

    return build


# --- POST /products ------------------------------------------------------------------------------


def test_a_bank_admin_publishes_a_product_of_its_own_bank(client, people, tokens):
    data = PRODUCT | {"bank_id": people["bank_b"].id, "id": 4242}  # ignored: not ours to choose
    response = client.post(URL, json=data, headers=tokens("admin_a"))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    product = db.session.get(Product, body["id"])
    bank = people["bank_a"]
    assert product.bank_id == bank.id and body["id"] != 4242
    assert_timestamps(body)
    assert {k: v for k, v in body.items() if k not in ("created_at", "updated_at")} == {
        "id": product.id, "bank_id": bank.id, "bank_name": bank.name, "name": "福林贷",
        "description": PRODUCT["description"], "green_categories": ["4.1"],
        "collateral": ["guarantee", "forest_rights"], "min_amount_wan": "1.00",
        "max_amount_wan": "200.00", "min_term_months": 6, "max_term_months": 60,
        "rate_min": "3.50", "rate_max": "7.10", "region_codes": ["330500"],
        "enterprise_sizes": ["micro", "small"], "min_env_credit": "blue", "active": True,
    }
    row = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "product.created")
                             ).one()
    assert row.object_id == str(product.id) and row.actor_id == people["admin_a"].user.id
    assert row.after["category_codes"] == ["4.1"]
    assert db.session.scalars(sa.select(OutboxEvent.topic)
                              .where(OutboxEvent.object_type == "product")).all() == \
        ["product.created"]


def test_numbers_are_accepted_and_defaults_apply(client, tokens):
    data = {k: v for k, v in PRODUCT.items() if k not in ("min_env_credit", "description")}
    data |= {"min_amount_wan": 0.5, "max_amount_wan": 300, "rate_min": 3, "rate_max": 6.15}
    response = client.post(URL, json=data, headers=tokens("admin_a"))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["min_amount_wan"], body["max_amount_wan"], body["rate_min"],
            body["rate_max"]) == ("0.50", "300.00", "3.00", "6.15")
    assert body["min_env_credit"] == "yellow" and body["active"] is True
    assert body["description"] == ""


def test_a_product_may_be_published_inactive(client, tokens):
    body = client.post(URL, json=PRODUCT | {"active": False}, headers=tokens("admin_a")).get_json()
    assert body["active"] is False
    assert db.session.get(Product, body["id"]).active is False


@pytest.mark.parametrize("role", ["manager_a", "enterprise", "office", "platform_admin"])
def test_only_bank_admins_publish_products(client, tokens, role):
    errors_of(client.post(URL, json=PRODUCT, headers=tokens(role)), 403)
    errors_of(client.post(URL, json={"name": 7}, headers=tokens(role)), 403)  # before the body
    assert product_count() == 0


def test_publishing_needs_a_token(client, people):
    errors_of(client.post(URL, json=PRODUCT), 401)
    assert product_count() == 0


def test_every_missing_required_field_is_named(client, tokens):
    errors = errors_of(client.post(URL, json={}, headers=tokens("admin_a")), 422)
    assert set(errors) == {"name", "green_categories", "collateral", "min_amount_wan",
                           "max_amount_wan", "min_term_months", "max_term_months", "rate_min",
                           "rate_max", "region_codes", "enterprise_sizes"}


@pytest.mark.parametrize("overrides, field", [
    ({"name": ""}, "name"), ({"name": "贷" * 65}, "name"), ({"name": 12}, "name"),
    ({"name": None}, "name"), ({"name": "x" * 100_000}, "name"),
    ({"description": "述" * 5001}, "description"), ({"description": 1}, "description"),
    ({"green_categories": []}, "green_categories"),
    ({"green_categories": ["9.9"]}, "green_categories"),
    ({"green_categories": "4.1"}, "green_categories"),
    ({"green_categories": [4.1]}, "green_categories"),
    ({"green_categories": ["4.1"] * 301}, "green_categories"),
    ({"collateral": []}, "collateral"), ({"collateral": ["gold"]}, "collateral"),
    ({"collateral": None}, "collateral"),
    ({"min_amount_wan": 0}, "min_amount_wan"), ({"min_amount_wan": "abc"}, "min_amount_wan"),
    ({"min_amount_wan": "NaN"}, "min_amount_wan"), ({"min_amount_wan": 1e30}, "min_amount_wan"),
    ({"max_amount_wan": "0.5"}, "max_amount_wan"),  # below the minimum of 1.00
    ({"max_amount_wan": "1.001"}, "max_amount_wan"),
    ({"min_term_months": 0}, "min_term_months"), ({"max_term_months": 361}, "max_term_months"),
    ({"min_term_months": "6"}, "min_term_months"), ({"max_term_months": 5}, "max_term_months"),
    ({"rate_min": -1}, "rate_min"), ({"rate_min": "36.01"}, "rate_min"),
    ({"rate_max": "3.49"}, "rate_max"),  # below the minimum rate
    ({"rate_max": "Infinity"}, "rate_max"), ({"rate_max": True}, "rate_max"),
    ({"region_codes": []}, "region_codes"), ({"region_codes": ["999999"]}, "region_codes"),
    ({"region_codes": ["330100"]}, "region_codes"),  # 杭州: outside bank A's 湖州
    ({"region_codes": [330500]}, "region_codes"),
    ({"enterprise_sizes": []}, "enterprise_sizes"),
    ({"enterprise_sizes": ["huge"]}, "enterprise_sizes"),
    ({"min_env_credit": "purple"}, "min_env_credit"), ({"min_env_credit": None}, "min_env_credit"),
    ({"active": "yes"}, "active"), ({"active": 1}, "active"), ({"active": None}, "active"),
])
@pytest.mark.sqlite_only  # input validation: the same on every backend
def test_bad_product_fields_are_422_naming_the_field(client, tokens, overrides, field):
    errors = errors_of(client.post(URL, json=PRODUCT | overrides, headers=tokens("admin_a")), 422)
    assert set(errors) == {field}, errors
    assert product_count() == 0


def test_a_region_inside_the_banks_area_is_accepted(client, tokens):
    # Bank B serves 湖州 and 杭州; a county of 杭州 is inside.
    response = client.post(URL, json=PRODUCT | {"region_codes": ["330106"]},
                           headers=tokens("admin_b"))
    assert response.status_code == 201, response.get_json()


# --- GET /products: the public catalogue ---------------------------------------------------------


def test_anyone_lists_active_products(client, people, tokens, product_of):
    active_a, active_b = product_of("a"), product_of("b")
    inactive = product_of("a", active=False)
    for headers in ({}, tokens("enterprise"), tokens("admin_b")):
        response = client.get(URL, headers=headers)
        listed = ids(response)
        assert set(listed) == {active_a.id, active_b.id} and inactive.id not in listed
    body = client.get(URL).get_json()
    assert set(body) == {"items", "page", "per_page", "total"} and body["total"] == 2
    item = next(i for i in body["items"] if i["id"] == active_b.id)
    assert item["bank_name"] == people["bank_b"].name and item["bank_id"] == people["bank_b"].id
    assert_timestamps(item)
    assert item == client.get(f"{URL}/{active_b.id}").get_json()


def test_products_of_an_inactive_bank_are_not_public(client, people, product_of):
    product = product_of("b")
    people["bank_b"].active = False
    db.session.commit()
    assert product.id not in ids(client.get(URL))
    errors_of(client.get(f"{URL}/{product.id}"), 404)


def test_filter_by_bank(client, people, product_of):
    a, b = product_of("a"), product_of("b")
    assert ids(client.get(f"{URL}?bank_id={people['bank_a'].id}")) == [a.id]
    assert ids(client.get(f"{URL}?bank_id={people['bank_b'].id}")) == [b.id]


@pytest.mark.parametrize("categories, code, matches", [
    (["4.1"], "4.1.4", True),   # the product's category covers the code
    (["4.1"], "4", True),       # the code covers the product's category
    (["4.1"], "4.1", True),
    (["4.1"], "4.2", False),
    (["4.1"], "4.2.1", False),
    (["4.1.4"], "4.1", True),
    (["4.1.4"], "4.1.1", False),
    (["1.1.1", "4.1.4"], "1", True),
    (["1.1.1", "4.1.4"], "3", False),
])
def test_category_filter_works_both_ways(client, product_of, categories, code, matches):
    product = product_of(green_categories=categories)
    assert (product.id in ids(client.get(f"{URL}?green_category={code}"))) is matches


@pytest.mark.parametrize("regions, code, matches", [
    (["330500"], "330523", True),    # the product's region covers the code
    (["330500"], "330000", True),    # the code covers the product's region
    (["330500"], "330500", True),
    (["330500"], "330100", False),
    (["330500"], "330106", False),
    (["330523"], "330500", True),
    (["330523"], "330502", False),
    (["330523"], "110000", False),
])
def test_region_filter_works_both_ways(client, product_of, regions, code, matches):
    product = product_of(region_codes=regions)
    assert (product.id in ids(client.get(f"{URL}?region_code={code}"))) is matches


def test_collateral_filter_counts_credit_products_as_accepting_anything(client, product_of):
    forest = product_of(collateral=["forest_rights"])
    credit = product_of(collateral=["credit"])
    pollution = product_of(collateral=["pollution_rights", "guarantee"])
    assert set(ids(client.get(f"{URL}?collateral=forest_rights"))) == {forest.id, credit.id}
    assert set(ids(client.get(f"{URL}?collateral=guarantee"))) == {pollution.id, credit.id}
    assert set(ids(client.get(f"{URL}?collateral=credit"))) == {credit.id}
    assert set(ids(client.get(f"{URL}?collateral=ip"))) == {credit.id}


def test_amount_and_term_fall_in_the_range(client, product_of):
    product = product_of(min_amount_wan="10", max_amount_wan="100", min_term_months=12,
                         max_term_months=24)
    matched = lambda qs: product.id in ids(client.get(URL + qs))  # noqa: E731
    assert matched("?amount_wan=10") and matched("?amount_wan=100") and matched("?amount_wan=50")
    assert not matched("?amount_wan=9.99") and not matched("?amount_wan=100.01")
    assert matched("?term_months=12") and matched("?term_months=24")
    assert not matched("?term_months=11") and not matched("?term_months=25")
    assert matched("?amount_wan=50&term_months=18")
    assert not matched("?amount_wan=500&term_months=18")


def test_text_search_in_name_and_description(client, product_of):
    forest = product_of(name="福林贷", description="林权抵押 Forest loan")
    energy = product_of(name="能效贷", description="合同能源管理 100% 绿色")
    assert ids(client.get(f"{URL}?q=林权")) == [forest.id]
    assert ids(client.get(f"{URL}?q=能效")) == [energy.id]
    assert ids(client.get(f"{URL}?q=forest")) == [forest.id]  # case does not matter
    assert ids(client.get(f"{URL}?q=%25")) == [energy.id]  # a literal %, not a wildcard
    assert ids(client.get(f"{URL}?q=_")) == []
    assert ids(client.get(f"{URL}?q=排污权")) == []


def test_paging_newest_first(client, product_of):
    made = [product_of(name=f"产品{i}").id for i in range(5)]
    base = datetime(2025, 3, 1, tzinfo=UTC)
    for offset, product_id in enumerate(made):
        db.session.get(Product, product_id).created_at = base + timedelta(hours=offset)
    db.session.commit()
    first = client.get(f"{URL}?per_page=2").get_json()
    assert [i["id"] for i in first["items"]] == made[::-1][:2]
    assert (first["page"], first["per_page"], first["total"]) == (1, 2, 5)
    last = client.get(f"{URL}?per_page=2&page=3").get_json()
    assert [i["id"] for i in last["items"]] == [made[0]]
    assert client.get(f"{URL}?per_page=2&page=4").get_json()["items"] == []
    farthest = client.get(f"{URL}?per_page=100&page=2147483647")
    assert farthest.status_code == 200 and farthest.get_json()["items"] == []


@pytest.mark.parametrize("query, field", [
    ("bank_id=abc", "bank_id"), ("bank_id=0", "bank_id"), ("bank_id=999999", "bank_id"),
    ("bank_id=" + "9" * 30, "bank_id"),
    ("green_category=9.9", "green_category"), ("green_category=", "green_category"),
    ("region_code=999999", "region_code"), ("region_code=" + "3" * 500, "region_code"),
    ("collateral=gold", "collateral"), ("collateral=", "collateral"),
    ("amount_wan=NaN", "amount_wan"), ("amount_wan=abc", "amount_wan"),
    ("amount_wan=-5", "amount_wan"), ("amount_wan=1e400", "amount_wan"),
    ("term_months=0", "term_months"), ("term_months=361", "term_months"),
    ("term_months=1.5", "term_months"),
    ("q=" + "x" * 101, "q"), ("q=", "q"),
    ("include_inactive=maybe", "include_inactive"),
    ("page=0", "page"), ("per_page=101", "per_page"), ("per_page=-1", "per_page"),
])
@pytest.mark.sqlite_only  # input validation: the same on every backend
def test_bad_filters_are_422_naming_the_parameter(client, people, query, field):
    errors = errors_of(client.get(f"{URL}?{query}"), 422)
    assert set(errors) == {field}, errors


# --- inactive products ---------------------------------------------------------------------------


def test_include_inactive_shows_the_banks_own_inactive_products(client, tokens, product_of):
    active = product_of("a")
    mine = product_of("a", active=False)
    theirs = product_of("b", active=False)
    for role in ("admin_a", "manager_a"):
        listed = set(ids(client.get(f"{URL}?include_inactive=true", headers=tokens(role))))
        assert listed == {active.id, mine.id}, role
    assert set(ids(client.get(f"{URL}?include_inactive=1", headers=tokens("admin_b")))) == \
        {active.id, theirs.id}
    assert set(ids(client.get(f"{URL}?include_inactive=true", headers=tokens("office")))) == \
        {active.id, mine.id, theirs.id}
    # false is the default: only what is public.
    assert ids(client.get(f"{URL}?include_inactive=false", headers=tokens("admin_a"))) == \
        [active.id]


def test_include_inactive_needs_a_bank_or_office_token(client, tokens, product_of):
    product_of("a", active=False)
    errors_of(client.get(f"{URL}?include_inactive=true"), 401)
    errors = errors_of(client.get(f"{URL}?include_inactive=true", headers=tokens("enterprise")),
                       403)
    assert list(errors) == ["include_inactive"]


def test_a_bad_token_is_401_even_on_public_operations(client, product_of):
    product = product_of("a")
    headers = {"Authorization": "Bearer not-a-token"}
    errors_of(client.get(URL, headers=headers), 401)
    errors_of(client.get(f"{URL}/{product.id}", headers=headers), 401)


@pytest.mark.parametrize("role, visible", [
    (None, False), ("enterprise", False), ("admin_b", False),
    ("admin_a", True), ("manager_a", True), ("office", True), ("platform_admin", True),
])
def test_an_inactive_product_is_404_to_those_who_may_not_see_it(client, tokens, product_of,
                                                                 role, visible):
    product = product_of("a", active=False)
    response = client.get(f"{URL}/{product.id}", headers=tokens(role) if role else {})
    if visible:
        assert response.status_code == 200 and response.get_json()["active"] is False
    else:
        missing = client.get(f"{URL}/999999", headers=tokens(role) if role else {})
        assert errors_of(response, 404) == errors_of(missing, 404)
        assert response.get_json()["error"] == missing.get_json()["error"]


@pytest.mark.parametrize("path", ["999999", "9" * 30, "abc", "-1"])
def test_unknown_products_are_404(client, path):
    errors_of(client.get(f"{URL}/{path}"), 404)


# --- PATCH /products/{id} ------------------------------------------------------------------------


def test_the_banks_admin_edits_a_product(client, people, tokens, product_of):
    product = product_of("a")
    before = client.get(f"{URL}/{product.id}").get_json()
    response = client.patch(f"{URL}/{product.id}",
                            json={"rate_max": 6.5, "green_categories": ["4.1", "1.1"]},
                            headers=tokens("admin_a"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["rate_max"] == "6.50" and body["green_categories"] == ["1.1", "4.1"]
    unchanged = {k: v for k, v in before.items()
                 if k not in ("rate_max", "green_categories", "updated_at")}
    assert {k: body[k] for k in unchanged} == unchanged
    assert_timestamps(body)
    row = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "product.updated")
                             ).one()
    assert row.actor_id == people["admin_a"].user.id and row.object_id == str(product.id)
    assert (row.before["rate_max"], row.after["rate_max"]) == ("7.10", "6.50")


def test_deactivating_and_reactivating(client, tokens, product_of):
    product = product_of("a")
    response = client.patch(f"{URL}/{product.id}", json={"active": False},
                            headers=tokens("admin_a"))
    assert response.status_code == 200 and response.get_json()["active"] is False
    assert product.id not in ids(client.get(URL))
    errors_of(client.get(f"{URL}/{product.id}"), 404)
    response = client.patch(f"{URL}/{product.id}", json={"active": True},
                            headers=tokens("admin_a"))
    assert response.status_code == 200 and response.get_json()["active"] is True
    assert product.id in ids(client.get(URL))
    actions = db.session.scalars(sa.select(AuditLog.action)
                                 .where(AuditLog.object_type == "product")
                                 .order_by(AuditLog.id)).all()
    assert actions == ["product.created", "product.updated", "product.updated"]


def test_an_empty_edit_changes_nothing(client, tokens, product_of):
    product = product_of("a")
    response = client.patch(f"{URL}/{product.id}", json={}, headers=tokens("admin_a"))
    assert response.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id))
                             .where(AuditLog.action == "product.updated")) == 0


@pytest.mark.parametrize("body, field", [
    ({"name": None}, "name"), ({"name": ""}, "name"),
    ({"max_amount_wan": "0.99"}, "max_amount_wan"),  # below the saved minimum of 1.00
    ({"min_term_months": 61}, "max_term_months"),  # above the saved maximum of 60
    ({"rate_min": "8"}, "rate_max"),  # above the saved maximum rate of 7.10
    ({"region_codes": ["330100"]}, "region_codes"),
    ({"green_categories": []}, "green_categories"), ({"active": "false"}, "active"),
    ({"min_env_credit": "purple"}, "min_env_credit"),
])
@pytest.mark.sqlite_only  # input validation: the same on every backend
def test_bad_edits_are_422_and_change_nothing(client, tokens, product_of, body, field):
    product = product_of("a")
    errors = errors_of(client.patch(f"{URL}/{product.id}", json=body, headers=tokens("admin_a")),
                       422)
    assert set(errors) == {field}, errors
    db.session.expire_all()
    product = db.session.get(Product, product.id)
    assert product.name == "福林贷" and product.max_amount_wan == Decimal("200.00")
    assert product.active is True and product.region_codes == ["330500"]


def test_another_banks_admin_gets_403_or_404(client, tokens, product_of):
    active = product_of("a")
    inactive = product_of("a", active=False)
    errors_of(client.patch(f"{URL}/{active.id}", json={"name": "抢来的"},
                           headers=tokens("admin_b")), 403)
    errors_of(client.patch(f"{URL}/{active.id}", json={"name": 7},  # before the body
                           headers=tokens("admin_b")), 403)
    # An inactive product of another bank is not theirs to see: 404, as if it did not exist.
    errors_of(client.patch(f"{URL}/{inactive.id}", json={"active": True},
                           headers=tokens("admin_b")), 404)
    db.session.expire_all()
    assert db.session.get(Product, active.id).name == "福林贷"
    assert db.session.get(Product, inactive.id).active is False


@pytest.mark.parametrize("role", ["manager_a", "enterprise", "office", "platform_admin"])
def test_other_roles_may_not_edit_products(client, tokens, product_of, role):
    product = product_of("a")
    errors_of(client.patch(f"{URL}/{product.id}", json={"active": False}, headers=tokens(role)),
              403)
    assert db.session.get(Product, product.id).active is True


def test_editing_needs_a_token_and_an_existing_product(client, tokens, product_of):
    product = product_of("a")
    errors_of(client.patch(f"{URL}/{product.id}", json={"active": False}), 401)
    errors_of(client.patch(f"{URL}/999999", json={"active": False}, headers=tokens("admin_a")),
              404)
