"""Banks and bank users through the API: who may do what, validation, conflicts."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from matchmaker.accounts.models import User
from matchmaker.banks.models import Bank
from matchmaker.extensions import db
from tests.factories import PASSWORD, api_token, errors_of

_n = iter(range(1, 1_000_000))


def new_bank(**overrides) -> dict:
    data = {"name": f"湖州接口测试银行{next(_n)}", "kind": "city_commercial",
            "region_codes": ["330500"]}
    data.update(overrides)
    return data


def new_user(**overrides) -> dict:
    n = next(_n)
    data = {"email": f"api-bank-user{n}@example.com", "password": PASSWORD,
            "name": f"客户经理{n}", "role": "bank_manager", "region_codes": ["330502"]}
    data.update(overrides)
    return data



def bank_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Bank.id)))


@pytest.fixture
def accounts(make):
    """One account of every role; the bank people belong to `bank`."""
    bank = make.bank(region_codes=["330500"])
    other_bank = make.bank(region_codes=["330500"])
    _, enterprise = make.enterprise()
    return {
        "bank": bank,
        "other_bank": other_bank,
        "office": make.office(),
        "admin": make.platform_admin(),
        "enterprise": enterprise,
        "bank_admin": make.bank_user(bank, role="bank_admin"),
        "bank_manager": make.bank_user(bank, role="bank_manager"),
        "other_bank_admin": make.bank_user(other_bank, role="bank_admin"),
    }


# --- POST /banks -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["office", "admin"])
def test_office_and_admin_create_banks(client, accounts, role):
    data = new_bank(region_codes=["330502", "330523", "330502"])
    response = client.post("/api/v1/banks", json=data, headers=api_token(client, accounts[role]))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    bank = db.session.get(Bank, body["id"])
    assert bank.name == data["name"]
    assert body == {"id": bank.id, "name": data["name"], "kind": "city_commercial",
                    "region_codes": ["330502", "330523"]}


@pytest.mark.parametrize("role", ["enterprise", "bank_admin", "bank_manager"])
def test_other_roles_may_not_create_banks(client, accounts, role):
    before = bank_count()
    response = client.post("/api/v1/banks", json=new_bank(),
                           headers=api_token(client, accounts[role]))
    errors_of(response, 403)
    # Refused before the body is even read: an invalid body is still a 403.
    response = client.post("/api/v1/banks", json={"kind": 7},
                           headers=api_token(client, accounts[role]))
    errors_of(response, 403)
    assert bank_count() == before


def test_creating_a_bank_needs_a_token_before_anything_else(client, accounts):
    errors_of(client.post("/api/v1/banks", json=new_bank()), 401)
    errors_of(client.post("/api/v1/banks", data="{not json", content_type="application/json"),
              401)


def test_duplicate_bank_name_is_409_on_name(client, accounts):
    headers = api_token(client, accounts["office"])
    data = new_bank()
    assert client.post("/api/v1/banks", json=data, headers=headers).status_code == 201
    errors = errors_of(client.post("/api/v1/banks", json=new_bank(name=data["name"]),
                                   headers=headers), 409)
    assert list(errors) == ["name"]


@pytest.mark.parametrize("overrides, field", [
    ({"region_codes": []}, "region_codes"),
    ({"region_codes": ["999999"]}, "region_codes"),
    ({"region_codes": ["330500", "abc"]}, "region_codes"),
    ({"region_codes": ["330103"]}, "region_codes"),  # retired
    ({"region_codes": "330500"}, "region_codes"),
    ({"region_codes": [330500]}, "region_codes"),
    ({"region_codes": None}, "region_codes"),
    ({"region_codes": ["3" * 100_000]}, "region_codes"),
    ({"region_codes": ["330500"] * 501}, "region_codes"),
    ({"name": "银" * 100_000}, "name"),
    ({"name": ""}, "name"),
    ({"name": 12}, "name"),
    ({"kind": "shadow"}, "kind"),
    ({"kind": ["village"]}, "kind"),
])
@pytest.mark.sqlite_only  # input validation: the same on every backend
def test_bad_bank_fields_are_422_naming_the_field(client, accounts, overrides, field):
    before = bank_count()
    response = client.post("/api/v1/banks", json=new_bank(**overrides),
                           headers=api_token(client, accounts["office"]))
    assert set(errors_of(response, 422)) == {field}
    assert bank_count() == before


def test_missing_bank_fields_are_all_named(client, accounts):
    response = client.post("/api/v1/banks", json={"extra": 1},
                           headers=api_token(client, accounts["office"]))
    assert set(errors_of(response, 422)) == {"name", "kind", "region_codes"}


def test_nan_bank_name_is_422(client, accounts):
    body = json.dumps(new_bank()).replace('"city_commercial"', "NaN")
    headers = api_token(client, accounts["office"]) | {"Content-Type": "application/json"}
    response = client.post("/api/v1/banks", data=body, headers=headers)
    assert set(errors_of(response, 422)) == {"kind"}


# --- GET /banks, GET /banks/{id} -------------------------------------------------------------


@pytest.mark.parametrize("role", ["office", "admin", "enterprise", "bank_admin", "bank_manager"])
def test_every_user_lists_banks(client, accounts, role):
    response = client.get("/api/v1/banks", headers=api_token(client, accounts[role]))
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == ["items"]
    ids = [item["id"] for item in body["items"]]
    assert ids == sorted(ids)
    assert {accounts["bank"].id, accounts["other_bank"].id} <= set(ids)
    first = next(item for item in body["items"] if item["id"] == accounts["bank"].id)
    assert first == {"id": accounts["bank"].id, "name": accounts["bank"].name,
                     "kind": "rural_commercial", "region_codes": ["330500"]}


def test_inactive_banks_are_not_listed(client, accounts):
    accounts["other_bank"].active = False
    db.session.commit()
    body = client.get("/api/v1/banks", headers=api_token(client, accounts["office"])).get_json()
    assert accounts["other_bank"].id not in [item["id"] for item in body["items"]]


def test_one_bank(client, accounts):
    bank = accounts["bank"]
    response = client.get(f"/api/v1/banks/{bank.id}",
                          headers=api_token(client, accounts["enterprise"]))
    assert response.status_code == 200
    assert response.get_json() == {"id": bank.id, "name": bank.name, "kind": bank.kind,
                                   "region_codes": ["330500"]}


@pytest.mark.parametrize("path", ["/api/v1/banks/999999", "/api/v1/banks/" + "9" * 30,
                                  "/api/v1/banks/abc", "/api/v1/banks/-1"])
def test_unknown_bank_is_404_json(client, accounts, path):
    errors_of(client.get(path, headers=api_token(client, accounts["office"])), 404)


@pytest.mark.parametrize("path", ["/api/v1/banks", "/api/v1/banks/1"])
def test_reading_banks_needs_a_token(client, accounts, path):
    errors_of(client.get(path), 401)


# --- POST /banks/{id}/users --------------------------------------------------------------------


@pytest.mark.parametrize("role", ["office", "admin", "bank_admin"])
def test_office_admin_and_the_banks_admin_add_users(client, accounts, role):
    bank = accounts["bank"]
    data = new_user(phone="13800000000")
    response = client.post(f"/api/v1/banks/{bank.id}/users", json=data,
                           headers=api_token(client, accounts[role]))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    user = db.session.get(User, body["id"])
    assert user.bank_id == bank.id and user.phone == "13800000000"
    assert body == {"id": user.id, "email": data["email"], "name": data["name"],
                    "role": "bank_manager", "bank_id": bank.id, "region_codes": ["330502"]}
    token = client.post("/api/v1/tokens", json={"email": data["email"], "password": PASSWORD})
    assert token.status_code == 201


def test_a_bank_admin_needs_no_regions(client, accounts):
    bank = accounts["bank"]
    data = new_user(role="bank_admin")
    del data["region_codes"]
    response = client.post(f"/api/v1/banks/{bank.id}/users", json=data,
                           headers=api_token(client, accounts["office"]))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["region_codes"] == []
    assert response.get_json()["role"] == "bank_admin"


@pytest.mark.parametrize("role", ["other_bank_admin", "bank_manager", "enterprise"])
def test_others_may_not_add_bank_users(client, accounts, role):
    bank = accounts["bank"]
    headers = api_token(client, accounts[role])
    users_before = db.session.scalar(sa.select(sa.func.count(User.id)))
    errors_of(client.post(f"/api/v1/banks/{bank.id}/users", json=new_user(), headers=headers),
              403)
    # The check comes before the body is read.
    errors_of(client.post(f"/api/v1/banks/{bank.id}/users", json={}, headers=headers), 403)
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == users_before


def test_adding_a_user_to_an_unknown_bank_is_404(client, accounts):
    headers = api_token(client, accounts["office"])
    errors_of(client.post("/api/v1/banks/999999/users", json=new_user(), headers=headers), 404)
    errors_of(client.post("/api/v1/banks/99999999999999999999/users", json=new_user(),
                          headers=headers), 404)


def test_adding_bank_users_needs_a_token(client, accounts):
    errors_of(client.post(f"/api/v1/banks/{accounts['bank'].id}/users", json=new_user()), 401)


def test_duplicate_user_email_is_409_on_email(client, accounts):
    bank = accounts["bank"]
    headers = api_token(client, accounts["bank_admin"])
    response = client.post(f"/api/v1/banks/{bank.id}/users",
                           json=new_user(email=accounts["enterprise"].email), headers=headers)
    assert list(errors_of(response, 409)) == ["email"]


@pytest.mark.parametrize("overrides, field", [
    ({"role": "office"}, "role"),
    ({"role": "admin"}, "role"),
    ({"role": "enterprise"}, "role"),
    ({"region_codes": []}, "region_codes"),  # a manager must cover somewhere
    ({"region_codes": ["330100"]}, "region_codes"),  # 杭州: outside the bank's 湖州
    ({"region_codes": ["000000"]}, "region_codes"),
    ({"region_codes": [None]}, "region_codes"),
    ({"region_codes": {"330502": True}}, "region_codes"),
    ({"email": "nobody"}, "email"),
    ({"email": ["a@example.com"]}, "email"),
    ({"password": "short"}, "password"),
    ({"password": None}, "password"),
    ({"name": "经" * 100_000}, "name"),
    ({"name": {"first": "张"}}, "name"),
    ({"phone": "1" * 33}, "phone"),
    ({"phone": 13800000000}, "phone"),
])
@pytest.mark.sqlite_only  # input validation: the same on every backend
def test_bad_user_fields_are_422_naming_the_field(client, accounts, overrides, field):
    bank = accounts["bank"]
    response = client.post(f"/api/v1/banks/{bank.id}/users", json=new_user(**overrides),
                           headers=api_token(client, accounts["office"]))
    assert set(errors_of(response, 422)) == {field}


def test_missing_user_fields_are_all_named(client, accounts):
    bank = accounts["bank"]
    response = client.post(f"/api/v1/banks/{bank.id}/users", json={},
                           headers=api_token(client, accounts["bank_admin"]))
    assert set(errors_of(response, 422)) == {"email", "password", "name", "role"}


def test_malformed_user_json_is_400(client, accounts):
    bank = accounts["bank"]
    headers = api_token(client, accounts["office"]) | {"Content-Type": "application/json"}
    response = client.post(f"/api/v1/banks/{bank.id}/users", data='{"email": ', headers=headers)
    errors_of(response, 400)
