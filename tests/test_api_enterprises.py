"""POST /api/v1/enterprises: registration, 422 by field, 409 conflicts, unreadable bodies."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from matchmaker.accounts.models import User
from matchmaker.enterprises.models import Enterprise
from matchmaker.extensions import db
from tests.factories import PASSWORD, errors_of, make_uscc

URL = "/api/v1/enterprises"
_n = iter(range(500_000, 10_000_000))


def registration(**overrides) -> dict:
    n = next(_n)
    data = {
        "uscc": make_uscc(n), "name": f"安吉竹制品绿色科技有限公司{n}", "region_code": "330523",
        "industry_code": "C20", "size": "medium", "env_credit": "green",
        "contact_name": "李会计", "phone": "0572-5123456", "email": f"api{n}@example.com",
        "password": PASSWORD,
    }
    data.update(overrides)
    return data


def post_raw(client, body: str, content_type: str = "application/json"):
    return client.post(URL, data=body, content_type=content_type)



def enterprise_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Enterprise.id)))


def test_registration_returns_the_enterprise_with_ids(client):
    data = registration()
    response = client.post(URL, json=data)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert "password" not in body
    enterprise = db.session.get(Enterprise, body["id"])
    user = db.session.get(User, body["user_id"])
    assert enterprise.uscc == data["uscc"] and user.enterprise_id == enterprise.id
    assert user.role == "enterprise" and user.email == data["email"]
    assert body == {
        "id": enterprise.id, "uscc": data["uscc"], "name": data["name"],
        "region_code": "330523", "industry_code": "20", "size": "medium",
        "env_credit": "green", "contact_name": "李会计", "phone": "0572-5123456",
        "email": data["email"], "address": None, "user_id": user.id,
    }
    # The new user can sign in to the API at once.
    token = client.post("/api/v1/tokens", json={"email": data["email"], "password": PASSWORD})
    assert token.status_code == 201


def test_registration_ignores_unknown_fields(client):
    response = client.post(URL, json=registration(referrer="partner-bank", role="admin",
                                                  id=12345))
    assert response.status_code == 201
    user = db.session.get(User, response.get_json()["user_id"])
    assert user.role == "enterprise"
    assert response.get_json()["id"] != 12345


def test_bad_uscc_check_character_is_422_on_uscc(client):
    good = make_uscc(next(_n))
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    errors = errors_of(client.post(URL, json=registration(uscc=bad)))
    assert set(errors) == {"uscc"}
    assert "校验位" in errors["uscc"][0]
    assert enterprise_count() == 0


def test_registered_uscc_is_409_on_uscc(client):
    data = registration()
    assert client.post(URL, json=data).status_code == 201
    again = registration(uscc=data["uscc"])
    errors = errors_of(client.post(URL, json=again), 409)
    assert list(errors) == ["uscc"]
    assert enterprise_count() == 1


def test_registered_email_is_409_on_email(client):
    data = registration()
    assert client.post(URL, json=data).status_code == 201
    errors = errors_of(client.post(URL, json=registration(email=data["email"].upper())), 409)
    assert list(errors) == ["email"]


def test_every_missing_field_is_named(client):
    errors = errors_of(client.post(URL, json={}))
    assert set(errors) == {"uscc", "name", "region_code", "industry_code", "size", "env_credit",
                           "contact_name", "phone", "email", "password"}
    assert all(msgs for msgs in errors.values())


@pytest.mark.parametrize("field, value", [
    ("uscc", 913305020000000000),
    ("name", ["湖州"]),
    ("name", {"zh": "湖州"}),
    ("name", True),
    ("region_code", 330502),
    ("size", 1),
    ("env_credit", None),
    ("email", None),
    ("password", 1234567890123),
    ("address", 12),
])
@pytest.mark.sqlite_only  # input validation: the same on every backend
def test_wrong_types_are_422_naming_the_field(client, field, value):
    errors = errors_of(client.post(URL, json=registration(**{field: value})))
    assert set(errors) == {field}


@pytest.mark.parametrize("field, value, fragment", [
    ("name", "湖" * 100_000, "128"),
    ("contact_name", "王" * 65, "64"),
    ("phone", "1" * 33, "32"),
    ("address", "路" * 201, "200"),
    ("size", "huge", "micro"),
    ("env_credit", "purple", "green"),
    ("region_code", "999999", "行政区划"),
    ("region_code", "330103", "行政区划"),  # 杭州市下城区: retired in 2021
    ("industry_code", "Z9", "行业"),
    ("email", "not-an-email", "邮箱"),
    ("password", "short", "密码"),
    ("phone", "call me maybe", "电话"),
    ("name", "   ", "空"),
    ("name", "湖州\u0000公司", "控制字符"),
    ("contact_name", "\ud800", "Unicode"),
])
@pytest.mark.sqlite_only  # input validation: the same on every backend
def test_invalid_values_are_422_naming_the_field(client, field, value, fragment):
    # json.dumps escapes non-ASCII, so a lone surrogate travels as "\ud800" like in the wild.
    errors = errors_of(post_raw(client, json.dumps(registration(**{field: value}))))
    assert set(errors) == {field}
    assert any(fragment in msg for msg in errors[field]), errors
    assert enterprise_count() == 0


def test_nan_and_infinity_are_422_not_500(client):
    body = json.dumps(registration()).replace('"medium"', "NaN").replace('"green"', "Infinity")
    errors = errors_of(post_raw(client, body))
    assert set(errors) == {"size", "env_credit"}


@pytest.mark.parametrize("body", [
    '{"uscc": "91330502MA00000013",',
    "{'uscc': 'single quotes'}",
    '{"name": ' + "9" * 5000 + "}",  # beyond Python's integer-string limit
    "[" * 50_000 + "]" * 50_000,  # beyond the recursion limit
])
def test_malformed_json_is_400(client, body):
    response = post_raw(client, body)
    errors_of(response, 400)
    assert enterprise_count() == 0


def test_undecodable_body_is_400(client):
    response = client.post(URL, data=b'{"name": "\xff\xfe"}', content_type="application/json")
    errors_of(response, 400)


def test_non_json_content_type_is_400(client):
    response = client.post(URL, data=registration())  # form-encoded
    body = response.get_json()
    assert response.status_code == 400
    assert "application/json" in body["error"]


@pytest.mark.parametrize("body", ["null", "[]", '"text"', "42"])
def test_json_that_is_not_an_object_is_422(client, body):
    errors = errors_of(post_raw(client, body))
    assert list(errors) == ["_schema"]


def test_empty_body_is_422_listing_required_fields(client):
    errors = errors_of(post_raw(client, ""))
    assert "uscc" in errors and "password" in errors


def test_too_large_body_is_413_json(app, client):
    body = json.dumps(registration(address="x" * (app.config["MAX_CONTENT_LENGTH"] + 1)))
    response = post_raw(client, body)
    assert response.status_code == 413
    assert response.get_json()["error"]


def test_get_is_405_json(client):
    response = client.get(URL)
    assert response.status_code == 405
    assert set(response.get_json()) == {"error", "errors"}
