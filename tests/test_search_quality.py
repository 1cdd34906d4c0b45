"""Ranking quality on a labelled set written from the domain facts (tests/data/relevance.json).

Grades are per product template (3 ideal, 2 good, 1 eligible but weak, unlisted 0). Each labelled
need is ranked against the seeded 湖州 demo products; NDCG@5 over the set must be at least 0.9 and
no ineligible product may appear.
"""

import json
import math
from pathlib import Path

import pytest

from matchmaker.demo.data import PRODUCT_TEMPLATES
from matchmaker.demo.seed import seed
from search import loaders
from search.documents import need_doc_from_fields
from search.features import is_eligible
from search.service import get_engine, reindex

DATA = json.loads((Path(__file__).parent / "data" / "relevance.json").read_text("utf-8"))
TEMPLATE_BY_NAME = {t.name: t.key for t in PRODUCT_TEMPLATES}
K = 5


def dcg(grades: list[int]) -> float:
    return sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(grades))


def labelled_doc(case: dict):
    need, enterprise = case["need"], case["enterprise"]
    return need_doc_from_fields(
        need_id=None, status="open", enterprise_id=None, title=need["title"],
        description=need["description"], amount_wan=need["amount_wan"],
        term_months=need["term_months"], category=need["green_category"],
        region=need["region_code"], size=enterprise["size"], env_credit=enterprise["env_credit"],
        collateral=need["collateral"], rate_cap=need.get("rate_cap"))


@pytest.mark.sqlite_only
def test_ndcg_at_5_and_no_ineligible_results(app):
    seed(scale="city", echo=lambda *a, **k: None)
    reindex()
    engine = get_engine()
    products = {doc.id: doc for doc in loaders.product_docs()}
    assert len(DATA["needs"]) >= 40
    scores = {}
    for case in DATA["needs"]:
        need = labelled_doc(case)
        grades = case["judgments"]
        ranked = engine.rank_products(need, limit=len(products))
        assert all(is_eligible(need, products[m.product_id]) for m in ranked), case["key"]
        got = [grades.get(TEMPLATE_BY_NAME.get(products[m.product_id].name), 0) for m in ranked]
        eligible = [grades.get(TEMPLATE_BY_NAME.get(p.name), 0) for p in products.values()
                    if is_eligible(need, p)]
        ideal = dcg(sorted(eligible, reverse=True)[:K])
        if ideal == 0:
            continue  # no graded product is eligible among the seeded ones
        scores[case["key"]] = dcg(got[:K]) / ideal
    assert len(scores) >= 40, f"only {len(scores)} labelled needs have an eligible graded product"
    mean = sum(scores.values()) / len(scores)
    worst = sorted(scores.items(), key=lambda kv: kv[1])[:5]
    print(f"NDCG@{K} = {mean:.3f} over {len(scores)} needs; weakest: {worst}")
    assert mean >= 0.9, f"NDCG@{K} = {mean:.3f}; weakest: {worst}"
