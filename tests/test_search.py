"""Search through the app: the outbox catching up after an outage, and the matching API.

The engine-level cases (results equal to the reference ranking, ineligible products, the inbox,
updates through the outbox, rebuild and check) are in test_search_conformance.py, which runs them
on every engine."""

from decimal import Decimal

import pytest

from matchmaker.needs import services as needs
from matchmaker.products import services as products
from search.service import check, get_engine, leads_for_bank
from tests.factories import NEED, PRODUCT, api_token


def bank_with_a_product_and_an_enterprise(make):
    """A bank with one product (PRODUCT) and an enterprise account to post needs with."""
    bank = make.bank()
    product = products.create_product(bank, PRODUCT, make.bank_user(bank, role="bank_admin").user)
    _, owner = make.enterprise()
    return bank, product, owner



def test_posting_succeeds_while_the_engine_is_down_and_the_outbox_catches_up(app, make,
                                                                           monkeypatch):
    from matchmaker.audit.services import drain_outbox
    from search.embedded import EmbeddedEngine

    bank, _product, owner = bank_with_a_product_and_an_enterprise(make)

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


@pytest.mark.sqlite_only
def test_inbox_scores_follow_a_rewritten_document(app, make):
    """Decoded documents are cached between queries; a rewrite must never leave a stale one."""
    from dataclasses import replace
    from datetime import timedelta

    bank, _product, owner = bank_with_a_product_and_an_enterprise(make)
    need = needs.create_need(owner.user, NEED)
    engine = get_engine()
    fresh = engine.rank_needs(bank.id)[0][0].score
    doc = engine.need_doc(need.id)
    engine.upsert_needs([replace(doc, published_at=doc.published_at - timedelta(days=30))])
    stale = engine.rank_needs(bank.id)[0][0].score
    assert stale < fresh


@pytest.mark.sqlite_only
def test_a_kept_inbox_sees_every_write_to_the_index_whoever_makes_it(app, make):
    """The embedded engine keeps each inbox's candidates until the index's generation counters
    move; a write through another engine instance (another gunicorn or RQ worker) moves them."""
    from dataclasses import replace

    from search.embedded import EmbeddedEngine

    bank, product, owner = bank_with_a_product_and_an_enterprise(make)
    need = needs.create_need(owner.user, NEED)
    engine = get_engine()
    other = EmbeddedEngine(engine.directory)  # the same files, as another process opens them
    try:
        assert [m.need_id for m in engine.rank_needs(bank.id)[0]] == [need.id]
        doc = other.need_doc(need.id)
        other.upsert_needs([replace(doc, status="withdrawn")])
        assert engine.rank_needs(bank.id) == ([], 0)
        other.upsert_needs([doc])
        assert [m.need_id for m in engine.rank_needs(bank.id)[0]] == [need.id]
        product_doc = other.product_doc(product.id)
        other.upsert_products([replace(product_doc, max_amount_wan=Decimal("100.00"))])
        assert engine.rank_needs(bank.id) == ([], 0)
        other.upsert_products([product_doc])
        assert engine.rank_needs(bank.id)[1] == 1
        # An index written before the needs counter existed gets it on its first write.
        engine.conn().execute("DELETE FROM meta WHERE key = 'needs_generation'")
        assert engine.rank_needs(bank.id)[1] == 1
        other.delete_need(need.id)
        assert engine.rank_needs(bank.id) == ([], 0)
    finally:
        other.close()


@pytest.mark.sqlite_only
def test_the_inbox_cache_drops_lists_of_older_generations_at_once(app, make):
    """Only lists of the current index generation are kept: a write makes every kept list dead,
    and the next query that builds one drops them (memory stays that of the live inboxes)."""
    bank, _product, owner = bank_with_a_product_and_an_enterprise(make)
    first = needs.create_need(owner.user, NEED)
    engine = get_engine()
    engine.rank_needs(bank.id)
    engine.rank_needs(bank.id, category=first.green_category_code)
    assert len(engine._inbox) == 2
    second = needs.create_need(owner.user, NEED)
    assert {m.need_id for m in engine.rank_needs(bank.id)[0]} == {first.id, second.id}
    assert len(engine._inbox) == 1
    assert engine._inbox_size == 2
    engine.rank_needs(bank.id)  # kept: no rebuild
    assert len(engine._inbox) == 1


@pytest.mark.sqlite_only
def test_a_ranked_inbox_page_is_kept_for_its_step_of_the_clock(app, make, monkeypatch):
    """A page is ranked once per INBOX_TIME_STEP seconds (freshness moves less than the score's
    rounding in that time); the next step ranks again, and a write is seen at once."""
    from datetime import UTC, datetime, timedelta

    import search.embedded as embedded

    bank, _product, owner = bank_with_a_product_and_an_enterprise(make)
    first = needs.create_need(owner.user, NEED)
    engine = get_engine()
    step_start = datetime.fromtimestamp(int(datetime.now(UTC).timestamp()) // 10 * 10, UTC)
    clock = [step_start + timedelta(seconds=1)]
    monkeypatch.setattr(embedded, "utcnow", lambda: clock[0])
    ranked = []
    rank_page = engine._rank_page
    monkeypatch.setattr(engine, "_rank_page", lambda *a: ranked.append(a[4]) or rank_page(*a))
    page, total = engine.rank_needs(bank.id)
    clock[0] += timedelta(seconds=8)  # the same step of 10 s
    assert engine.rank_needs(bank.id) == (page, total) and len(ranked) == 1
    assert ranked[0] == step_start
    engine.rank_needs(bank.id, offset=20)  # another page of the same step: ranked
    assert len(ranked) == 2
    clock[0] += timedelta(days=3)  # a later step: freshness has halved
    later, _ = engine.rank_needs(bank.id)
    assert len(ranked) == 3 and later[0].score < page[0].score
    second = needs.create_need(owner.user, NEED)  # a write: seen within the same step
    assert {m.need_id for m in engine.rank_needs(bank.id)[0]} == {first.id, second.id}
    exact = clock[0] + timedelta(seconds=1)  # a caller's own time is used as given
    engine.rank_needs(bank.id, now=exact)
    assert ranked[-1] == exact


@pytest.mark.sqlite_only
def test_the_worker_loads_what_its_work_horses_share_before_it_forks(app, make):
    from types import SimpleNamespace

    from workers.worker import AppWorker

    bank = make.bank()
    product = products.create_product(bank, PRODUCT, make.bank_user(bank, role="bank_admin").user)
    engine = get_engine()
    engine.close()
    engine._stats.clear()
    AppWorker.warm(SimpleNamespace(flask_app=app))
    # The product documents are loaded and the SQLite connection closed (a fork opens its own).
    assert next(docs for _, docs in engine._stats.values())[product.id].name == PRODUCT["name"]
    assert getattr(engine._local, "conn", None) is None
