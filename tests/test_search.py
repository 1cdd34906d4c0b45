"""The embedded engine against the reference rules, kept in sync through the outbox."""

from decimal import Decimal

import pytest
import sqlalchemy as sa

from matchmaker.demo.seed import seed
from matchmaker.extensions import db
from matchmaker.needs import services as needs
from matchmaker.needs.models import Need
from matchmaker.products import services as products
from search import loaders
from search.documents import INBOX_STATUSES
from search.features import TextStats, is_eligible, rank_products, score
from search.service import check, get_engine, leads_for_bank, matches_for_need, reindex
from tests.factories import NEED, PRODUCT, api_token


@pytest.fixture
def city(app):
    seed(scale="city", echo=lambda *a, **k: None)
    reindex()
    return get_engine()


def test_engine_returns_exactly_the_eligible_products_best_first(city):
    docs = loaders.product_docs()
    stats = TextStats(doc.tokens for doc in docs)
    sample = db.session.scalars(sa.select(Need).where(Need.status != "draft")
                                .order_by(Need.id).limit(60)).all()
    assert sample
    for need in sample:
        doc = loaders.need_doc(need)
        got = city.rank_products(doc, limit=500)
        expected = rank_products(doc, docs, stats, limit=500)
        assert [m.product_id for m in got] == [m.product_id for m in expected], need.id
        assert all(is_eligible(doc, d) for d in docs if d.id in {m.product_id for m in got})
        scores = [m.score for m in got]
        assert scores == sorted(scores, reverse=True)


def test_inbox_holds_exactly_the_open_needs_eligible_for_the_banks_products(city):
    docs = loaders.product_docs()
    stats = TextStats(doc.tokens for doc in docs)
    all_needs = [d for d in loaders.need_docs() if d.status in INBOX_STATUSES]
    bank_ids = sorted({d.bank_id for d in docs})[:6]
    for bank_id in bank_ids:
        mine = [d for d in docs if d.bank_id == bank_id and d.active]
        expected = {n.id for n in all_needs if any(is_eligible(n, p) for p in mine)}
        got, total = city.rank_needs(bank_id, limit=10_000)
        assert {m.need_id for m in got} == expected and total == len(expected)
        for match in got[:5]:  # each lead is scored by its best product
            need = next(n for n in all_needs if n.id == match.need_id)
            best = max(score(need, p, stats, with_freshness=True).score
                       for p in mine if is_eligible(need, p))
            assert match.score == pytest.approx(best, abs=0.02)


def test_reasons_explain_the_score(city):
    need = db.session.scalars(sa.select(Need).where(Need.status == "open")).first()
    rows = matches_for_need(need)
    assert rows
    for row in rows:
        assert row["reasons"], row
        assert sum(r["contribution"] for r in row["reasons"]) == pytest.approx(row["score"],
                                                                               abs=0.001)
        assert all(r["label"] and r["feature"] for r in row["reasons"])


def test_changes_reach_the_index_through_the_outbox(app, make):
    bank = make.bank()
    admin = make.bank_user(bank, role="bank_admin")
    _, owner = make.enterprise()
    need = needs.create_need(owner.user, NEED)
    assert matches_for_need(need) == []
    product = products.create_product(bank, PRODUCT, admin.user)
    assert [r["product_id"] for r in matches_for_need(need)] == [product.id]
    leads, total = leads_for_bank(bank.id)
    assert total == 1 and leads[0]["need_id"] == need.id and leads[0]["claimable"]
    products.set_active(product, False, admin.user)
    assert matches_for_need(need) == []
    products.set_active(product, True, admin.user)
    needs.withdraw_need(need, "不再需要", owner.user)
    assert leads_for_bank(bank.id)[1] == 0
    assert all(not ids for kind in check().values() for ids in kind.values())


def test_posting_succeeds_while_the_engine_is_down_and_the_outbox_catches_up(app, make,
                                                                           monkeypatch):
    from matchmaker.audit.services import drain_outbox
    from search.embedded import EmbeddedEngine

    bank = make.bank()
    admin = make.bank_user(bank, role="bank_admin")
    products.create_product(bank, PRODUCT, admin.user)
    _, owner = make.enterprise()

    def down(self, docs):
        raise OSError("index unavailable")

    monkeypatch.setattr(EmbeddedEngine, "upsert_needs", down)
    need = needs.create_need(owner.user, NEED)
    assert need.id and need.status == "open"
    assert leads_for_bank(bank.id)[1] == 0
    assert check()["needs"]["missing"] == [need.id]
    monkeypatch.undo()
    drain_outbox()
    assert [row["need_id"] for row in leads_for_bank(bank.id)[0]] == [need.id]


def test_reindex_swaps_in_a_new_file_and_check_finds_drift(app, make):
    bank = make.bank()
    admin = make.bank_user(bank, role="bank_admin")
    product = products.create_product(bank, PRODUCT, admin.user)
    engine = get_engine()
    first = engine.current_file()
    engine.delete_product(product.id)
    assert check()["products"]["missing"] == [product.id]
    result = reindex()
    assert result["products"] == 1 and engine.current_file() != first
    assert not first.exists()
    assert check()["products"]["missing"] == []


def test_ineligible_products_never_appear(app, make):
    bank = make.bank()
    admin = make.bank_user(bank, role="bank_admin")
    _, owner = make.enterprise(size="large", env_credit="red")
    need = needs.create_need(owner.user, NEED)
    variants = [
        {"max_amount_wan": "100"},                      # amount above range
        {"max_term_months": 24},                        # term above range
        {"region_codes": ["330502"]},                   # need is in 330523
        {"green_categories": ["4.2"]},                  # need is 4.1.4
        {"enterprise_sizes": ["micro", "small"]},       # need's enterprise is large
        {"min_env_credit": "yellow"},                   # need's enterprise is red
        {"collateral": ["real_estate"]},                # need offers forest rights
    ]
    for variant in variants:
        products.create_product(bank, PRODUCT | {"enterprise_sizes": ["large"],
                                                 "min_env_credit": "red"} | variant, admin.user)
    assert matches_for_need(need) == []
    good = products.create_product(bank, PRODUCT | {"enterprise_sizes": ["large"],
                                                    "min_env_credit": "red",
                                                    "collateral": ["credit"]}, admin.user)
    assert [r["product_id"] for r in matches_for_need(need)] == [good.id]


@pytest.mark.sqlite_only
def test_matching_api(app, client, make):
    bank = make.bank()
    admin = make.bank_user(bank, role="bank_admin")
    manager = make.bank_user(bank)
    product = products.create_product(bank, PRODUCT, admin.user)
    _, owner = make.enterprise()
    _, other = make.enterprise()
    need = needs.create_need(owner.user, NEED)
    office = make.office()
    for account in (owner, office):
        body = client.get(f"/api/v1/needs/{need.id}/matches?limit=5",
                          headers=api_token(client, account)).get_json()
        assert [i["product_id"] for i in body["items"]] == [product.id]
        assert body["items"][0]["bank_name"] == bank.name and body["items"][0]["reasons"]
    assert client.get(f"/api/v1/needs/{need.id}/matches",
                      headers=api_token(client, other)).status_code == 404
    assert client.get(f"/api/v1/needs/{need.id}/matches",
                      headers=api_token(client, manager)).status_code == 403
    assert client.get(f"/api/v1/needs/{need.id}/matches?limit=0",
                      headers=api_token(client, owner)).status_code == 422
    leads = client.get("/api/v1/leads?limit=5", headers=api_token(client, manager)).get_json()
    assert leads["total"] == 1
    lead = leads["items"][0]
    assert lead["need_id"] == need.id and lead["claimable"] is True
    assert lead["amount_wan"] == "150.50" and lead["claims_count"] == 0
    assert {"need_id", "title", "amount_wan", "green_category", "score", "reasons",
            "claims_count", "claimable"} <= set(lead)
    filtered = client.get("/api/v1/leads?green_category=5", headers=api_token(client, manager))
    assert filtered.get_json()["total"] == 0
    assert client.get("/api/v1/leads?green_category=9.9",
                      headers=api_token(client, manager)).status_code == 422
    assert client.get("/api/v1/leads", headers=api_token(client, owner)).status_code == 403
    assert Decimal(lead["amount_wan"]) == need.amount_wan
