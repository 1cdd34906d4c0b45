"""The lead workflow through the API: grab (cap, once per bank, daily limit), contacts revealed
to grabbing banks only, pick, progress in order, decline, cancel a pick, 派单, reassign, rating,
and the audit trail."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from matchmaker.claims.models import Claim
from matchmaker.extensions import db
from matchmaker.needs.models import Need
from tests.factories import api_token, errors_of


@pytest.fixture
def people(make):
    """An enterprise with an open need, four banks (each a product, a manager and an admin),
    the office."""
    _enterprise, owner = make.enterprise()
    banks = []
    for _ in range(4):
        bank = make.bank(region_codes=["330500"])
        admin = make.bank_user(bank, role="bank_admin")
        make.product(bank, admin)
        banks.append((bank, make.bank_user(bank), admin))
    need = make.need(owner)
    _other_enterprise, other = make.enterprise()
    return {
        "owner": owner, "other_enterprise": other, "need": need, "office": make.office(),
        **{f"manager_{i}": manager for i, (_b, manager, _a) in enumerate(banks)},
        **{f"admin_{i}": admin for i, (_b, _m, admin) in enumerate(banks)},
        "banks": [bank for bank, _m, _a in banks],
    }


def grab(client, tokens, who: str, need_id: int, **body):
    return client.post(f"/api/v1/needs/{need_id}/claims", json=body, headers=tokens(who))


def test_three_banks_grab_then_the_fourth_gets_409(client, tokens, people):
    need_id = people["need"].id
    claims = []
    for i in range(3):
        response = grab(client, tokens, f"manager_{i}", need_id)
        assert response.status_code == 201, response.get_json()
        claims.append(response.get_json())
    assert [c["slot"] for c in claims] == [1, 2, 3]
    assert all(c["status"] == "claimed" for c in claims)
    # The grabbing bank sees how to reach the enterprise.
    assert claims[0]["contact"]["phone"] == "0572-1234567"
    full = grab(client, tokens, "manager_3", need_id)
    assert full.status_code == 409
    assert "已有3家银行抢单" in full.get_json()["error"]
    again = grab(client, tokens, "manager_0", need_id)
    assert again.status_code == 409 and "已抢过" in again.get_json()["error"]
    need = db.session.get(Need, need_id)
    assert need.status == "claimed" and need.first_claimed_at is not None


def test_contacts_only_for_grabbing_banks(client, tokens, people):
    need_id = people["need"].id
    assert grab(client, tokens, "manager_0", need_id).status_code == 201
    seen = client.get(f"/api/v1/needs/{need_id}", headers=tokens("manager_0")).get_json()
    assert seen["enterprise"]["phone"] == "0572-1234567"
    assert "uscc" not in seen["enterprise"] and "claims" not in seen
    other = client.get(f"/api/v1/needs/{need_id}", headers=tokens("manager_1")).get_json()
    assert not {"phone", "email", "contact_name", "address"} & set(other["enterprise"])
    owner = client.get(f"/api/v1/needs/{need_id}", headers=tokens("owner")).get_json()
    assert [c["bank_id"] for c in owner["claims"]] == [people["banks"][0].id]
    assert owner["claims"][0]["manager_name"]


def test_full_journey_pick_progress_rate(client, tokens, people):
    need_id = people["need"].id
    first = grab(client, tokens, "manager_0", need_id).get_json()
    second = grab(client, tokens, "manager_1", need_id).get_json()

    # Progress before being picked is refused.
    early = client.post(f"/api/v1/claims/{first['id']}/events", json={"type": "contacted"},
                        headers=tokens("manager_0"))
    assert early.status_code == 409

    picked = client.post(f"/api/v1/needs/{need_id}/selection", json={"claim_id": first["id"]},
                         headers=tokens("owner"))
    assert picked.status_code == 200, picked.get_json()
    assert picked.get_json()["status"] == "selected" and picked.get_json()["contact_due_at"]
    other = client.get(f"/api/v1/claims/{second['id']}", headers=tokens("manager_1")).get_json()
    assert other["status"] == "not_selected"
    # The bank that was not picked cannot record progress.
    assert client.post(f"/api/v1/claims/{second['id']}/events", json={"type": "contacted"},
                       headers=tokens("manager_1")).status_code == 409

    url = f"/api/v1/claims/{first['id']}/events"
    # Disbursement before credit approval: refused.
    assert client.post(url, json={"type": "disbursed", "amount_wan": "10"},
                       headers=tokens("manager_0")).status_code == 409
    contacted = client.post(url, json={"type": "contacted", "note": "已电话联系"},
                            headers=tokens("manager_0"))
    assert contacted.status_code == 201, contacted.get_json()
    assert contacted.get_json()["need_status"] == "contacted"
    missing = errors_of(client.post(url, json={"type": "credit_approved"},
                                    headers=tokens("manager_0")))
    assert {"amount_wan", "rate"} <= set(missing)
    too_much = errors_of(client.post(url, json={"type": "credit_approved", "amount_wan": "999",
                                                "rate": "3.85"}, headers=tokens("manager_0")))
    assert "amount_wan" in too_much
    credit = client.post(url, json={"type": "credit_approved", "amount_wan": "150",
                                    "rate": "3.85"}, headers=tokens("manager_0"))
    assert credit.status_code == 201
    over = errors_of(client.post(url, json={"type": "disbursed", "amount_wan": "150.01"},
                                 headers=tokens("manager_0")))
    assert "amount_wan" in over
    # Rating before the need closes is refused.
    assert client.post(f"/api/v1/claims/{first['id']}/rating", json={"stars": 5},
                       headers=tokens("owner")).status_code == 409
    paid = client.post(url, json={"type": "disbursed", "amount_wan": "150"},
                       headers=tokens("manager_0"))
    assert paid.status_code == 201 and paid.get_json()["need_status"] == "disbursed"
    assert client.post(url, json={"type": "declined", "reason_code": "other"},
                       headers=tokens("manager_0")).status_code == 409

    claim = db.session.get(Claim, first["id"])
    assert claim.approved_amount_wan == Decimal("150.00")
    assert claim.disbursed_amount_wan == Decimal("150.00")
    assert claim.approved_rate == Decimal("3.85")
    assert db.session.get(Need, need_id).closed_at is not None

    rated = client.post(f"/api/v1/claims/{first['id']}/rating",
                        json={"stars": 5, "comment": "放款很快"}, headers=tokens("owner"))
    assert rated.status_code == 201, rated.get_json()
    twice = client.post(f"/api/v1/claims/{first['id']}/rating", json={"stars": 4},
                        headers=tokens("owner"))
    assert twice.status_code == 409

    trail = client.get(f"/api/v1/needs/{need_id}/trail", headers=tokens("office")).get_json()
    actions = [entry["action"] for entry in trail["items"]]
    assert actions == ["need.created", "claim.grabbed", "claim.grabbed", "claim.selected",
                       "claim.contacted", "claim.credit_approved", "claim.disbursed",
                       "claim.rated"]
    assert all(entry["actor_name"] for entry in trail["items"])


def test_decline_reopens_the_choice_and_cancel_needs_a_reason(client, tokens, people):
    need_id = people["need"].id
    first = grab(client, tokens, "manager_0", need_id).get_json()
    second = grab(client, tokens, "manager_1", need_id).get_json()
    client.post(f"/api/v1/needs/{need_id}/selection", json={"claim_id": first["id"]},
                headers=tokens("owner"))
    bad = errors_of(client.post(f"/api/v1/claims/{first['id']}/events",
                                json={"type": "declined", "reason_code": "nonsense"},
                                headers=tokens("manager_0")))
    assert "reason_code" in bad
    declined = client.post(f"/api/v1/claims/{first['id']}/events",
                           json={"type": "declined", "reason_code": "insufficient_collateral"},
                           headers=tokens("manager_0"))
    assert declined.status_code == 201
    # Another grabbing bank remains: the enterprise may pick it.
    assert declined.get_json()["need_status"] == "claimed"
    repick = client.post(f"/api/v1/needs/{need_id}/selection", json={"claim_id": second["id"]},
                         headers=tokens("owner"))
    assert repick.status_code == 200
    assert errors_of(client.post(f"/api/v1/needs/{need_id}/selection/cancel", json={},
                                 headers=tokens("owner")))
    cancelled = client.post(f"/api/v1/needs/{need_id}/selection/cancel",
                            json={"reason": "银行迟迟不联系"}, headers=tokens("owner"))
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    # Nobody left to pick: the need goes to the finance office.
    assert db.session.get(Need, need_id).status == "escalated"


def test_office_assigns_and_the_bank_admin_reassigns(client, tokens, people, make):
    need_id = people["need"].id
    bank = people["banks"][2]
    assert client.post(f"/api/v1/needs/{need_id}/assignment", json={"bank_id": bank.id},
                       headers=tokens("owner")).status_code == 403
    assigned = client.post(f"/api/v1/needs/{need_id}/assignment",
                           json={"bank_id": bank.id, "note": "请尽快对接"},
                           headers=tokens("office"))
    assert assigned.status_code == 201, assigned.get_json()
    body = assigned.get_json()
    assert body["assigned_by_office"] and body["manager"]["id"] == people["manager_2"].user.id
    assert db.session.get(Need, need_id).status == "assigned"
    # Nobody grabs an assigned need.
    assert grab(client, tokens, "manager_0", need_id).status_code == 409

    second_manager = make.bank_user(bank)
    url = f"/api/v1/claims/{body['id']}/reassign"
    assert client.post(url, json={"manager_id": second_manager.user.id},
                       headers=tokens("manager_2")).status_code == 403
    assert client.post(url, json={"manager_id": people["manager_0"].user.id},
                       headers=tokens("admin_2")).status_code == 422
    assert client.post(url, json={"manager_id": second_manager.user.id},
                       headers=tokens("admin_0")).status_code == 404
    moved = client.post(url, json={"manager_id": second_manager.user.id},
                        headers=tokens("admin_2"))
    assert moved.status_code == 200 and moved.get_json()["manager"]["id"] == \
        second_manager.user.id

    picked = client.post(f"/api/v1/needs/{need_id}/selection", json={"claim_id": body["id"]},
                         headers=tokens("owner"))
    assert picked.status_code == 200


def test_claims_list_is_the_callers(client, tokens, people):
    need_id = people["need"].id
    mine = grab(client, tokens, "manager_0", need_id).get_json()
    grab(client, tokens, "manager_1", need_id)
    listed = client.get("/api/v1/claims", headers=tokens("manager_0")).get_json()
    assert [c["id"] for c in listed["items"]] == [mine["id"]]
    assert client.get("/api/v1/claims", headers=tokens("owner")).get_json()["total"] == 2
    assert client.get("/api/v1/claims", headers=tokens("other_enterprise")).get_json()[
        "total"] == 0
    assert client.get(f"/api/v1/claims/{mine['id']}",
                      headers=tokens("manager_1")).status_code == 404
    assert client.get(f"/api/v1/claims/{mine['id']}",
                      headers=tokens("other_enterprise")).status_code == 404


def test_daily_grab_limit(app, client, tokens, people, make):
    app.config["MANAGER_DAILY_GRAB_LIMIT"] = 1
    second_need = make.need(people["owner"])
    assert grab(client, tokens, "manager_0", people["need"].id).status_code == 201
    limited = grab(client, tokens, "manager_0", second_need.id)
    assert limited.status_code == 409 and "每日上限" in limited.get_json()["error"]


def test_grab_needs_an_eligible_product_and_coverage(client, tokens, people, make):
    need = make.need(people["owner"], amount_wan="5000")  # above every product's maximum
    assert "product_id" in errors_of(grab(client, tokens, "manager_0", need.id))
    # A manager covering only 吴兴区 may not grab a need in 安吉县.
    elsewhere = make.bank_user(people["banks"][1], region_codes=["330502"])
    outside = client.post(f"/api/v1/needs/{people['need'].id}/claims", json={},
                          headers=api_token(client, elsewhere))
    assert outside.status_code == 403
    assert "负责的地区" in outside.get_json()["error"]


def test_a_product_change_is_seen_by_the_next_grab(client, tokens, people, make):
    """Grabs reuse each bank's product documents until a product changes."""
    from matchmaker.products.models import Product
    from matchmaker.products.services import update_product
    from tests.factories import PRODUCT

    solar = make.need(people["owner"], green_category="3.2.2", title="屋顶分布式光伏")
    assert "product_id" in errors_of(grab(client, tokens, "manager_0", solar.id))
    bank = people["banks"][0]
    product = db.session.scalar(sa.select(Product).where(Product.bank_id == bank.id))
    update_product(product, PRODUCT | {"green_categories": ["4.1", "3.2"]},
                   people["admin_0"].user)
    assert grab(client, tokens, "manager_0", solar.id).status_code == 201
