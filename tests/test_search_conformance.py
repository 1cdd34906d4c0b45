"""One conformance suite for every search engine (DESIGN section 5).

Each case runs on the embedded engine always, and on Elasticsearch when ELASTICSEARCH_URL points
to an Elasticsearch 8.x server (a unique index prefix per test, deleted afterwards). Without it
the Elasticsearch run is skipped with its reason, also under REQUIRE_SERVICES=1: no Elasticsearch
server can run where CI runs, so that skip is deliberate (pytest.skip, not service_missing).

The reference is search.features: `is_eligible` for which results may appear, `score` /
`rank_products` for their order, scores and reasons. Engines must return exactly that.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from decimal import Decimal

import pytest
import sqlalchemy as sa

from matchmaker.database import utcnow
from matchmaker.demo.seed import seed
from matchmaker.extensions import db
from matchmaker.needs import services as needs
from matchmaker.needs.models import Need
from matchmaker.products import services as products
from matchmaker.reference.codes import category_covers, region_covers
from search import loaders
from search.documents import INBOX_STATUSES
from search.embedded import EmbeddedEngine
from search.features import TextStats, is_eligible, rank_products, score
from search.service import check, leads_for_bank, matches_for_need, reindex
from tests.factories import NEED, PRODUCT

ES_SKIP = ("Elasticsearch conformance run skipped: "
           "set ELASTICSEARCH_URL to an Elasticsearch 8.x server")


@pytest.fixture(params=["embedded", "elasticsearch"])
def engine(request, app, tmp_path):
    """A fresh, empty engine of each kind, used by the app's search service for this test."""
    if request.param == "embedded":
        engine = EmbeddedEngine(tmp_path / f"search-{uuid.uuid4().hex[:8]}")
    else:
        url = os.environ.get("ELASTICSEARCH_URL")
        if not url:
            pytest.skip(ES_SKIP)
        from search.elastic import ElasticsearchEngine

        engine = ElasticsearchEngine(url, prefix=f"greenmatch-test-{uuid.uuid4().hex[:12]}")
        version = engine.client.info()["version"]["number"]
        if not version.startswith("8."):
            engine.close()
            pytest.fail(f"ELASTICSEARCH_URL is Elasticsearch {version}; this suite and the client "
                        "pin (elasticsearch>=8.15,<9) target Elasticsearch 8.x", pytrace=False)
    app.extensions["search_engine"] = engine
    try:
        yield engine
    finally:
        app.extensions.pop("search_engine", None)
        if request.param == "elasticsearch":
            engine.drop()
        engine.close()


@pytest.fixture
def city(engine):
    seed(scale="city", echo=lambda *a, **k: None)
    reindex()
    return engine


def location(engine):
    """Where the engine's current index lives: a file, or the aliases' indices."""
    if engine.name == "embedded":
        return engine.current_file()
    return engine.current_indices()


def gone(engine, where) -> bool:
    if engine.name == "embedded":
        return not where.exists()
    return not any(engine.client.indices.exists(index=name) for name in where.values())


def brute_force_inbox(bank_id, product_docs, need_docs, stats, now, max_claims=None):
    """Every open need eligible for an active product of the bank, scored by its best product."""
    mine = [p for p in product_docs if p.bank_id == bank_id and p.active]
    best = {}
    for need in need_docs:
        if need.status not in INBOX_STATUSES:
            continue
        if max_claims is not None and need.claims_count >= max_claims:
            continue
        for product in mine:
            if is_eligible(need, product):
                match = score(need, product, stats, with_freshness=True, now=now)
                current = best.get(need.id)
                if current is None or (match.score, -match.product_id) > (current.score,
                                                                          -current.product_id):
                    best[need.id] = match
    return sorted(best.values(), key=lambda m: (-m.score, -m.need_id))


# --- need → products --------------------------------------------------------------------------


def test_products_for_a_need_are_exactly_the_reference_ranking(city):
    docs = loaders.product_docs()
    stats = TextStats(doc.tokens for doc in docs)
    sample = db.session.scalars(sa.select(Need).where(Need.status != "draft")
                                .order_by(Need.id).limit(60)).all()
    assert sample
    found = 0
    for need in sample:
        doc = loaders.need_doc(need)
        expected = rank_products(doc, docs, stats, limit=500)
        got = city.rank_products(doc, limit=500)
        assert got == expected, need.id  # same products, order, scores and reasons
        assert {m.product_id for m in got} == {d.id for d in docs if is_eligible(doc, d)}
        assert city.rank_products(doc, limit=3) == expected[:3]
        found += len(got)
    assert found > len(sample)  # the sample exercises real rankings, not empty lists
    # Through the service: every row's reasons add up to its score.
    need = db.session.scalars(sa.select(Need).where(Need.status == "open")
                              .order_by(Need.id)).first()
    rows = matches_for_need(need)
    assert rows
    for row in rows:
        assert row["reasons"] and row["product_name"] and row["bank_name"]
        assert sum(r["contribution"] for r in row["reasons"]) == pytest.approx(row["score"],
                                                                               abs=0.001)
        assert all(r["label"] and r["feature"] for r in row["reasons"])


def test_ineligible_products_never_appear(app, engine, make):
    bank = make.bank()
    admin = make.bank_user(bank, role="bank_admin")
    _, owner = make.enterprise(size="large", env_credit="red")
    need = needs.create_need(owner.user, NEED)
    base = PRODUCT | {"enterprise_sizes": ["large"], "min_env_credit": "red"}
    broken = {
        "amount above range": {"max_amount_wan": "100"},
        "amount below range": {"min_amount_wan": "200", "max_amount_wan": "500"},
        "term above range": {"max_term_months": 24},
        "term below range": {"min_term_months": 48},
        "region elsewhere": {"region_codes": ["330502"]},  # the need is in 330523
        "category elsewhere": {"green_categories": ["4.2"]},  # the need is 4.1.4
        "category sibling": {"green_categories": ["4.1.5"]},
        "size": {"enterprise_sizes": ["micro", "small"]},  # the enterprise is large
        "environmental credit": {"min_env_credit": "yellow"},  # the enterprise is red
        "collateral": {"collateral": ["real_estate"]},  # the need offers forest rights
    }
    made = {rule: products.create_product(bank, base | variant, admin.user).id
            for rule, variant in broken.items()}
    inactive = products.create_product(bank, base, admin.user)
    products.set_active(inactive, False, admin.user)
    made["inactive"] = inactive.id
    doc = loaders.need_doc(need)
    all_docs = {d.id: d for d in loaders.product_docs()}
    for rule, product_id in made.items():  # each breaks exactly its rule per the reference
        assert not is_eligible(doc, all_docs[product_id]), rule
    assert engine.rank_products(doc, limit=50) == []
    assert matches_for_need(need) == []
    assert engine.rank_needs(bank.id) == ([], 0)
    good = products.create_product(bank, base | {"collateral": ["credit"]}, admin.user)
    assert [m.product_id for m in engine.rank_products(doc, limit=50)] == [good.id]
    assert [r["product_id"] for r in matches_for_need(need)] == [good.id]
    leads, total = engine.rank_needs(bank.id)
    assert total == 1 and [(m.need_id, m.product_id) for m in leads] == [(need.id, good.id)]


# --- bank → needs (the inbox) ---------------------------------------------------------------


def test_inbox_is_the_brute_force_eligible_open_needs_with_best_product_scores(city):
    now = utcnow()
    docs = loaders.product_docs()
    stats = TextStats(doc.tokens for doc in docs)
    all_needs = list(loaders.need_docs())
    bank_ids = sorted({d.bank_id for d in docs})
    nonempty = 0
    for bank_id in bank_ids:
        expected = brute_force_inbox(bank_id, docs, all_needs, stats, now)
        got, total = city.rank_needs(bank_id, limit=10_000, now=now)
        assert got == expected, bank_id  # needs, best products, scores, reasons, order
        assert total == len(expected)
        nonempty += bool(expected)
        capped = brute_force_inbox(bank_id, docs, all_needs, stats, now, max_claims=2)
        assert city.rank_needs(bank_id, max_claims=2, limit=10_000, now=now) == (capped,
                                                                                  len(capped))
    assert nonempty >= 3


def test_inbox_paging_and_filters(app, city):
    now = utcnow()
    docs = loaders.product_docs()
    stats = TextStats(doc.tokens for doc in docs)
    all_needs = {n.id: n for n in loaders.need_docs()}
    bank_id = max(sorted({d.bank_id for d in docs}), key=lambda b: len(
        brute_force_inbox(b, docs, all_needs.values(), stats, now)))
    full, total = city.rank_needs(bank_id, limit=10_000, now=now)
    assert total == len(full) >= 10
    # Pages are slices of the full ranking, each with the full total.
    pages = []
    for offset in range(0, total, 7):
        page, page_total = city.rank_needs(bank_id, limit=7, offset=offset, now=now)
        assert page_total == total and len(page) == min(7, total - offset)
        pages += page
    assert pages == full
    assert city.rank_needs(bank_id, limit=5, offset=total + 3, now=now) == ([], total)
    # Filters keep the order and scores and narrow the total.
    needs_in = [all_needs[m.need_id] for m in full]
    category = needs_in[0].category
    region = needs_in[0].region
    amounts = sorted(n.amount_wan for n in needs_in)
    low, high = amounts[len(amounts) // 4], amounts[3 * len(amounts) // 4]
    cases = [
        ({"category": category.split(".")[0]},
         lambda n: category_covers(category.split(".")[0], n.category)),
        ({"category": category}, lambda n: category_covers(category, n.category)),
        ({"region": region[:4] + "00"}, lambda n: region_covers(region[:4] + "00", n.region)),
        ({"region": region}, lambda n: region_covers(region, n.region)),
        ({"min_amount": low}, lambda n: n.amount_wan >= low),
        ({"max_amount": high}, lambda n: n.amount_wan <= high),
        ({"min_amount": low, "max_amount": high}, lambda n: low <= n.amount_wan <= high),
        ({"statuses": ("open",)}, lambda n: n.status == "open"),
        ({"max_claims": 1}, lambda n: n.claims_count < 1),
        ({"max_claims": 3, "statuses": ("claimed",)},
         lambda n: n.claims_count < 3 and n.status == "claimed"),
        ({"category": category, "region": region, "min_amount": Decimal("0.01")},
         lambda n: category_covers(category, n.category) and region_covers(region, n.region)),
    ]
    for kwargs, keep in cases:
        expected = [m for m in full if keep(all_needs[m.need_id])]
        got, got_total = city.rank_needs(bank_id, limit=10_000, now=now, **kwargs)
        assert got == expected, kwargs
        assert got_total == len(expected)
        first, first_total = city.rank_needs(bank_id, limit=3, offset=1, now=now, **kwargs)
        assert first == expected[1:4] and first_total == len(expected)
    assert city.rank_needs(bank_id, statuses=(), now=now) == ([], 0)
    assert city.rank_needs(10_000_000, now=now) == ([], 0)  # no such bank: no products
    # The service asks for the needs the bank may still grab (fewer grabs than the cap).
    cap = app.config["CLAIM_CAP"]
    capped, capped_total = city.rank_needs(bank_id, max_claims=cap, limit=5)
    assert capped_total == len([m for m in full if all_needs[m.need_id].claims_count < cap])
    rows, rows_total = leads_for_bank(bank_id, limit=5)
    assert rows_total == capped_total and [r["need_id"] for r in rows] == [
        m.need_id for m in capped]
    assert all(row["reasons"] and row["product_name"] for row in rows)


# --- writes, the outbox, rebuilds -------------------------------------------------------------


def test_upserts_and_deletes_are_visible_immediately(app, engine, make):
    bank = make.bank()
    admin = make.bank_user(bank, role="bank_admin")
    product = products.create_product(bank, PRODUCT, admin.user)
    _, owner = make.enterprise()
    need = needs.create_need(owner.user, NEED)
    need_doc = loaders.need_doc(need)
    product_doc = loaders.product_docs([product.id])[0]
    assert engine.product_doc(product.id) == product_doc
    assert engine.need_doc(need.id) == next(iter(loaders.need_docs([need.id])))
    assert [m.product_id for m in engine.rank_products(need_doc)] == [product.id]

    narrow = replace(product_doc, max_amount_wan=Decimal("100.00"), version="narrow")
    assert engine.upsert_products([narrow]) == 1
    assert engine.product_doc(product.id) == narrow
    assert engine.rank_products(need_doc) == [] and engine.rank_needs(bank.id) == ([], 0)
    assert engine.versions("products") == {product.id: "narrow"}
    engine.upsert_products([product_doc])
    assert [m.product_id for m in engine.rank_products(need_doc)] == [product.id]
    twin = replace(product_doc, id=product.id + 1000, name="福林贷二号")
    engine.upsert_products([twin])
    assert [m.product_id for m in engine.rank_products(need_doc)] == [product.id, twin.id]
    leads, total = engine.rank_needs(bank.id)
    assert total == 1 and leads[0].product_id == product.id  # the better id wins a tie
    engine.delete_product(product.id)
    assert engine.product_doc(product.id) is None
    assert [m.product_id for m in engine.rank_products(need_doc)] == [twin.id]
    engine.delete_product(twin.id)
    engine.delete_product(twin.id)  # deleting what is gone is fine (the outbox retries)
    assert engine.rank_products(need_doc) == [] and engine.versions("products") == {}
    engine.upsert_products([product_doc])

    stored = engine.need_doc(need.id)
    engine.delete_need(need.id)
    engine.delete_need(need.id)
    assert engine.need_doc(need.id) is None and engine.rank_needs(bank.id) == ([], 0)
    assert engine.upsert_needs([stored]) == 1
    assert [m.need_id for m in engine.rank_needs(bank.id)[0]] == [need.id]
    engine.upsert_needs([replace(stored, status="withdrawn")])
    assert engine.rank_needs(bank.id) == ([], 0)
    assert engine.need_doc(need.id).status == "withdrawn"
    engine.upsert_needs([replace(stored, amount_wan=Decimal("199.99"))])
    leads, total = engine.rank_needs(bank.id, min_amount=Decimal("199.99"))
    assert total == 1 and engine.need_doc(need.id).amount_wan == Decimal("199.99")
    assert engine.rank_needs(bank.id, min_amount=Decimal("200.00")) == ([], 0)


def test_changes_reach_the_index_through_the_outbox(app, engine, make):
    bank = make.bank()
    admin = make.bank_user(bank, role="bank_admin")
    _, owner = make.enterprise()
    need = needs.create_need(owner.user, NEED)
    assert matches_for_need(need) == []
    assert engine.need_doc(need.id) is not None
    product = products.create_product(bank, PRODUCT, admin.user)
    assert [r["product_id"] for r in matches_for_need(need)] == [product.id]
    leads, total = leads_for_bank(bank.id)
    assert total == 1 and leads[0]["need_id"] == need.id and leads[0]["claimable"]
    products.update_product(product, {"max_amount_wan": "100.00"}, admin.user)
    assert matches_for_need(need) == []
    products.update_product(product, {"max_amount_wan": "200.00"}, admin.user)
    products.set_active(product, False, admin.user)
    assert matches_for_need(need) == [] and leads_for_bank(bank.id)[1] == 0
    products.set_active(product, True, admin.user)
    assert leads_for_bank(bank.id)[1] == 1
    needs.withdraw_need(need, "不再需要", owner.user)
    assert leads_for_bank(bank.id)[1] == 0
    assert engine.need_doc(need.id).status == "withdrawn"
    assert all(not ids for kind in check().values() for ids in kind.values())


def test_rebuild_swaps_in_a_new_index_and_check_finds_drift(app, engine, make):
    bank = make.bank()
    admin = make.bank_user(bank, role="bank_admin")
    product = products.create_product(bank, PRODUCT, admin.user)
    _, owner = make.enterprise()
    need = needs.create_need(owner.user, NEED)
    assert all(not ids for kind in check().values() for ids in kind.values())
    first = location(engine)
    product_doc = engine.product_doc(product.id)
    need_doc = engine.need_doc(need.id)
    engine.delete_product(product.id)
    engine.upsert_needs([replace(need_doc, version="2000-01-01T00:00:00+00:00")])
    engine.upsert_products([replace(product_doc, id=product.id + 1000)])
    engine.upsert_needs([replace(need_doc, id=need.id + 1000)])
    assert check() == {
        "products": {"missing": [product.id], "stale": [], "orphan": [product.id + 1000]},
        "needs": {"missing": [], "stale": [need.id], "orphan": [need.id + 1000]},
    }
    counted = []
    result = reindex(progress=counted.append)
    assert result["products"] == 1 and result["needs"] == 1 and sum(counted) == 1
    assert location(engine) != first and gone(engine, first)
    assert all(not ids for kind in check().values() for ids in kind.values())
    assert engine.product_doc(product.id + 1000) is None
    assert [r["product_id"] for r in matches_for_need(need)] == [product.id]
    assert [m.need_id for m in engine.rank_needs(bank.id)[0]] == [need.id]
    # Writes after the swap land in the new index.
    products.set_active(product, False, admin.user)
    assert matches_for_need(need) == [] and not any(check()["products"].values())


def test_keyword_search_over_needs(app, engine, make):
    _, owner = make.enterprise()
    need = needs.create_need(owner.user, NEED)  # 林下经济基地扩建: 香榧 … 林权抵押
    assert need.id in engine.search_needs("香榧")
    assert need.id in engine.search_needs("林权 抵押")
    assert engine.search_needs("光伏电站") == []
    assert engine.search_needs("的") == []  # stop words only: nothing to look for
