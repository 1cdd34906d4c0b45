"""Financing needs through the API: posting, the public-fields rule for banks, visibility (404 for
what one may not see, 403 for what one may see but not change), filters, paging, edits with
history, publish and withdraw, audit rows."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from matchmaker.audit.models import AuditLog
from matchmaker.claims.models import Claim
from matchmaker.extensions import db
from matchmaker.needs.models import Need, NeedRevision
from matchmaker.needs.services import local_today
from tests.factories import NEED, errors_of

URL = "/api/v1/needs"
CONTACT_FIELDS = {"contact_name", "phone", "email", "uscc", "address"}
PUBLIC_ENTERPRISE_FIELDS = {"id", "name", "region_code", "industry_code", "size", "env_credit"}



def need_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Need.id)))


def assert_timestamps(item: dict) -> None:
    """created_at/updated_at (and the others when set) are ISO 8601 in UTC with an offset."""
    for key in ("created_at", "updated_at", "published_at", "closed_at"):
        if key in ("created_at", "updated_at") or item.get(key) is not None:
            value = datetime.fromisoformat(item[key])
            assert value.utcoffset() == timedelta(0), (key, item[key])
            assert item[key].endswith("+00:00"), (key, item[key])


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["id"] for item in response.get_json()["items"]]


@pytest.fixture
def people(make):
    """Two enterprises, two banks with a manager and an admin each, the office and the admin."""
    bank_a = make.bank(region_codes=["330500"])
    bank_b = make.bank(region_codes=["330500"])
    ent_a, owner = make.enterprise()
    ent_b, other = make.enterprise()
    return {
        "enterprise_a": ent_a, "enterprise_b": ent_b, "bank_a": bank_a, "bank_b": bank_b,
        "owner": owner, "other_enterprise": other,
        "manager_a": make.bank_user(bank_a), "admin_a": make.bank_user(bank_a, role="bank_admin"),
        "manager_b": make.bank_user(bank_b), "admin_b": make.bank_user(bank_b, role="bank_admin"),
        "office": make.office(),
        "platform_admin": make.platform_admin(),
    }


def grab(need: Need, bank, slot: int = 1, status: str = "claimed") -> Claim:
    """A bank's claim on a need, written directly (the claims service is another issue's)."""
    claim = Claim(need_id=need.id, bank_id=bank.id, slot=slot, status=status)
    db.session.add(claim)
    need.status = "claimed"
    db.session.commit()
    return claim


# --- POST /needs ---------------------------------------------------------------------------------


def test_an_enterprise_posts_a_need_and_gets_it_back_open(client, people, tokens):
    response = client.post(URL, json=NEED, headers=tokens("owner"))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    need = db.session.get(Need, body["id"])
    enterprise = people["enterprise_a"]
    assert need.enterprise_id == enterprise.id and need.status == "open"
    assert need.created_by_id == people["owner"].user.id
    assert need.amount_wan == Decimal("150.50") and isinstance(need.rate_cap, Decimal)
    assert_timestamps(body)
    assert body["published_at"] is not None
    expected = {
        "id": need.id, "enterprise_id": enterprise.id, "title": NEED["title"],
        "description": NEED["description"], "purpose": "project", "amount_wan": "150.50",
        "term_months": 36, "green_category": "4.1.4", "collateral": ["forest_rights"],
        "region_code": "330523", "rate_cap": "4.50", "co2_reduction_t": "120.00",
        "coal_saving_tce": None, "project_investment_wan": None, "deadline": None,
        "status": "open",
        "withdraw_reason": None, "claims": [], "closed_at": None,
        "enterprise": {
            "id": enterprise.id, "name": enterprise.name, "region_code": "330502",
            "industry_code": "C", "size": "small", "env_credit": "blue",
            "uscc": enterprise.uscc, "contact_name": "王经理", "phone": "0572-1234567",
            "email": enterprise.email, "address": None,
        },
    }
    assert {k: v for k, v in body.items()
            if k not in ("created_at", "updated_at", "published_at")} == expected


def test_numbers_are_accepted_and_decimals_come_back_as_strings(client, tokens):
    data = NEED | {"amount_wan": 88.8, "rate_cap": 4, "co2_reduction_t": 0,
                   "project_investment_wan": 100, "deadline": None, "description": None}
    response = client.post(URL, json=data, headers=tokens("owner"))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["amount_wan"], body["rate_cap"], body["co2_reduction_t"],
            body["project_investment_wan"]) == ("88.80", "4.00", "0.00", "100.00")
    assert body["description"] == "" and body["deadline"] is None


def test_deadline_and_project_investment_extensions(client, app, tokens):
    with app.test_request_context():
        deadline = (local_today() + timedelta(days=30)).isoformat()
    data = NEED | {"deadline": deadline, "project_investment_wan": "300"}
    body = client.post(URL, json=data, headers=tokens("owner")).get_json()
    assert body["deadline"] == deadline and body["project_investment_wan"] == "300.00"
    assert db.session.get(Need, body["id"]).deadline == date.fromisoformat(deadline)


def test_publish_false_keeps_a_draft(client, tokens):
    response = client.post(URL, json=NEED | {"publish": False}, headers=tokens("owner"))
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "draft" and body["published_at"] is None
    assert db.session.get(Need, body["id"]).status == "draft"


def test_posting_writes_an_audit_row_by_the_token_user(client, people, tokens):
    body = client.post(URL, json=NEED, headers=tokens("owner")).get_json()
    row = db.session.scalars(sa.select(AuditLog).where(AuditLog.object_type == "need",
                                                        AuditLog.object_id == str(body["id"]))
                             ).one()
    assert row.action == "need.created"
    assert row.actor_id == people["owner"].user.id and row.actor_role == "enterprise"
    assert row.after["amount_wan"] == "150.50" and row.after["status"] == "open"


@pytest.mark.parametrize("role", ["manager_a", "admin_a", "office", "platform_admin"])
def test_only_enterprises_post_needs(client, tokens, role):
    errors_of(client.post(URL, json=NEED, headers=tokens(role)), 403)
    errors_of(client.post(URL, json={"title": 7}, headers=tokens(role)), 403)  # before the body
    assert need_count() == 0


def test_posting_needs_a_token(client, people):
    errors_of(client.post(URL, json=NEED), 401)
    errors_of(client.post(URL, json=NEED, headers={"Authorization": "Bearer nonsense"}), 401)
    assert need_count() == 0


def test_every_missing_required_field_is_named(client, tokens):
    errors = errors_of(client.post(URL, json={}, headers=tokens("owner")), 422)
    assert set(errors) == {"title", "purpose", "amount_wan", "term_months", "green_category",
                           "collateral", "region_code"}


@pytest.mark.parametrize("field, value", [
    ("title", ""), ("title", "   "), ("title", "题" * 101), ("title", 12), ("title", None),
    ("title", "a\x00b"),
    ("description", "述" * 5001), ("description", ["list"]),
    ("purpose", "speculation"), ("purpose", None), ("purpose", 1),
    ("amount_wan", 0), ("amount_wan", "-1"), ("amount_wan", "abc"), ("amount_wan", "1.234"),
    ("amount_wan", "NaN"), ("amount_wan", "Infinity"), ("amount_wan", 1e30),
    ("amount_wan", True), ("amount_wan", "10000000.01"), ("amount_wan", "1" * 65),
    ("amount_wan", "1e1000000"), ("rate_cap", "-1e1000000"),  # beyond Decimal's exponents
    ("term_months", 0), ("term_months", 361), ("term_months", 1.5), ("term_months", "12"),
    ("term_months", True), ("term_months", 10**40),
    ("green_category", "9.9.9"), ("green_category", ""), ("green_category", "4.1.4.1"),
    ("green_category", 414), ("green_category", "4" * 100_000),
    ("collateral", []), ("collateral", ["gold"]), ("collateral", "forest_rights"),
    ("collateral", [None]), ("collateral", ["credit"] * 51),
    ("region_code", "999999"), ("region_code", "330103"), ("region_code", ""),
    ("region_code", 330523), ("region_code", "abcdef"),
    ("rate_cap", 0), ("rate_cap", "36.01"), ("rate_cap", "abc"), ("rate_cap", "1000"),
    ("rate_cap", "4.555"),
    ("co2_reduction_t", "-1"), ("co2_reduction_t", "NaN"), ("co2_reduction_t", "1e20"),
    ("project_investment_wan", "0"), ("project_investment_wan", "50"),  # < half the amount
    ("deadline", "2020-01-01"), ("deadline", "2025-13-01"), ("deadline", "tomorrow"),
    ("deadline", 20250101), ("deadline", "2025-01-01T08:00:00"), ("deadline", "x" * 100_000),
    ("publish", "false"), ("publish", 0), ("publish", None),
])
@pytest.mark.sqlite_only  # input validation: the same on every backend
def test_bad_need_fields_are_422_naming_the_field(client, tokens, field, value):
    response = client.post(URL, json=NEED | {field: value}, headers=tokens("owner"))
    errors = errors_of(response, 422)
    assert set(errors) == {field}, errors
    assert all(isinstance(m, str) and m for m in errors[field])
    assert need_count() == 0


def test_a_deadline_beyond_three_years_is_422(client, app, tokens):
    with app.test_request_context():
        far = (local_today() + timedelta(days=4 * 365)).isoformat()
    errors = errors_of(client.post(URL, json=NEED | {"deadline": far}, headers=tokens("owner")),
                       422)
    assert set(errors) == {"deadline"}


def test_nan_literal_in_the_body_is_422(client, tokens):
    body = json.dumps(NEED).replace('"150.50"', "NaN").replace("36", "Infinity")
    headers = tokens("owner") | {"Content-Type": "application/json"}
    errors = errors_of(client.post(URL, data=body, headers=headers), 422)
    assert set(errors) == {"amount_wan", "term_months"}


@pytest.mark.parametrize("body", ['{"title": ', "[1, 2", "\x00"])
def test_malformed_json_is_400(client, tokens, body):
    headers = tokens("owner") | {"Content-Type": "application/json"}
    errors_of(client.post(URL, data=body, headers=headers), 400)


@pytest.mark.parametrize("body", ["[]", "null", "42"])
def test_json_that_is_not_an_object_is_422(client, tokens, body):
    headers = tokens("owner") | {"Content-Type": "application/json"}
    assert list(errors_of(client.post(URL, data=body, headers=headers), 422)) == ["_schema"]


# --- GET /needs/{id}: who sees what --------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "office", "platform_admin"])
def test_owner_and_office_see_everything_with_claims(client, people, tokens, make, role):
    need = make.need(people["owner"])
    claim = grab(need, people["bank_b"])
    response = client.get(f"{URL}/{need.id}", headers=tokens(role))
    assert response.status_code == 200
    body = response.get_json()
    assert body["enterprise"]["phone"] == "0572-1234567"
    assert set(body["enterprise"]) == PUBLIC_ENTERPRISE_FIELDS | CONTACT_FIELDS
    [listed] = body["claims"]
    assert {k: listed[k] for k in ("id", "bank_id", "bank_name", "status")} == {
        "id": claim.id, "bank_id": people["bank_b"].id, "bank_name": people["bank_b"].name,
        "status": "claimed"}
    assert_timestamps(body)


@pytest.mark.parametrize("role", ["manager_b", "admin_b"])
def test_a_bank_that_grabbed_sees_the_contacts_but_not_the_rest(client, people, tokens, make,
                                                                role):
    need = make.need(people["owner"])
    grab(need, people["bank_b"])
    body = client.get(f"{URL}/{need.id}", headers=tokens(role)).get_json()
    enterprise = people["enterprise_a"]
    assert body["enterprise"]["phone"] == enterprise.phone
    assert body["enterprise"]["contact_name"] == enterprise.contact_name
    assert set(body["enterprise"]) == PUBLIC_ENTERPRISE_FIELDS | CONTACT_FIELDS - {"uscc"}
    assert "claims" not in body and "withdraw_reason" not in body


@pytest.mark.parametrize("role", ["manager_a", "admin_a"])
def test_banks_see_public_fields_only(client, people, tokens, make, role):
    need = make.need(people["owner"])
    grab(need, people["bank_b"])  # another bank's grab reveals nothing to this one
    response = client.get(f"{URL}/{need.id}", headers=tokens(role))
    assert response.status_code == 200
    body = response.get_json()
    enterprise = people["enterprise_a"]
    assert body["enterprise"] == {"id": enterprise.id, "name": enterprise.name,
                                  "region_code": "330502", "industry_code": "C",
                                  "size": "small", "env_credit": "blue"}
    assert not CONTACT_FIELDS & set(body["enterprise"])
    assert "claims" not in body and "withdraw_reason" not in body
    text = response.get_data(as_text=True)
    assert enterprise.phone not in text and enterprise.email not in text
    assert enterprise.uscc not in text and enterprise.contact_name not in text
    assert body["amount_wan"] == "150.50" and body["title"] == NEED["title"]
    assert_timestamps(body)


@pytest.mark.parametrize("role", ["other_enterprise", "manager_a", "admin_a", "office"])
def test_drafts_are_404_to_everyone_but_the_owner(client, people, tokens, make, role):
    draft = make.need(people["owner"], publish=False)
    errors_of(client.get(f"{URL}/{draft.id}", headers=tokens(role)), 404)
    assert client.get(f"{URL}/{draft.id}", headers=tokens("owner")).status_code == 200
    listed = client.get(URL, headers=tokens(role)).get_json()["items"]
    assert draft.id not in [item["id"] for item in listed]


def test_another_enterprises_open_need_is_404_like_a_missing_one(client, people, tokens, make):
    need = make.need(people["owner"])
    hidden = client.get(f"{URL}/{need.id}", headers=tokens("other_enterprise"))
    missing = client.get(f"{URL}/999999", headers=tokens("other_enterprise"))
    assert errors_of(hidden, 404) == errors_of(missing, 404)
    assert hidden.get_json()["error"] == missing.get_json()["error"]


def test_a_closed_need_stays_visible_to_the_bank_that_grabbed_it_only(client, people, tokens,
                                                                      make):
    need = make.need(people["owner"])
    grab(need, people["bank_a"])
    need.status = "declined"
    db.session.commit()
    assert client.get(f"{URL}/{need.id}", headers=tokens("manager_a")).status_code == 200
    errors_of(client.get(f"{URL}/{need.id}", headers=tokens("manager_b")), 404)


@pytest.mark.parametrize("path", ["999999", "9" * 30, "abc", "-1", "0"])
def test_unknown_needs_are_404(client, tokens, path):
    errors_of(client.get(f"{URL}/{path}", headers=tokens("office")), 404)


@pytest.mark.parametrize("path", ["", "/1", "/1/publish", "/1/withdraw"])
def test_needs_need_a_token(client, people, path):
    method = "POST" if path.endswith(("publish", "withdraw")) else "GET"
    response = client.open(URL + path, method=method, json={})
    errors_of(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# --- GET /needs: lists ---------------------------------------------------------------------------


@pytest.fixture
def several(people, make):
    """Needs of two enterprises in every state that matters for visibility."""
    owner, other = people["owner"], people["other_enterprise"]
    return {
        "a_open": make.need(owner),
        "a_draft": make.need(owner, publish=False),
        "a_withdrawn": make.need(owner),
        "b_open": make.need(other),
        "b_draft": make.need(other, publish=False),
    }


def _withdraw(need: Need) -> None:
    need.status = "withdrawn"
    db.session.commit()


def test_an_enterprise_lists_its_own_needs_only(client, tokens, several):
    _withdraw(several["a_withdrawn"])
    listed = ids(client.get(URL, headers=tokens("owner")))
    assert set(listed) == {several["a_open"].id, several["a_draft"].id,
                           several["a_withdrawn"].id}
    listed = ids(client.get(URL, headers=tokens("other_enterprise")))
    assert set(listed) == {several["b_open"].id, several["b_draft"].id}


@pytest.mark.parametrize("role", ["office", "platform_admin"])
def test_the_office_lists_every_need_but_drafts(client, tokens, several, role):
    expected = {n.id for n in several.values() if n.status != "draft"}
    assert set(ids(client.get(URL, headers=tokens(role)))) == expected


@pytest.mark.parametrize("role", ["manager_a", "admin_a"])
def test_banks_list_needs_visible_to_banks_with_public_fields(client, people, tokens, several,
                                                              role):
    _withdraw(several["a_withdrawn"])
    response = client.get(URL, headers=tokens(role))
    assert set(ids(response)) == {several["a_open"].id, several["b_open"].id}
    for item in response.get_json()["items"]:
        assert set(item["enterprise"]) == PUBLIC_ENTERPRISE_FIELDS
        assert "claims" not in item and "withdraw_reason" not in item
        assert_timestamps(item)


def test_banks_also_list_needs_they_grabbed_whatever_their_state(client, people, tokens,
                                                                   several):
    need = several["a_withdrawn"]
    grab(need, people["bank_a"])
    _withdraw(need)
    assert need.id in ids(client.get(URL, headers=tokens("manager_a")))
    assert need.id not in ids(client.get(URL, headers=tokens("manager_b")))


def test_list_items_for_owners_are_the_full_need(client, tokens, several):
    response = client.get(URL, headers=tokens("owner"))
    body = response.get_json()
    assert set(body) == {"items", "page", "per_page", "total"}
    item = next(i for i in body["items"] if i["id"] == several["a_open"].id)
    detail = client.get(f"{URL}/{item['id']}", headers=tokens("owner")).get_json()
    assert item == detail


def test_paging_newest_first(client, people, tokens, make):
    created = [make.need(people["owner"], title=f"需求{i}").id for i in range(5)]
    base = datetime(2025, 3, 1, tzinfo=UTC)
    for offset, need_id in enumerate(created):  # the same second must not decide the order
        db.session.get(Need, need_id).created_at = base + timedelta(hours=offset)
    db.session.commit()
    first = client.get(URL + "?per_page=2", headers=tokens("owner")).get_json()
    assert [i["id"] for i in first["items"]] == created[::-1][:2]
    assert (first["page"], first["per_page"], first["total"]) == (1, 2, 5)
    third = client.get(URL + "?per_page=2&page=3", headers=tokens("owner")).get_json()
    assert [i["id"] for i in third["items"]] == [created[0]]
    beyond = client.get(URL + "?per_page=2&page=9", headers=tokens("owner")).get_json()
    assert beyond["items"] == [] and beyond["total"] == 5
    farthest = client.get(URL + "?per_page=100&page=2147483647", headers=tokens("owner"))
    assert farthest.status_code == 200 and farthest.get_json()["items"] == []
    default = client.get(URL, headers=tokens("owner")).get_json()
    assert default["per_page"] == 20 and default["page"] == 1
    full = client.get(URL + "?per_page=100", headers=tokens("owner")).get_json()
    assert [i["id"] for i in full["items"]] == created[::-1]


def test_filters_by_status(client, tokens, several):
    _withdraw(several["a_withdrawn"])
    assert ids(client.get(URL + "?status=draft", headers=tokens("owner"))) == \
        [several["a_draft"].id]
    both = ids(client.get(URL + "?status=draft&status=withdrawn", headers=tokens("owner")))
    assert set(both) == {several["a_draft"].id, several["a_withdrawn"].id}
    # A bank asking for drafts gets none: the filter narrows what it may see, never widens it.
    assert ids(client.get(URL + "?status=draft", headers=tokens("manager_a"))) == []


@pytest.mark.parametrize("code, matches", [
    ("4", True), ("4.1", True), ("4.1.4", True), ("4.1.1", False), ("4.2", False),
    ("1", False),
])
def test_category_filter_covers_descendants(client, people, tokens, make, code, matches):
    need = make.need(people["owner"])  # 4.1.4
    listed = ids(client.get(f"{URL}?green_category={code}", headers=tokens("office")))
    assert (need.id in listed) is matches


@pytest.mark.parametrize("code, matches", [
    ("330000", True), ("330500", True), ("330523", True), ("330502", False), ("330100", False),
    ("110000", False),
])
def test_region_filter_covers_sub_regions(client, people, tokens, make, code, matches):
    need = make.need(people["owner"])  # 330523 安吉县
    listed = ids(client.get(f"{URL}?region_code={code}", headers=tokens("manager_a")))
    assert (need.id in listed) is matches


def test_amount_filters_are_inclusive(client, people, tokens, make):
    small = make.need(people["owner"], amount_wan="50")
    large = make.need(people["owner"], amount_wan="500")
    get = lambda qs: set(ids(client.get(URL + qs, headers=tokens("owner"))))  # noqa: E731
    assert get("?min_amount_wan=50") == {small.id, large.id}
    assert get("?min_amount_wan=50.01") == {large.id}
    assert get("?max_amount_wan=50") == {small.id}
    assert get("?min_amount_wan=60&max_amount_wan=499.99") == set()
    assert get("?min_amount_wan=500&max_amount_wan=500") == {large.id}


def test_created_date_filters_use_beijing_days(client, people, tokens, make):
    early, late = make.need(people["owner"]), make.need(people["owner"])
    # 2025-03-01 23:30 in Beijing is 15:30 UTC; 2025-03-02 00:30 in Beijing is 16:30 UTC.
    early.created_at = datetime(2025, 3, 1, 15, 30, tzinfo=UTC)
    late.created_at = datetime(2025, 3, 1, 16, 30, tzinfo=UTC)
    db.session.commit()
    get = lambda qs: set(ids(client.get(URL + qs, headers=tokens("owner"))))  # noqa: E731
    assert get("?created_from=2025-03-02") == {late.id}
    assert get("?created_to=2025-03-01") == {early.id}
    assert get("?created_from=2025-03-01&created_to=2025-03-01") == {early.id}
    assert get("?created_from=2025-03-01&created_to=2025-03-02") == {early.id, late.id}
    assert get("?created_from=2025-03-03") == set()


@pytest.mark.parametrize("query, field", [
    ("status=bogus", "status"),
    ("status=", "status"),
    ("green_category=9.9", "green_category"),
    ("green_category=", "green_category"),
    ("green_category=" + "4" * 1000, "green_category"),
    ("region_code=999999", "region_code"),
    ("region_code=abc", "region_code"),
    ("min_amount_wan=abc", "min_amount_wan"),
    ("min_amount_wan=NaN", "min_amount_wan"),
    ("max_amount_wan=-Infinity", "max_amount_wan"),
    ("max_amount_wan=1e400", "max_amount_wan"),
    ("min_amount_wan=-1", "min_amount_wan"),
    ("min_amount_wan=10&max_amount_wan=5", "max_amount_wan"),
    ("created_from=2025-02-30", "created_from"),
    ("created_from=yesterday", "created_from"),
    ("created_to=20250101", "created_to"),
    ("created_from=0001-01-01", "created_from"),
    ("created_to=9999-12-31", "created_to"),
    ("created_from=2025-03-02&created_to=2025-03-01", "created_to"),
    ("page=0", "page"),
    ("page=abc", "page"),
    ("page=" + "9" * 30, "page"),
    ("per_page=0", "per_page"),
    ("per_page=101", "per_page"),
    ("per_page=1.5", "per_page"),
])
@pytest.mark.sqlite_only  # input validation: the same on every backend
def test_bad_filters_are_422_naming_the_parameter(client, tokens, query, field):
    errors = errors_of(client.get(f"{URL}?{query}", headers=tokens("office")), 422)
    assert set(errors) == {field}, errors


def test_unknown_query_parameters_are_ignored(client, tokens, several):
    response = client.get(URL + "?sort=sideways&enterprise_id=1", headers=tokens("owner"))
    assert response.status_code == 200


# --- PATCH /needs/{id} ---------------------------------------------------------------------------


def test_editing_an_open_need_keeps_a_revision_and_an_audit_row(client, people, tokens, make):
    need = make.need(people["owner"])
    before = client.get(f"{URL}/{need.id}", headers=tokens("owner")).get_json()
    response = client.patch(f"{URL}/{need.id}", json={"amount_wan": 180, "title": "扩建二期"},
                            headers=tokens("owner"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["amount_wan"], body["title"]) == ("180.00", "扩建二期")
    unchanged = {k: v for k, v in before.items()
                 if k not in ("amount_wan", "title", "updated_at")}
    assert {k: body[k] for k in unchanged} == unchanged
    assert_timestamps(body)
    revision = db.session.scalars(sa.select(NeedRevision).where(NeedRevision.need_id == need.id)
                                  ).one()
    assert revision.user_id == people["owner"].user.id
    assert revision.changes == {"amount_wan": ["150.50", "180.00"],
                                "title": [NEED["title"], "扩建二期"]}
    row = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "need.updated")).one()
    assert row.object_id == str(need.id) and row.actor_id == people["owner"].user.id
    assert row.before["amount_wan"] == "150.50" and row.after["amount_wan"] == "180.00"


def test_editing_a_draft_keeps_no_revision(client, people, tokens, make):
    draft = make.need(people["owner"], publish=False)
    response = client.patch(f"{URL}/{draft.id}", json={"term_months": 12},
                            headers=tokens("owner"))
    assert response.status_code == 200 and response.get_json()["term_months"] == 12
    assert db.session.scalar(sa.select(sa.func.count(NeedRevision.id))) == 0


def test_null_clears_optional_fields_and_an_empty_patch_changes_nothing(client, people, tokens,
                                                                        make):
    need = make.need(people["owner"])
    body = client.patch(f"{URL}/{need.id}", json={"rate_cap": None, "description": None},
                        headers=tokens("owner")).get_json()
    assert body["rate_cap"] is None and body["description"] == ""
    revisions = db.session.scalar(sa.select(sa.func.count(NeedRevision.id)))
    again = client.patch(f"{URL}/{need.id}", json={}, headers=tokens("owner"))
    assert again.status_code == 200 and again.get_json()["rate_cap"] is None
    assert db.session.scalar(sa.select(sa.func.count(NeedRevision.id))) == revisions


@pytest.mark.parametrize("field, value", [
    ("title", None), ("title", ""), ("amount_wan", 0), ("amount_wan", "NaN"),
    ("term_months", 500), ("green_category", "8.8"), ("region_code", "000000"),
    ("collateral", []), ("purpose", None), ("deadline", "2001-01-01"),
    ("project_investment_wan", "1.00"),  # the merged need: 150.50 asked of a 1.00 project
])
@pytest.mark.sqlite_only  # input validation: the same on every backend
def test_bad_edits_are_422_and_change_nothing(client, people, tokens, make, field, value):
    need = make.need(people["owner"])
    errors = errors_of(client.patch(f"{URL}/{need.id}", json={field: value},
                                    headers=tokens("owner")), 422)
    assert set(errors) == {field}
    db.session.expire_all()
    need = db.session.get(Need, need.id)
    assert need.title == NEED["title"] and need.amount_wan == Decimal("150.50")
    assert need.project_investment_wan is None
    assert db.session.scalar(sa.select(sa.func.count(NeedRevision.id))) == 0


@pytest.mark.parametrize("status", ["claimed", "selected", "withdrawn", "disbursed"])
def test_needs_past_open_are_not_editable(client, people, tokens, make, status):
    need = make.need(people["owner"])
    need.status = status
    db.session.commit()
    errors = errors_of(client.patch(f"{URL}/{need.id}", json={"title": "新标题"},
                                    headers=tokens("owner")), 409)
    assert list(errors) == ["status"]
    assert db.session.get(Need, need.id).title == NEED["title"]


def test_another_enterprise_may_not_edit_and_learns_nothing(client, people, tokens, make):
    need = make.need(people["owner"])
    draft = make.need(people["owner"], publish=False)
    for target in (need, draft):
        errors_of(client.patch(f"{URL}/{target.id}", json={"title": "x"},
                               headers=tokens("other_enterprise")), 404)
        # The need is looked up before the body is read: a bad body is still a 404.
        errors_of(client.patch(f"{URL}/{target.id}", json={"title": 7},
                               headers=tokens("other_enterprise")), 404)
    assert db.session.get(Need, need.id).title == NEED["title"]


@pytest.mark.parametrize("role", ["manager_a", "admin_a", "office", "platform_admin"])
def test_other_roles_may_not_edit(client, people, tokens, make, role):
    need = make.need(people["owner"])
    errors_of(client.patch(f"{URL}/{need.id}", json={"title": "x"}, headers=tokens(role)), 403)
    assert db.session.get(Need, need.id).title == NEED["title"]


# --- POST /needs/{id}/publish and /withdraw ------------------------------------------------------


def test_publishing_a_draft_opens_it_to_banks(client, people, tokens, make):
    draft = make.need(people["owner"], publish=False)
    errors_of(client.get(f"{URL}/{draft.id}", headers=tokens("manager_a")), 404)
    response = client.post(f"{URL}/{draft.id}/publish", headers=tokens("owner"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "open" and body["published_at"] is not None
    assert_timestamps(body)
    assert client.get(f"{URL}/{draft.id}", headers=tokens("manager_a")).status_code == 200
    row = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "need.published")).one()
    assert row.actor_id == people["owner"].user.id
    assert (row.before, row.after) == ({"status": "draft"}, {"status": "open"})
    # Publishing twice is a conflict.
    assert list(errors_of(client.post(f"{URL}/{draft.id}/publish", headers=tokens("owner")),
                          409)) == ["status"]


def test_a_draft_whose_deadline_passed_cannot_be_published(client, people, tokens, make, app):
    with app.test_request_context():
        today = local_today()
    draft = make.need(people["owner"], publish=False, deadline=today.isoformat())
    draft.deadline = today - timedelta(days=1)
    db.session.commit()
    errors = errors_of(client.post(f"{URL}/{draft.id}/publish", headers=tokens("owner")), 422)
    assert set(errors) == {"deadline"}
    assert db.session.get(Need, draft.id).status == "draft"
    # The document lists that 422 (it did not: a client generated from it had no such answer).
    operation = client.get("/api/v1/openapi.json").get_json()["paths"][
        "/api/v1/needs/{need_id}/publish"]["post"]
    assert operation["responses"]["422"] == {"$ref": "#/components/responses/UNPROCESSABLE_ENTITY"}


def test_publish_and_withdraw_belong_to_the_owner(client, people, tokens, make):
    draft = make.need(people["owner"], publish=False)
    need = make.need(people["owner"])
    errors_of(client.post(f"{URL}/{draft.id}/publish", headers=tokens("other_enterprise")), 404)
    errors_of(client.post(f"{URL}/{need.id}/withdraw", json={"reason": "x"},
                          headers=tokens("other_enterprise")), 404)
    for role in ("manager_a", "office"):
        errors_of(client.post(f"{URL}/{draft.id}/publish", headers=tokens(role)), 403)
        errors_of(client.post(f"{URL}/{need.id}/withdraw", json={"reason": "x"},
                              headers=tokens(role)), 403)
    errors_of(client.post(f"{URL}/999999/publish", headers=tokens("owner")), 404)
    db.session.expire_all()
    assert db.session.get(Need, draft.id).status == "draft"
    assert db.session.get(Need, need.id).status == "open"


def test_withdrawing_a_need(client, people, tokens, make):
    need = make.need(people["owner"])
    response = client.post(f"{URL}/{need.id}/withdraw", json={"reason": "已从其他渠道获得融资"},
                           headers=tokens("owner"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "withdrawn" and body["withdraw_reason"] == "已从其他渠道获得融资"
    assert body["closed_at"] is not None
    assert_timestamps(body)
    # Banks no longer see it; the owner does; withdrawing again is a conflict.
    errors_of(client.get(f"{URL}/{need.id}", headers=tokens("manager_a")), 404)
    assert need.id not in ids(client.get(URL, headers=tokens("manager_a")))
    errors = errors_of(client.post(f"{URL}/{need.id}/withdraw", json={"reason": "again"},
                                   headers=tokens("owner")), 409)
    assert list(errors) == ["status"]
    row = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "need.withdrawn")).one()
    assert row.after == {"status": "withdrawn", "reason": "已从其他渠道获得融资",
                         "cancelled_claim_ids": []}
    assert row.actor_id == people["owner"].user.id


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "因" * 201},
                                  {"reason": 12}, {"reason": None}])
def test_withdrawing_needs_a_reason(client, people, tokens, make, body):
    need = make.need(people["owner"])
    errors = errors_of(client.post(f"{URL}/{need.id}/withdraw", json=body,
                                   headers=tokens("owner")), 422)
    assert set(errors) == {"reason"}
    assert db.session.get(Need, need.id).status == "open"
