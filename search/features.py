"""Eligibility and scoring: one definition for both directions and every engine.

Eligibility (DESIGN section 5) is a hard filter; engines apply it as filters in their own query
language and `is_eligible` is the reference the tests hold them to. Scoring is a weighted sum of
features in [0, 1]; WEIGHTS is the one place to tune them, and every result carries its reasons
(each feature's contribution), which the pages and the API show.

Weights (they sum to 1 for need → products; freshness only varies in the inbox):
- text 0.26: BM25 of the need's words (title + description, jieba tokens) against the product's
  name and description, normalised to [0, 1) by s / (s + BM25_HALF);
- category 0.24: how close the product's covering category is: the need's own code 1.0, its
  parent 0.7, its top level 0.4;
- collateral 0.16: the need offers a collateral the product names 1.0; only via 信用 0.5;
- amount 0.10: where the amount sits in the product's range on a log scale, best in the middle;
- rate 0.10: share of the product's rate range under the need's acceptable cap (0.5 without a cap);
- locality 0.06: the bank has a branch in the need's county 1.0, in its prefecture 0.5;
- service 0.04: the bank's service record (grab speed and enterprise ratings), 0–1;
- freshness 0.04 (inbox): halves every 3 days since the need was published.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from matchmaker.database import utcnow
from matchmaker.reference.codes import category_ancestors, category_covers, region_covers
from search.documents import NeedDoc, ProductDoc

WEIGHTS = {
    "text": 0.26,
    "category": 0.24,
    "collateral": 0.16,
    "amount": 0.10,
    "rate": 0.10,
    "locality": 0.06,
    "service": 0.04,
    "freshness": 0.04,
}
LABELS = {
    "text": "需求描述与产品相关",
    "category": "绿色分类匹配",
    "collateral": "担保方式匹配",
    "amount": "金额处于产品额度区间",
    "rate": "利率符合可接受上限",
    "locality": "银行在当地有网点",
    "service": "银行服务记录",
    "freshness": "新发布的需求",
}
CATEGORY_CLOSENESS = {0: 1.0, 1: 0.7, 2: 0.4}
BM25_K1 = 1.2
BM25_B = 0.75
BM25_HALF = 8.0
FRESHNESS_HALF_LIFE_DAYS = 3.0


@dataclass(frozen=True)
class Reason:
    feature: str
    label: str
    contribution: float

    def to_json(self) -> dict:
        return {"feature": self.feature, "label": self.label, "contribution": self.contribution}


@dataclass(frozen=True)
class Match:
    """One ranked result: a product for a need, or a need for a bank (with its best product)."""

    need_id: int | None
    product_id: int
    bank_id: int
    score: float
    reasons: tuple[Reason, ...]


# --- eligibility ----------------------------------------------------------------------------


def is_eligible(need: NeedDoc, product: ProductDoc) -> bool:
    return (
        product.active
        and product.min_amount_wan <= need.amount_wan <= product.max_amount_wan
        and product.min_term_months <= need.term_months <= product.max_term_months
        and any(region_covers(code, need.region) for code in product.regions)
        and any(category_covers(code, need.category) for code in product.categories)
        and need.size in product.sizes
        and need.env_rank <= product.worst_env_rank
        and (product.accepts_credit or bool(set(need.collateral) & set(product.collateral)))
    )


# --- text relevance ---------------------------------------------------------------------------


class TextStats:
    """BM25 corpus statistics over the products' tokens (Lucene's IDF, always positive)."""

    def __init__(self, documents: Iterable[tuple[str, ...]]):
        self.doc_freq: Counter[str] = Counter()
        total = 0
        count = 0
        for tokens in documents:
            count += 1
            total += len(tokens)
            self.doc_freq.update(set(tokens))
        self.count = count
        self.avg_length = total / count if count else 1.0
        self._prepared: dict[tuple[str, ...], tuple[Counter[str], float]] = {}
        self._idf: dict[str, float] = {}

    def idf(self, term: str) -> float:
        value = self._idf.get(term)
        if value is None:
            n = self.doc_freq.get(term, 0)
            value = self._idf[term] = math.log(1 + (self.count - n + 0.5) / (n + 0.5))
        return value

    def _prepare(self, document: tuple[str, ...]) -> tuple[Counter[str], float]:
        # Products are scored against many needs: count their terms once.
        prepared = self._prepared.get(document)
        if prepared is None:
            norm = BM25_K1 * (1 - BM25_B + BM25_B * len(document) / self.avg_length)
            prepared = self._prepared[document] = (Counter(document), norm)
        return prepared

    def bm25(self, query: Iterable[str], document: tuple[str, ...]) -> float:
        if not document:
            return 0.0
        frequencies, norm = self._prepare(document)
        score = 0.0
        for term in set(query):
            tf = frequencies.get(term)
            if tf:
                score += self.idf(term) * tf * (BM25_K1 + 1) / (tf + norm)
        return score


# --- features -------------------------------------------------------------------------------


def category_closeness(need: NeedDoc, product: ProductDoc) -> float:
    chain = category_ancestors(need.category)  # the need's code, its parent, its top level
    for distance, code in enumerate(chain):
        if code in product.categories:
            return CATEGORY_CLOSENESS.get(distance, 0.4)
    # The product names a narrower code than a branch need: a partial fit.
    return 0.5 if any(category_covers(need.category, c) for c in product.categories) else 0.0


def amount_fit(need: NeedDoc, product: ProductDoc) -> float:
    low, high, amount = product.min_amount_wan, product.max_amount_wan, need.amount_wan
    if high <= low:
        return 1.0
    position = (math.log(float(amount)) - math.log(float(low))) / (
        math.log(float(high)) - math.log(float(low)))
    position = min(max(position, 0.0), 1.0)
    return 1.0 - 0.6 * abs(2 * position - 1)


def rate_fit(need: NeedDoc, product: ProductDoc) -> float:
    cap = need.rate_cap
    if cap is None:
        return 0.5
    if product.rate_min > cap:
        return 0.0
    if product.rate_max <= cap:
        return 1.0
    return float((cap - product.rate_min) / (product.rate_max - product.rate_min))


def collateral_fit(need: NeedDoc, product: ProductDoc) -> float:
    named = set(product.collateral) - {"credit"}
    if set(need.collateral) & named:
        return 1.0
    return 0.5 if product.accepts_credit else 0.0


def locality(need: NeedDoc, product: ProductDoc) -> float:
    if need.region in product.branch_regions:
        return 1.0
    prefecture = need.region[:4]
    if any(code[:4] == prefecture for code in product.branch_regions):
        return 0.5
    return 0.0


def freshness(need: NeedDoc, now: datetime | None = None) -> float:
    if need.published_at is None:
        return 0.0
    age_days = max(((now or utcnow()) - need.published_at).total_seconds() / 86400, 0.0)
    return 0.5 ** (age_days / FRESHNESS_HALF_LIFE_DAYS)


def features(need: NeedDoc, product: ProductDoc, stats: TextStats, *,
             with_freshness: bool = False, now: datetime | None = None) -> dict[str, float]:
    text = stats.bm25(need.tokens, product.tokens)
    values = {
        "text": text / (text + BM25_HALF),
        "category": category_closeness(need, product),
        "collateral": collateral_fit(need, product),
        "amount": amount_fit(need, product),
        "rate": rate_fit(need, product),
        "locality": locality(need, product),
        "service": min(max(product.bank_service, 0.0), 1.0),
    }
    if with_freshness:
        values["freshness"] = freshness(need, now)
    return values


def static_total(need: NeedDoc, product: ProductDoc, stats: TextStats) -> float:
    """The sum of every contribution but freshness, unrounded: it changes only when a document
    or the products' text statistics do, so the inbox keeps it per (need, product) pair."""
    values = features(need, product, stats)
    return sum(round(WEIGHTS[name] * value, 4) for name, value in values.items())


def freshness_contribution(need: NeedDoc, now: datetime | None = None) -> float:
    return round(WEIGHTS["freshness"] * freshness(need, now), 4)


# Freshness is at most 1, so its rounded contribution is at most this (and at least 0).
MAX_FRESHNESS_CONTRIBUTION = round(WEIGHTS["freshness"], 4)


def total(need: NeedDoc, product: ProductDoc, stats: TextStats, *,
          with_freshness: bool = False, now: datetime | None = None) -> float:
    """The score alone (no reasons): what ranking many candidates needs. With freshness it is
    `with_static(static_total(...), need, now)`, which the inbox computes from a kept sum."""
    static = static_total(need, product, stats)
    return with_static(static, need, now) if with_freshness else round(static, 4)


def with_static(static: float, need: NeedDoc, now: datetime | None = None) -> float:
    """The inbox score of a pair from its `static_total` (freshness added, then rounded)."""
    return round(static + freshness_contribution(need, now), 4)


def score(need: NeedDoc, product: ProductDoc, stats: TextStats, *, with_freshness: bool = False,
          now: datetime | None = None) -> Match:
    return score_from(features(need, product, stats), need, product,
                      with_freshness=with_freshness, now=now)


def score_from(values: dict[str, float], need: NeedDoc, product: ProductDoc, *,
               with_freshness: bool = False, now: datetime | None = None) -> Match:
    """`score` from the pair's `features` without freshness, computed earlier (the inbox keeps
    them for the pairs it has shown); freshness, which depends on the time, is added here."""
    if with_freshness:
        values = {**values, "freshness": freshness(need, now)}
    reasons = sorted(
        (Reason(name, LABELS[name], round(WEIGHTS[name] * value, 4))
         for name, value in values.items()),
        key=lambda r: -r.contribution,
    )
    total = round(sum(r.contribution for r in reasons), 4)
    return Match(need_id=need.id, product_id=product.id, bank_id=product.bank_id, score=total,
                 reasons=tuple(r for r in reasons if r.contribution > 0))


def rank_products(need: NeedDoc, products: Iterable[ProductDoc], stats: TextStats,
                  limit: int = 10) -> list[Match]:
    """Score eligible products for a need, best first (ties: lower id first, for stability)."""
    matches = [score(need, p, stats) for p in products if is_eligible(need, p)]
    matches.sort(key=lambda m: (-m.score, m.product_id))
    return matches[:limit]


def to_decimal_score(value: float) -> Decimal:
    return Decimal(str(round(value, 4)))
