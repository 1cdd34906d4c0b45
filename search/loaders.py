"""Build search documents from the database in bulk (reindex) or one by one (outbox sync)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator
from functools import lru_cache

import sqlalchemy as sa

from matchmaker.banks.models import Bank, BankBranch
from matchmaker.claims.models import Claim, Rating
from matchmaker.enterprises.models import Enterprise
from matchmaker.extensions import db
from matchmaker.needs.models import Need
from matchmaker.products.models import Product, product_categories, product_regions
from search.documents import NeedDoc, ProductDoc, need_text, product_text
from search.tokenizer import tokenize

DEFAULT_SERVICE = 0.5


@lru_cache(maxsize=20_000)
def _tokens(text: str) -> tuple[str, ...]:
    # Many needs share wording (templates, copied descriptions): segment each text once.
    return tuple(tokenize(text))


def stored_tokens(stored: str | None, text: str) -> tuple[str, ...]:
    """The tokens saved with the row; rows written before tokens were stored are segmented now."""
    return tuple(stored.split()) if stored is not None else _tokens(text)


def bank_service_scores(bank_ids: Iterable[int] | None = None) -> dict[int, float]:
    """0–1 per bank: half its enterprises' average rating, half how fast it grabs.

    Grab speed is 1 / (1 + median hours from publication to the bank's grab / 24): a bank that
    grabs within the hour scores near 1, one that takes a day 0.5. Banks with no history get 0.5.
    """
    ids = None if bank_ids is None else list(bank_ids)
    ratings = sa.select(Rating.bank_id, sa.func.avg(Rating.stars)).group_by(Rating.bank_id)
    grabs = sa.select(Claim.bank_id, Claim.claimed_at, Need.published_at).join(
        Need, Need.id == Claim.need_id).where(Need.published_at.is_not(None),
                                              Claim.assigned_by_office.is_(False))
    if ids is not None:
        ratings = ratings.where(Rating.bank_id.in_(ids))
        grabs = grabs.where(Claim.bank_id.in_(ids))
    average = {bank: float(stars) for bank, stars in db.session.execute(ratings)}
    hours: dict[int, list[float]] = defaultdict(list)
    for bank, claimed_at, published_at in db.session.execute(grabs):
        hours[bank].append(max((claimed_at - published_at).total_seconds() / 3600, 0.0))
    scores = {}
    for bank in set(average) | set(hours):
        rating = (average[bank] - 1) / 4 if bank in average else DEFAULT_SERVICE
        speed = (1 / (1 + statistics.median(hours[bank]) / 24)) if hours.get(bank) else \
            DEFAULT_SERVICE
        scores[bank] = round(0.5 * rating + 0.5 * speed, 4)
    return scores


def branch_regions(bank_ids: Iterable[int] | None = None) -> dict[int, tuple[str, ...]]:
    query = sa.select(BankBranch.bank_id, BankBranch.region_code)
    if bank_ids is not None:
        query = query.where(BankBranch.bank_id.in_(list(bank_ids)))
    found: dict[int, set[str]] = defaultdict(set)
    for bank, region in db.session.execute(query):
        found[bank].add(region)
    return {bank: tuple(sorted(regions)) for bank, regions in found.items()}


def product_docs(product_ids: Iterable[int] | None = None,
                 service: bool = True) -> list[ProductDoc]:
    """Documents of products; `service=False` skips the banks' service records (all default)."""
    query = sa.select(Product, Bank.name, Bank.active).join(Bank, Bank.id == Product.bank_id)
    ids = None if product_ids is None else list(product_ids)
    if ids is not None:
        query = query.where(Product.id.in_(ids))
    rows = db.session.execute(query.order_by(Product.id)).all()
    if not rows:
        return []
    selected = [product.id for product, _, _ in rows]
    categories: dict[int, list[str]] = defaultdict(list)
    regions: dict[int, list[str]] = defaultdict(list)
    for chunk in _chunks(selected, 5000):
        for pid, code in db.session.execute(sa.select(product_categories.c.product_id,
                                                      product_categories.c.category_code)
                                            .where(product_categories.c.product_id.in_(chunk))):
            categories[pid].append(code)
        for pid, code in db.session.execute(sa.select(product_regions.c.product_id,
                                                      product_regions.c.region_code)
                                            .where(product_regions.c.product_id.in_(chunk))):
            regions[pid].append(code)
    bank_ids = {product.bank_id for product, _, _ in rows}
    service = bank_service_scores(bank_ids) if service else {}
    branches = branch_regions(bank_ids)
    return [
        ProductDoc(
            id=product.id, bank_id=product.bank_id, bank_name=bank_name, name=product.name,
            active=bool(product.active and bank_active),
            min_amount_wan=product.min_amount_wan, max_amount_wan=product.max_amount_wan,
            min_term_months=product.min_term_months, max_term_months=product.max_term_months,
            rate_min=product.rate_min, rate_max=product.rate_max,
            categories=tuple(sorted(categories[product.id])),
            regions=tuple(sorted(regions[product.id])),
            sizes=tuple(product.enterprise_sizes or ()),
            collateral=tuple(product.collateral or ()),
            min_env_credit=product.min_env_credit,
            tokens=stored_tokens(product.search_tokens,
                                 product_text(product.name, product.description)),
            branch_regions=branches.get(product.bank_id, ()),
            bank_service=service.get(product.bank_id, DEFAULT_SERVICE),
            version=product.updated_at.isoformat(),
        )
        for product, bank_name, bank_active in rows
    ]


def need_docs(need_ids: Iterable[int] | None = None, batch: int = 5000) -> Iterator[NeedDoc]:
    """Documents of every need that is not a draft (drafts are their owner's alone)."""
    base = (
        sa.select(Need.id, Need.status, Need.enterprise_id, Need.title, Need.description,
                  Need.amount_wan, Need.term_months, Need.green_category_code, Need.region_code,
                  Need.collateral, Need.rate_cap, Need.published_at, Need.updated_at,
                  Need.search_tokens,
                  Enterprise.size, Enterprise.env_credit)
        .join(Enterprise, Enterprise.id == Need.enterprise_id)
        .where(Need.status != "draft")
        .order_by(Need.id)
    )
    id_lists = [None] if need_ids is None else list(_chunks(list(need_ids), batch))
    for ids in id_lists:
        last = 0
        while True:
            query = base.where(Need.id > last).limit(batch)
            if ids is not None:
                query = query.where(Need.id.in_(ids))
            rows = db.session.execute(query).all()
            if not rows:
                break
            claims: dict[int, list[int]] = defaultdict(list)
            for need_id, bank_id in db.session.execute(
                sa.select(Claim.need_id, Claim.bank_id).where(
                    Claim.need_id.in_([r.id for r in rows]))):
                claims[need_id].append(bank_id)
            for r in rows:
                yield NeedDoc(
                    id=r.id, status=r.status, enterprise_id=r.enterprise_id, title=r.title,
                    amount_wan=r.amount_wan, term_months=r.term_months,
                    category=r.green_category_code, region=r.region_code, size=r.size,
                    env_credit=r.env_credit, collateral=tuple(r.collateral or ()),
                    rate_cap=r.rate_cap,
                    tokens=stored_tokens(r.search_tokens, need_text(r.title, r.description)),
                    published_at=r.published_at, claims_count=len(claims[r.id]),
                    claimed_bank_ids=tuple(sorted(claims[r.id])),
                    version=r.updated_at.isoformat(),
                )
            last = rows[-1].id
            if len(rows) < batch:
                break


def need_doc(need: Need) -> NeedDoc:
    """The document of one need as it stands in the session (drafts included: for matching)."""
    enterprise = need.enterprise
    return NeedDoc(
        id=need.id, status=need.status, enterprise_id=need.enterprise_id, title=need.title,
        amount_wan=need.amount_wan, term_months=need.term_months,
        category=need.green_category_code, region=need.region_code, size=enterprise.size,
        env_credit=enterprise.env_credit, collateral=tuple(need.collateral or ()),
        rate_cap=need.rate_cap,
        tokens=stored_tokens(need.search_tokens, need_text(need.title, need.description)),
        published_at=need.published_at, claims_count=len(need.claims),
        claimed_bank_ids=tuple(sorted(c.bank_id for c in need.claims)),
        version=need.updated_at.isoformat() if need.updated_at else "",
    )


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
