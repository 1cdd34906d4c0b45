"""The OpenAPI document, and checks driven by it over every operation it lists."""

from __future__ import annotations

import json
import re

import pytest

from matchmaker.claims.services import grab
from tests.factories import api_token

EXPECTED = {
    "/api/v1/tokens": {"post", "delete"},
    "/api/v1/me": {"get"},
    "/api/v1/enterprises": {"post"},
    "/api/v1/banks": {"get", "post"},
    "/api/v1/banks/{bank_id}": {"get"},
    "/api/v1/banks/{bank_id}/users": {"post"},
    "/api/v1/catalog/green": {"get"},
    "/api/v1/regions": {"get"},
    "/api/v1/needs": {"get", "post"},
    "/api/v1/needs/{need_id}": {"get", "patch"},
    "/api/v1/needs/{need_id}/publish": {"post"},
    "/api/v1/needs/{need_id}/withdraw": {"post"},
    "/api/v1/products": {"get", "post"},
    "/api/v1/products/{product_id}": {"get", "patch"},
    "/api/v1/audit": {"get"},
    "/api/v1/green/classify": {"post"},
    "/api/v1/needs/{need_id}/flags": {"get"},
}
PUBLIC = {("/api/v1/tokens", "post"), ("/api/v1/enterprises", "post"),
          ("/api/v1/catalog/green", "get"), ("/api/v1/regions", "get"),
          ("/api/v1/products", "get"), ("/api/v1/products/{product_id}", "get")}
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def spec(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return json.loads(response.get_data(as_text=True))


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def body_schema(spec: dict, operation: dict) -> dict | None:
    body = operation.get("requestBody")
    if not body:
        return None
    return resolve(spec, body["content"]["application/json"]["schema"])


def test_document_lists_every_path_with_its_methods(spec):
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] and spec["info"]["version"] == "v1"
    for path, methods in EXPECTED.items():
        assert path in spec["paths"], path
        documented = {m for m in spec["paths"][path] if m in METHODS}
        assert documented == methods, path
    for path, _method, _operation in operations(spec):
        assert path.startswith("/api/v1/")


def test_document_declares_bearer_auth_on_protected_operations_only(spec):
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert "security" not in spec  # no global requirement: some operations are public
    for path, method, operation in operations(spec):
        if (path, method) in PUBLIC:
            assert "security" not in operation, (path, method)
        elif path in EXPECTED:
            assert operation["security"] == [{"bearerAuth": []}], (path, method)
            assert "401" in operation["responses"], (path, method)
    assert spec["paths"]["/api/v1/banks"]["post"]["x-roles"] == ["office", "admin"]
    assert "403" in spec["paths"]["/api/v1/banks"]["post"]["responses"]


def test_error_responses_use_the_error_schema(spec):
    error = spec["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"error", "errors"}
    unauthorized = spec["components"]["responses"]["UNAUTHORIZED"]
    ref = unauthorized["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/Error")


def test_request_strings_are_bounded_and_codes_enumerated(spec):
    for path, method, operation in operations(spec):
        schema = body_schema(spec, operation)
        if schema is None:
            continue
        for name, prop in schema["properties"].items():
            prop = resolve(spec, prop)
            if prop.get("type") == "array":
                assert "maxItems" in prop, (path, method, name)
                prop = resolve(spec, prop["items"])
            if prop.get("type") == "string":
                assert "maxLength" in prop or "enum" in prop, (path, method, name)
    registration = body_schema(spec, spec["paths"]["/api/v1/enterprises"]["post"])
    assert registration["properties"]["size"]["enum"] == ["micro", "small", "medium", "large"]
    assert set(registration["required"]) >= {"uscc", "name", "password"}


def test_document_is_a_valid_openapi_3_document(spec):
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(spec)


# --- checks over every operation in the document ------------------------------------------------


def concrete(path: str, ids: dict | int = 1) -> str:
    """The path with its parameters filled in: one id for all, or {parameter: id}."""
    if isinstance(ids, int):
        return re.sub(r"\{[^}]+\}", str(ids), path)
    return re.sub(r"\{([^}]+)\}", lambda m: str(ids[m.group(1)]), path)


@pytest.fixture
def callers(client, make) -> tuple[dict, dict]:
    """Someone allowed to call each operation, and an object of theirs for each path parameter:
    ({role: headers}, {parameter: id}). Use `headers_for(operation, ...)` to pick the caller."""
    bank = make.bank()
    bank_admin = make.bank_user(bank, role="bank_admin")
    _, enterprise = make.enterprise()
    need = make.need(enterprise)
    product = make.product(bank, bank_admin)
    manager = make.bank_user(bank)
    claim = grab(need.id, manager.user)
    json_type = {"Content-Type": "application/json"}
    headers = {role: api_token(client, account) | json_type for role, account in (
        ("admin", make.platform_admin()), ("enterprise", enterprise),
        ("bank_admin", bank_admin), ("bank_manager", manager))}
    return headers, {"bank_id": bank.id, "need_id": need.id, "product_id": product.id,
                     "claim_id": claim.id}


def headers_for(operation: dict, headers: dict) -> dict:
    """The platform admin where the operation allows it, else its first allowed role."""
    roles = operation.get("x-roles") or ["admin"]
    return headers["admin" if "admin" in roles else roles[0]]


def test_every_protected_operation_is_401_without_a_token(client, spec):
    checked = 0
    for path, method, operation in operations(spec):
        if "security" not in operation:
            continue
        response = client.open(concrete(path), method=method.upper(), json={})
        assert response.status_code == 401, (path, method)
        body = response.get_json()
        assert set(body) == {"error", "errors"}, (path, method)
        checked += 1
    assert checked >= 6


def bad_values(prop: dict) -> list:
    """Values that no field of this description may accept."""
    kind, form = prop.get("type"), prop.get("format")
    values = [{"nested": 1}, float("nan"), float("inf"), "x" * 100_000]
    if kind != "boolean":
        values.append(True)
    if kind == "array":
        values += ["text", 7, [None], [12], ["x" * 100_000]]
        if prop.get("minItems"):
            values.append([])
        if "enum" in prop.get("items", {}):
            values.append(["not-a-code"])
    elif kind == "boolean":
        values += ["true", "yes", 1, 0, ["list"]]
    elif kind == "integer":
        values += ["12", 1.5, 10**30, -(10**30), ["list"]]
        if "minimum" in prop:
            values.append(prop["minimum"] - 1)
        if "maximum" in prop:
            values.append(prop["maximum"] + 1)
    elif form == "decimal":  # a string or a number
        values += ["abc", "NaN", "-Infinity", "1e400", 10**30, "1.001", ["list"]]
    elif form == "date":
        values += [12, "2025-02-30", "2025-1-1", "tomorrow", "2025-01-01T00:00:00", ["list"]]
    else:
        values += [12, ["list"]]
        if "enum" in prop:
            values.append("not-a-code")
    if not prop.get("nullable"):
        values.append(None)
    return values


def test_every_body_field_refuses_bad_values_with_422_naming_it(client, spec, callers):
    headers, ids = callers
    checked = set()
    for path, method, operation in operations(spec):
        schema = body_schema(spec, operation)
        if schema is None:
            continue
        url = concrete(path, ids)
        for name, prop in schema["properties"].items():
            if prop.get("readOnly"):
                continue
            for value in bad_values(resolve(spec, prop)):
                body = json.dumps({name: value})  # NaN and Infinity travel as JSON literals
                response = client.open(url, method=method.upper(), data=body,
                                       headers=headers_for(operation, headers))
                assert response.status_code == 422, (path, method, name, value)
                errors = response.get_json()["errors"]
                assert name in errors, (path, method, name, value, errors)
                assert all(isinstance(m, str) for m in errors[name])
            checked.add((path, name))
    assert {("/api/v1/enterprises", "uscc"), ("/api/v1/banks", "region_codes"),
            ("/api/v1/banks/{bank_id}/users", "role"), ("/api/v1/tokens", "password"),
            ("/api/v1/needs", "amount_wan"), ("/api/v1/needs/{need_id}", "deadline"),
            ("/api/v1/needs/{need_id}/withdraw", "reason"), ("/api/v1/products", "rate_max"),
            ("/api/v1/products/{product_id}", "active")} <= checked


def test_every_body_refuses_malformed_json_with_400(client, spec, callers):
    headers, ids = callers
    for path, method, operation in operations(spec):
        if body_schema(spec, operation) is None:
            continue
        assert operation["responses"]["400"] == {"$ref": "#/components/responses/BAD_REQUEST"}
        for body in ('{"name": "unterminated', "{,}", "\x00"):
            response = client.open(concrete(path, ids), method=method.upper(), data=body,
                                   headers=headers_for(operation, headers))
            assert response.status_code == 400, (path, method, body)
            assert set(response.get_json()) == {"error", "errors"}


def test_every_status_a_description_names_is_documented(spec):
    """"… 时 422" in the text of an operation is a 422 in its responses."""
    for path, method, operation in operations(spec):
        text = operation.get("summary", "") + operation.get("description", "")
        named = set(re.findall(r"(?<![A-Za-z0-9_-])([1-5][0-9][0-9])(?![0-9A-Za-z])", text))
        assert named <= set(operation["responses"]), (path, method, named)


def test_the_400_is_documented_with_the_error_schema(spec):
    bad_request = spec["components"]["responses"]["BAD_REQUEST"]
    assert bad_request["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


def test_every_id_in_a_path_beyond_the_documented_range_is_404(client, spec, callers):
    """An id of nothing is 404 whatever the method. (With werkzeug's int(max=…) converter, PATCH
    /needs/{id} or PUT /banks/{id}/webhook with a too large id was 405: the path's GET rule counted
    as a match for another method.)"""
    headers, _ids = callers
    checked = 0
    for path, method, operation in operations(spec):
        if "{" not in path:
            continue
        for too_big in (2**31, 10**30):
            response = client.open(concrete(path, too_big), method=method.upper(), json={},
                                   headers=headers_for(operation, headers))
            assert response.status_code == 404, (path, method, too_big)
            assert set(response.get_json()) == {"error", "errors"}
        parameters = spec["paths"][path].get("parameters", []) + operation.get("parameters", [])
        for parameter in parameters:
            if parameter["in"] == "path":
                assert parameter["schema"] == {"type": "integer", "minimum": 0,
                                               "maximum": 2**31 - 1}, (path, parameter)
        checked += 1
    assert checked >= 20


def test_the_api_leaves_error_rendering_to_the_app():
    """flask-smorest would answer errors as {"code", "status", "message"}: it must not register."""
    from flask import Flask

    from matchmaker.api import GreenMatchApi

    bare = Flask("bare")
    bare.config.update(API_TITLE="t", API_VERSION="v1", OPENAPI_VERSION="3.0.3")
    GreenMatchApi(bare)
    assert not any(bare.error_handler_spec.get(None, {}).values())


def test_api_fields_are_documented_as_they_travel(app):
    from matchmaker.api.fields import Code, DecimalString, Int, ListOf, Str

    api = app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    to_property = api.ma_plugin.converter.field2property
    decimal = to_property(DecimalString(minimum=0))
    assert decimal["type"] == "string" and decimal["format"] == "decimal"
    integer = to_property(Int(minimum=1, maximum=9))
    assert (integer["type"], integer["minimum"], integer["maximum"]) == ("integer", 1, 9)
    string = to_property(Str(max_length=5))
    assert (string["type"], string["minLength"], string["maxLength"]) == ("string", 1, 5)
    assert to_property(Code(["a", "b"]))["enum"] == ["a", "b"]
    listed = to_property(ListOf(Str(max_length=6), min_items=1, max_items=3))
    assert (listed["type"], listed["minItems"], listed["maxItems"]) == ("array", 1, 3)
