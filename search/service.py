"""The engine the app uses, chosen by configuration, and the operations the app calls."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask, current_app

from matchmaker.claims.states import GRABBABLE_NEED
from matchmaker.errors import ServiceError
from matchmaker.extensions import db
from matchmaker.needs.models import Need
from matchmaker.products.models import Product
from search import loaders

log = logging.getLogger(__name__)


class SearchUnavailable(ServiceError):
    """The search cluster cannot answer. Pages show a notice, the API a 503; what was posted is
    saved, and the outbox brings the index up to date once the cluster is back."""

    status = 503

    def __init__(self):
        super().__init__("搜索服务暂时不可用，请稍后再试；已保存的需求和产品不受影响，"
                         "恢复后会自动更新")


@contextlib.contextmanager
def answering():
    """Turn the cluster's connection and server errors into SearchUnavailable."""
    from elastic_transport import TransportError
    from elasticsearch import ApiError

    try:
        yield
    except (TransportError, ApiError) as exc:
        log.error("search unavailable: %s", exc)
        raise SearchUnavailable() from exc


def get_engine(app: Flask | None = None):
    app = app or current_app._get_current_object()
    engine = app.extensions.get("search_engine")
    if engine is None:
        url = app.config.get("ELASTICSEARCH_URL")
        if url:
            from search.elastic import ElasticsearchEngine

            engine = ElasticsearchEngine(url, prefix=app.config.get("ELASTICSEARCH_INDEX_PREFIX",
                                                                    "greenmatch"))
        else:
            from search.embedded import EmbeddedEngine

            engine = EmbeddedEngine(os.path.join(app.instance_path, "search"))
        app.extensions["search_engine"] = engine
    return engine


def sync_products(product_ids) -> None:
    engine = get_engine()
    docs = loaders.product_docs(product_ids)
    found = {doc.id for doc in docs}
    if docs:
        engine.upsert_products(docs)
    for missing in set(product_ids) - found:
        engine.delete_product(missing)


def sync_needs(need_ids) -> None:
    engine = get_engine()
    docs = list(loaders.need_docs(need_ids))
    found = {doc.id for doc in docs}
    if docs:
        engine.upsert_needs(docs)
    for missing in set(need_ids) - found:  # gone, or back to draft
        engine.delete_need(missing)


def reindex(progress: Callable[[int], None] | None = None) -> dict:
    """Build a fresh index from the database and swap it in."""
    return get_engine().rebuild(loaders.product_docs(), loaders.need_docs(), progress=progress)


def check() -> dict[str, dict[str, list[int]]]:
    """Compare the index with the database: missing, stale and orphan documents per kind."""
    engine = get_engine()
    truth = {
        "products": {pid: updated.isoformat() for pid, updated in db.session.execute(
            sa.select(Product.id, Product.updated_at))},
        "needs": {nid: updated.isoformat() for nid, updated in db.session.execute(
            sa.select(Need.id, Need.updated_at).where(Need.status != "draft"))},
    }
    report = {}
    for kind, expected in truth.items():
        indexed = engine.versions(kind)
        report[kind] = {
            "missing": sorted(set(expected) - set(indexed)),
            "stale": sorted(i for i in set(expected) & set(indexed) if expected[i] != indexed[i]),
            "orphan": sorted(set(indexed) - set(expected)),
        }
    return report


def matches_for_need(need: Need, limit: int = 10) -> list[dict]:
    """Ranked eligible products for a need, with their reasons (the enterprise's view)."""
    with answering():
        return _matches_for_need(need, limit)


def _matches_for_need(need: Need, limit: int) -> list[dict]:
    engine = get_engine()
    rows = []
    for match in engine.rank_products(loaders.need_doc(need), limit=limit):
        product = engine.product_doc(match.product_id)
        rows.append({
            "product_id": match.product_id, "product_name": product.name if product else "",
            "bank_id": match.bank_id, "bank_name": product.bank_name if product else "",
            "score": match.score, "reasons": [r.to_json() for r in match.reasons],
        })
    return rows


def leads_for_bank(bank_id: int, *, category: str | None = None, region: str | None = None,
                   min_amount=None, max_amount=None, limit: int = 20,
                   offset: int = 0) -> tuple[list[dict], int]:
    """Ranked open needs for a bank over all its active products (the manager's inbox)."""
    with answering():
        return _leads_for_bank(bank_id, category=category, region=region,
                               min_amount=min_amount, max_amount=max_amount, limit=limit,
                               offset=offset)


def _leads_for_bank(bank_id: int, *, category, region, min_amount, max_amount, limit: int,
                    offset: int) -> tuple[list[dict], int]:
    engine = get_engine()
    cap = current_app.config["CLAIM_CAP"]
    matches, total = engine.rank_needs(bank_id, category=category, region=region,
                                       min_amount=min_amount, max_amount=max_amount,
                                       max_claims=cap, limit=limit, offset=offset)
    rows = []
    needs = engine.need_docs(match.need_id for match in matches)
    products: dict = {}
    for match in matches:
        need = needs.get(match.need_id)
        if need is None:  # removed from the index since it was ranked
            continue
        if match.product_id not in products:
            products[match.product_id] = engine.product_doc(match.product_id)
        product = products[match.product_id]
        rows.append({
            "need_id": match.need_id, "title": need.title, "amount_wan": need.amount_wan,
            "term_months": need.term_months, "green_category": need.category,
            "region_code": need.region, "status": need.status,
            "published_at": need.published_at, "score": match.score,
            "reasons": [r.to_json() for r in match.reasons],
            "claims_count": need.claims_count,
            "claimable": (need.status in GRABBABLE_NEED and need.claims_count < cap
                          and bank_id not in need.claimed_bank_ids),
            "product_id": match.product_id, "product_name": product.name if product else "",
        })
    return rows, total
